//! The writer pool: every writer of the process is served by a few threads, not one each.
//!
//! A writer is a [`Job`]: its channel's receiving end and its sink stack. Producers schedule it
//! through the channel's waker when it goes from idle (or lingering) to busy, exactly once per
//! such change, so a job is never in the queue twice and never run by two threads at once. A
//! worker takes the job, writes up to [`BATCHES_PER_TURN`] batches (each one `write(2)`), and
//! then: puts it back at the end of the `ready` queue if more is due (fairness between busy
//! writers), hands its deadline to the timer thread if a batch is lingering for more lines, or
//! forgets it if it is idle. A writer that has just gone idle asks for one timer more, to close its live
//! file once it has been idle for `close_idle_after`; after that it costs no thread and no
//! timer: only its memory (the channel gives back its buffers) and its lock file.
//!
//! Two queues: writers with lines go in `ready`, quiet writers woken to close their file (an
//! `fdatasync` each, by their timer or all at once when descriptors run out) in `quiet`. A
//! worker takes from `quiet` when `ready` is empty and otherwise one job in [`QUIET_SHARE`],
//! so the next line of a busy or new writer waits for at most a few syncs, not for thousands.
//!
//! The pool has [`min_threads`] workers (the number of cores, at most 4) and grows, up to
//! [`MAX_THREADS`], when work has waited [`GROW_AFTER`] while every worker was busy and none
//! took a job: a worker stuck in a system call on a hung disk, or sleeping between retries,
//! never holds up the other files, and a burst of short jobs (ten thousand idle files synced
//! and closed) does not grow it. Extra
//! workers leave after [`IDLE_EXIT`] without work. One timer thread sleeps until the earliest
//! deadline; with nothing lingering it sleeps without a timeout.
//!
//! A panic in a writer's code is caught (`catch_unwind`): that writer ends and reports it
//! ([`Error::TaskFailed`](crate::Error::TaskFailed) at shutdown), the worker goes on.
//!
//! One job in about 500 lines: the two queues, the workers, their growth and the timer share
//! one lock's state and one set of rules (above), so they stay together; its tests are in
//! `tests/pool.rs` and `tests/quiet_closes.rs`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use bunctl_log_channel::DeadlineHandle;

/// Batches a job writes in one turn before it goes to the back of the queue.
pub(crate) const BATCHES_PER_TURN: usize = 8;
/// The most workers the pool grows to.
pub(crate) const MAX_THREADS: usize = 64;
/// How long a worker beyond the minimum waits for work before it leaves.
const IDLE_EXIT: Duration = Duration::from_secs(10);
/// How long jobs wait with every worker busy and none taking a job before the pool grows:
/// workers stuck in a system call (a hung disk) call for more, workers merely busy (a burst of
/// syncs) do not.
const GROW_AFTER: Duration = Duration::from_millis(20);
/// With both lanes waiting, one job in this many is a quiet writer's close.
const QUIET_SHARE: usize = 4;
/// Stack of a pool thread: it runs the sink stack (gzip runs on the compressor's thread).
const STACK_SIZE: usize = 256 << 10;

/// Bumped each time the process ran out of descriptors opening a file: a writer that sees it
/// change closes its idle file at once, not after `close_idle_after`.
static DESCRIPTOR_PRESSURE: AtomicU64 = AtomicU64::new(0);

/// How many times the process ran out of descriptors so far (see
/// [`Pool::close_idle_files_now`]).
pub(crate) fn descriptor_pressure() -> u64 {
    DESCRIPTOR_PRESSURE.load(Ordering::Relaxed)
}

/// The workers the pool keeps: the number of cores, at least 2, at most 4.
pub(crate) fn min_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4))
}

/// What a job's turn came to.
pub(crate) enum Turn {
    /// More is due: queue it again.
    Again,
    /// A batch is lingering for more lines until then.
    Linger(Instant),
    /// Nothing buffered: the next write wakes it.
    Idle,
    /// Nothing buffered: the next write wakes it, or else the timer at this instant (to close
    /// the writer's file once it has been idle long enough).
    IdleUntil(Instant),
    /// Closed and drained: the job is over.
    Done,
}

/// A writer's work, as the pool runs it.
pub(crate) trait Work: Send {
    /// Writes what is due, at most [`BATCHES_PER_TURN`] batches.
    fn turn(&mut self) -> Turn;
    /// The job panicked: report it to whoever waits for the writer to end.
    fn panicked(&mut self);
}

/// One writer in the pool.
pub(crate) struct Job {
    /// `None` once done (the sink is dropped then: its files and lock are released).
    work: Mutex<Option<Box<dyn Work>>>,
    deadline: DeadlineHandle,
}

impl Job {
    pub(crate) fn new(work: Box<dyn Work>, deadline: DeadlineHandle) -> Arc<Self> {
        Arc::new(Self {
            work: Mutex::new(Some(work)),
            deadline,
        })
    }
}

struct Queue {
    /// Writers with lines to write (or a flush, rotation or end to see to).
    ready: VecDeque<Arc<Job>>,
    /// Quiet writers woken to close their file (an `fdatasync` each): taken when no writer
    /// with lines waits, or every [`QUIET_SHARE`]th job, so that a burst of closes (ten
    /// thousand writers gone quiet, or all of them at once when descriptors run out) does not
    /// stand between a writer and its next line.
    quiet: VecDeque<Arc<Job>>,
    /// Jobs taken from `ready` since the last from `quiet`.
    ready_in_a_row: usize,
    workers: usize,
    idle: usize,
    /// When a worker last took a job: with jobs waiting, no worker free and none taken for
    /// [`GROW_AFTER`], every worker is stuck (a hung disk) and the pool grows.
    last_taken: Instant,
    /// A growth check is on the timer (at most one).
    grow_check: bool,
}

/// Which of the pool's queues a job waits in.
#[derive(Clone, Copy)]
enum Lane {
    /// [`Queue::ready`].
    Ready,
    /// [`Queue::quiet`].
    Quiet,
}

/// What a timer does to its job when its deadline comes.
#[derive(Clone, Copy)]
enum Wake {
    /// Schedules it if its batch still lingers ([`DeadlineHandle::fire`]).
    Lingering,
    /// Schedules it if it is still idle ([`DeadlineHandle::wake_if_idle`]).
    Idle,
    /// No job: checks whether the pool must grow ([`Pool::grow_if_stuck`]).
    Grow,
}

struct Timers {
    /// (deadline, sequence) → job; the sequence breaks ties and keeps the heap ordered.
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    jobs: std::collections::HashMap<u64, (Weak<Job>, Wake)>,
    next: u64,
    started: bool,
}

/// The process's writer pool. See the [module docs](self).
pub(crate) struct Pool {
    queue: Mutex<Queue>,
    work: Condvar,
    timers: Mutex<Timers>,
    timer_wake: Condvar,
    min_threads: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Only queue operations run under these locks, never user code: a poisoned one is still
    // consistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Pool {
    /// The pool every writer of this process shares.
    pub(crate) fn global() -> &'static Arc<Pool> {
        static POOL: OnceLock<Arc<Pool>> = OnceLock::new();
        POOL.get_or_init(|| {
            Arc::new(Pool {
                queue: Mutex::new(Queue {
                    ready: VecDeque::new(),
                    quiet: VecDeque::new(),
                    ready_in_a_row: 0,
                    workers: 0,
                    idle: 0,
                    last_taken: Instant::now(),
                    grow_check: false,
                }),
                work: Condvar::new(),
                timers: Mutex::new(Timers {
                    heap: BinaryHeap::new(),
                    jobs: std::collections::HashMap::new(),
                    next: 0,
                    started: false,
                }),
                timer_wake: Condvar::new(),
                min_threads: min_threads(),
            })
        })
    }

    /// Queues `job` (the channel's waker calls this, once per wake-up). Starts a worker if
    /// none is free and the pool has fewer than [`min_threads`]; past that, a growth check
    /// [`GROW_AFTER`] later starts one if no worker has taken a job meanwhile. If none can be
    /// started, the job waits for a busy one.
    pub(crate) fn schedule(self: &Arc<Self>, job: Arc<Job>) {
        self.enqueue(job, Lane::Ready);
    }

    /// Queues `job` in `lane`; either lane calls for growth as [`Pool::schedule`] says (a
    /// quiet writer may have been given a line since it was woken).
    fn enqueue(self: &Arc<Self>, job: Arc<Job>, lane: Lane) {
        let (spawn, check) = {
            let mut q = lock(&self.queue);
            match lane {
                Lane::Ready => q.ready.push_back(job),
                Lane::Quiet => q.quiet.push_back(job),
            }
            let full = q.idle == 0 && q.workers < MAX_THREADS;
            let spawn = full && q.workers < self.min_threads;
            let check = full && !spawn && !q.grow_check;
            if spawn {
                q.workers += 1;
            }
            if check {
                q.grow_check = true;
            }
            (spawn, check)
        };
        if spawn && !self.spawn_worker() {
            lock(&self.queue).workers -= 1;
        }
        self.work.notify_one();
        if check {
            self.check_growth_at(Instant::now() + GROW_AFTER);
        }
    }

    /// Puts a growth check on the timer; without a timer thread, grows now (as before the
    /// check existed).
    fn check_growth_at(self: &Arc<Self>, at: Instant) {
        if !self.push_timer(at, Weak::new(), Wake::Grow) {
            lock(&self.queue).grow_check = false;
            self.grow();
        }
    }

    /// The growth check: one more worker if jobs wait, no worker is free and none took a job
    /// for [`GROW_AFTER`]; checks again later while jobs wait with no worker free.
    fn grow_if_stuck(self: &Arc<Self>) {
        let (spawn, again) = {
            let mut q = lock(&self.queue);
            q.grow_check = false;
            let waiting = !q.ready.is_empty() || !q.quiet.is_empty();
            if !waiting || q.idle > 0 || q.workers >= MAX_THREADS {
                return;
            }
            let stuck = q.last_taken.elapsed() >= GROW_AFTER;
            q.grow_check = true;
            let again = if stuck {
                Instant::now() + GROW_AFTER
            } else {
                q.last_taken + GROW_AFTER
            };
            (stuck, again)
        };
        if spawn {
            self.grow();
        }
        self.check_growth_at(again);
    }

    /// Starts one more worker, unless the pool has [`MAX_THREADS`] or none can be started.
    fn grow(self: &Arc<Self>) {
        {
            let mut q = lock(&self.queue);
            if q.workers >= MAX_THREADS {
                return;
            }
            q.workers += 1;
        }
        if !self.spawn_worker() {
            lock(&self.queue).workers -= 1;
        }
    }

    fn spawn_worker(self: &Arc<Self>) -> bool {
        let pool = self.clone();
        std::thread::Builder::new()
            .name(format!("{} pool", bunctl_log_fs::THREAD_NAME_PREFIX))
            .stack_size(STACK_SIZE)
            .spawn(move || pool.worker())
            .map_err(|e| tracing::warn!(error = %e, "cannot start a log writer thread"))
            .is_ok()
    }

    fn worker(self: Arc<Self>) {
        loop {
            let Some(job) = self.next_job() else {
                return;
            };
            self.run(job);
        }
    }

    /// The next job; `None` when this worker should leave (beyond the minimum, idle too long).
    fn next_job(self: &Arc<Self>) -> Option<Arc<Job>> {
        let mut q = lock(&self.queue);
        loop {
            let quiet_turn = q.ready.is_empty() || q.ready_in_a_row + 1 >= QUIET_SHARE;
            let taken = match quiet_turn.then(|| q.quiet.pop_front()).flatten() {
                Some(job) => {
                    q.ready_in_a_row = 0;
                    Some(job)
                }
                None => q.ready.pop_front().inspect(|_| q.ready_in_a_row += 1),
            };
            if let Some(job) = taken {
                q.last_taken = Instant::now();
                // Jobs queued while this worker was waking counted it as free, so none of
                // them asked for a growth check; if work is still waiting with no worker
                // free, ask now, or a burst of jobs on a hung disk would hold every worker
                // with the rest queued behind them for good.
                let waiting = !q.ready.is_empty() || !q.quiet.is_empty();
                let check = waiting && q.idle == 0 && !q.grow_check && q.workers < MAX_THREADS;
                if check {
                    q.grow_check = true;
                }
                drop(q);
                if check {
                    self.check_growth_at(Instant::now() + GROW_AFTER);
                }
                return Some(job);
            }
            q.idle += 1;
            let (guard, timeout) = self
                .work
                .wait_timeout(q, IDLE_EXIT)
                .unwrap_or_else(PoisonError::into_inner);
            q = guard;
            q.idle -= 1;
            if timeout.timed_out()
                && q.ready.is_empty()
                && q.quiet.is_empty()
                && q.workers > self.min_threads
            {
                q.workers -= 1;
                return None;
            }
        }
    }

    fn run(self: &Arc<Self>, job: Arc<Job>) {
        let mut slot = lock(&job.work);
        let Some(work) = slot.as_mut() else {
            return;
        };
        let turn = match catch_unwind(AssertUnwindSafe(|| work.turn())) {
            Ok(turn) => turn,
            Err(_) => {
                work.panicked();
                Turn::Done
            }
        };
        match turn {
            Turn::Done => {
                // Dropping the work closes its files and releases its lock.
                *slot = None;
            }
            Turn::Again => {
                drop(slot);
                self.schedule(job);
            }
            Turn::Linger(deadline) => {
                drop(slot);
                self.add_timer(deadline, &job, Wake::Lingering);
            }
            Turn::IdleUntil(deadline) => {
                drop(slot);
                self.add_timer(deadline, &job, Wake::Idle);
            }
            Turn::Idle => {}
        }
    }

    /// The process is out of descriptors: every writer waiting to close its idle file does it
    /// now (its timer is run at once), and a writer busy now does it when it goes idle.
    pub(crate) fn close_idle_files_now(self: &Arc<Self>) {
        DESCRIPTOR_PRESSURE.fetch_add(1, Ordering::Relaxed);
        let idle: Vec<Arc<Job>> = {
            let mut t = lock(&self.timers);
            let ids: Vec<u64> = t
                .jobs
                .iter()
                .filter(|(_, (_, wake))| matches!(wake, Wake::Idle))
                .map(|(id, _)| *id)
                .collect();
            // Their heap entries stay, with no job: the timer thread skips them.
            ids.iter()
                .filter_map(|id| t.jobs.remove(id))
                .filter_map(|(job, _)| job.upgrade())
                .collect()
        };
        for job in idle {
            if job.deadline.wake_if_idle() {
                self.enqueue(job, Lane::Quiet);
            }
        }
    }

    fn add_timer(self: &Arc<Self>, deadline: Instant, job: &Arc<Job>, wake: Wake) {
        if !self.push_timer(deadline, Arc::downgrade(job), wake) {
            // Without a timer a lingering batch waits for its buffer to fill or a flush; run
            // the job again now rather than let it wait. An idle writer keeps its file open.
            if matches!(wake, Wake::Lingering) && job.deadline.fire() {
                self.schedule(job.clone());
            }
        }
    }

    /// Puts `job` on the timer thread (started if need be) for `deadline`; `false` if there
    /// is no timer thread and none can be started.
    fn push_timer(self: &Arc<Self>, deadline: Instant, job: Weak<Job>, wake: Wake) -> bool {
        let mut t = lock(&self.timers);
        let id = t.next;
        t.next += 1;
        // The timer thread needs waking only if this deadline comes first.
        let earliest = t
            .heap
            .peek()
            .is_none_or(|Reverse((first, _))| deadline < *first);
        t.heap.push(Reverse((deadline, id)));
        t.jobs.insert(id, (job, wake));
        if !t.started {
            let pool = self.clone();
            let started = std::thread::Builder::new()
                .name(format!("{} timer", bunctl_log_fs::THREAD_NAME_PREFIX))
                .stack_size(64 << 10)
                .spawn(move || pool.timer());
            match started {
                Ok(_) => t.started = true,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start the log timer thread");
                    let id = t.next - 1;
                    t.jobs.remove(&id);
                    return false;
                }
            }
        }
        drop(t);
        if earliest {
            self.timer_wake.notify_one();
        }
        true
    }

    /// The timer thread: sleeps until the earliest deadline, then schedules the jobs whose
    /// deadline passed and that still linger.
    fn timer(self: Arc<Self>) {
        let mut t = lock(&self.timers);
        loop {
            let now = Instant::now();
            let mut due = Vec::new();
            let mut grow = false;
            while let Some(Reverse((deadline, id))) = t.heap.peek().copied() {
                if deadline > now {
                    break;
                }
                t.heap.pop();
                match t.jobs.remove(&id) {
                    Some((_, Wake::Grow)) => grow = true,
                    Some((job, wake)) => {
                        if let Some(job) = job.upgrade() {
                            due.push((job, wake));
                        }
                    }
                    None => {}
                }
            }
            let next = t.heap.peek().map(|Reverse((deadline, _))| *deadline);
            if grow || !due.is_empty() {
                drop(t);
                if grow {
                    self.grow_if_stuck();
                }
                for (job, wake) in due {
                    match wake {
                        Wake::Lingering if job.deadline.fire() => self.schedule(job),
                        Wake::Idle if job.deadline.wake_if_idle() => {
                            self.enqueue(job, Lane::Quiet);
                        }
                        _ => {}
                    }
                }
                t = lock(&self.timers);
                continue;
            }
            t = match next {
                None => self
                    .timer_wake
                    .wait(t)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    self.timer_wake
                        .wait_timeout(t, deadline.saturating_duration_since(now))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }
}
