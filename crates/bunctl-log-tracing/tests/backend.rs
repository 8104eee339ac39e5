//! The backend end to end: events through `tracing_subscriber::fmt` into the file, from
//! threads and from both kinds of tokio runtime.
//!
//! Each test sets its subscriber for its own threads only (`dispatcher::with_default`,
//! `WithSubscriber`), never globally, so tests running side by side do not see each other's
//! events. Nothing depends on timing: where a test needs the writer's buffer full, the writer's
//! file writes are held ([`FaultFs`]) until the test has seen what it waits for, and every
//! wait is for a condition, bounded by a deadline far beyond what a busy machine needs.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bunctl_log_tracing::{
    AsyncLogWriter, Error, LogGuard, LogMakeWriter, LogWriterConfig, Mode, RotationConfig,
    RotationStrategy, WriterOptions,
};
use bunctl_logging::testing::{FaultFs, Faults, Op};
use bunctl_logging::SystemClock;
use tracing::instrument::WithSubscriber as _;
use tracing::Dispatch;
use tracing_subscriber::fmt::MakeWriter;

const THREADS: usize = 8;
const EVENTS: usize = 2_000;
const PAD: &str = "the quick brown fox jumps over the lazy dog";

/// The bound on a wait that takes milliseconds: a hang fails the test instead of hanging it,
/// and no busy machine comes near it.
const PATIENCE: Duration = Duration::from_secs(120);

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A `fmt` subscriber writing the bare message (no time, level or target), so each line of
/// the file can be checked exactly.
fn dispatch<W>(writer: W) -> Dispatch
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    Dispatch::new(
        tracing_subscriber::fmt()
            .with_writer(writer)
            .with_ansi(false)
            .without_time()
            .with_level(false)
            .with_target(false)
            .finish(),
    )
}

/// One file, never rotated, with a buffer of about `max_lines` events (the buffer is bounded
/// in bytes: `max_lines` lines of 64 bytes, at least one piece of a 128-byte line): small
/// enough that the producers here fill it.
fn small(dir: &Path, max_lines: usize) -> (LogWriterConfig, WriterOptions) {
    let config = LogWriterConfig {
        path: dir.join("app.log"),
        rotation: RotationConfig {
            strategy: RotationStrategy::Never,
            max_files: 1,
            compression: false,
        },
        buffer_size: 1024,
        ..LogWriterConfig::default()
    };
    let mut options = WriterOptions::default();
    options.max_line_len = 128;
    options.max_buffered_bytes = max_lines * 64;
    (config, options)
}

/// [`small`] on a filesystem whose writes the test can hold.
fn open_faulty(dir: &Path, max_lines: usize) -> (Arc<AsyncLogWriter>, LogGuard, Faults) {
    let (config, options) = small(dir, max_lines);
    let (fs, faults) = FaultFs::shared();
    let writer =
        AsyncLogWriter::open_blocking_with_io(config, options, fs, Arc::new(SystemClock)).unwrap();
    let writer = Arc::new(writer);
    (writer.clone(), LogGuard::new(writer), faults)
}

/// Lets a held disk go when dropped, also when a test fails half-way: the threads waiting for
/// room then finish, and the failing test ends instead of hanging. Declare it after the
/// runtime, so it drops first.
struct ReleaseOnDrop(Faults);

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        self.0.clear_all();
    }
}

fn event(t: usize, i: usize) -> String {
    format!("ev t={t} i={i} {PAD}")
}

fn emit(t: usize, i: usize) {
    tracing::info!("ev t={t} i={i} {PAD}");
}

fn read(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the file ends mid-line"
    );
    text.lines().map(str::to_owned).collect()
}

/// `(t, i)` if `line` is exactly `event(t, i)`.
fn parse(line: &str) -> Option<(usize, usize)> {
    let rest = line.strip_prefix("ev t=")?;
    let (t, rest) = rest.split_once(" i=")?;
    let (i, pad) = rest.split_once(' ')?;
    (pad == PAD).then_some((t.parse().ok()?, i.parse().ok()?))
}

/// The count of a drop marker line.
fn drop_marker(line: &str) -> Option<u64> {
    line.strip_prefix("[bunctl-log] ")?
        .strip_suffix(" lines dropped here: the writer was full")?
        .parse()
        .ok()
}

/// What a file of events holds.
#[derive(Debug, Default)]
struct Contents {
    /// Events per producer.
    events: Vec<usize>,
    /// Lines dropped, by the markers.
    dropped: u64,
}

/// Checks that every line is a whole event or (with `gaps`) a drop marker, and that each
/// producer's events are in order: all of them, each once (`gaps: false`), or a rising
/// subsequence (`gaps: true`).
fn check(lines: &[String], producers: usize, gaps: bool) -> Contents {
    let mut seen = Contents {
        events: vec![0; producers],
        dropped: 0,
    };
    let mut next = vec![0; producers];
    for (n, line) in lines.iter().enumerate() {
        if let Some((t, i)) = parse(line) {
            assert!(t < producers, "line {n}: unknown producer: {line:?}");
            if gaps {
                assert!(i >= next[t], "line {n}: out of order or repeated: {line:?}");
            } else {
                assert_eq!(
                    i, next[t],
                    "line {n}: missing, repeated or out of order: {line:?}"
                );
            }
            next[t] = i + 1;
            seen.events[t] += 1;
        } else if let (true, Some(count)) = (gaps, drop_marker(line)) {
            seen.dropped += count;
        } else {
            panic!("line {n} is not a whole event: {line:?}");
        }
    }
    seen
}

#[test]
fn file_writes_through_fmt_and_the_guard_flushes_and_closes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let (writer, guard) = bunctl_log_tracing::file(&path).unwrap();
    assert_eq!(writer.mode(), Mode::Lossy, "lossy by default");
    let d = dispatch(writer.clone());

    tracing::dispatcher::with_default(&d, || emit(0, 0));
    guard.flush().unwrap();
    assert_eq!(
        read(&path),
        [event(0, 0)],
        "one line per event, the newline not doubled"
    );

    // One writer per file, as with the writer itself.
    assert!(matches!(
        bunctl_log_tracing::file(&path),
        Err(Error::Locked { .. })
    ));

    tracing::dispatcher::with_default(&d, || emit(0, 1));
    drop(guard);
    assert!(
        writer.writer().is_closed(),
        "dropping the guard shut it down"
    );
    assert_eq!(read(&path), [event(0, 0), event(0, 1)]);

    // After the shutdown, events are discarded quietly.
    tracing::dispatcher::with_default(&d, || emit(0, 2));
    assert_eq!(read(&path), [event(0, 0), event(0, 1)]);
}

#[test]
fn lossless_from_many_threads_writes_every_event_once_whole_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (config, options) = small(dir.path(), 64);
    let path = config.path.clone();
    let (writer, guard) = bunctl_log_tracing::file_with(config, options).unwrap();
    let writer = writer.with_mode(Mode::Lossless);
    let log = writer.writer().clone();
    let d = dispatch(writer);

    std::thread::scope(|s| {
        for t in 0..THREADS {
            let d = &d;
            s.spawn(move || {
                tracing::dispatcher::with_default(d, || (0..EVENTS).for_each(|i| emit(t, i)));
            });
        }
    });
    guard.shutdown().unwrap();

    let seen = check(&read(&path), THREADS, false);
    assert_eq!(seen.events, vec![EVENTS; THREADS], "every event, once");
    let m = log.metrics_snapshot();
    assert_eq!(m.lines_written, (THREADS * EVENTS) as u64);
    assert_eq!(m.dropped_messages, 0);
    assert_eq!(m.lines_lost, 0);
}

#[test]
fn a_multi_line_event_stays_contiguous() {
    const PRODUCERS: usize = 4;
    const N: usize = 1_000;
    let dir = tempfile::tempdir().unwrap();
    let (config, options) = small(dir.path(), 64);
    let path = config.path.clone();
    let (writer, guard) = bunctl_log_tracing::file_with(config, options).unwrap();
    let d = dispatch(writer.with_mode(Mode::Lossless));

    std::thread::scope(|s| {
        for t in 0..PRODUCERS {
            let d = &d;
            s.spawn(move || {
                tracing::dispatcher::with_default(d, || {
                    for i in 0..N {
                        tracing::info!(
                            "head t={t} i={i}\n  body t={t} i={i} one\n  body t={t} i={i} two"
                        );
                    }
                });
            });
        }
    });
    guard.shutdown().unwrap();

    let lines = read(&path);
    assert_eq!(lines.len(), PRODUCERS * N * 3);
    let mut next = [0; PRODUCERS];
    for event in lines.chunks(3) {
        let head = event[0].strip_prefix("head ").unwrap_or_else(|| {
            panic!("an event's lines were split up: {event:?}");
        });
        assert_eq!(event[1], format!("  body {head} one"), "{event:?}");
        assert_eq!(event[2], format!("  body {head} two"), "{event:?}");
        let (t, i) = head.strip_prefix("t=").unwrap().split_once(" i=").unwrap();
        let (t, i): (usize, usize) = (t.parse().unwrap(), i.parse().unwrap());
        assert_eq!(i, next[t], "in order, once each");
        next[t] += 1;
    }
    assert_eq!(next, [N; PRODUCERS]);
}

#[test]
fn an_event_written_in_pieces_is_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let (config, options) = small(dir.path(), 64);
    let path = config.path.clone();
    let (writer, guard) = bunctl_log_tracing::file_with(config, options).unwrap();
    let writer = writer.with_mode(Mode::Lossless);

    // What a formatter that writes field by field does: several writes per event, with other
    // threads writing in between.
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let writer = &writer;
            s.spawn(move || {
                for i in 0..EVENTS / 4 {
                    let mut w = writer.make_writer();
                    write!(w, "ev t={t}").unwrap();
                    std::thread::yield_now();
                    write!(w, " i={i} ").unwrap();
                    std::thread::yield_now();
                    w.write_all(PAD.as_bytes()).unwrap();
                    std::thread::yield_now();
                    w.write_all(b"\n").unwrap();
                    w.flush().unwrap(); // hands nothing over: the event is not finished
                }
            });
        }
    });
    guard.shutdown().unwrap();

    let seen = check(&read(&path), THREADS, false);
    assert_eq!(seen.events, vec![EVENTS / 4; THREADS]);
}

#[test]
fn nested_empty_and_blank_line_events() {
    let dir = tempfile::tempdir().unwrap();
    let (config, options) = small(dir.path(), 64);
    let path = config.path.clone();
    let (writer, guard) = bunctl_log_tracing::file_with(config, options).unwrap();

    // An event written while another is being written on the same thread (a `Display` impl
    // that logs): each is whole, the inner one first since it finishes first.
    let mut outer = writer.make_writer();
    outer.write_all(b"outer begins, ").unwrap();
    {
        let mut inner = writer.make_writer();
        inner.write_all(b"inner\n").unwrap();
    }
    outer.write_all(b"outer ends\n").unwrap();
    drop(outer);
    // An event nothing was written to leaves nothing; one ending in a blank line keeps it;
    // one without a final newline gets one.
    drop(writer.make_writer());
    writer.make_writer().write_all(b"blank after\n\n").unwrap();
    writer.make_writer().write_all(b"no newline").unwrap();
    // The thread's buffer, reused after all that, still starts empty.
    writer.make_writer().write_all(b"last\n").unwrap();
    guard.shutdown().unwrap();

    assert_eq!(
        read(&path),
        [
            "inner",
            "outer begins, outer ends",
            "blank after",
            "",
            "no newline",
            "last"
        ]
    );
}

#[test]
fn lossy_under_overload_accounts_for_every_event_and_tears_none() {
    let dir = tempfile::tempdir().unwrap();
    let (log, guard, faults) = open_faulty(dir.path(), 100);
    // The disk stops: the writer's buffer fills with the first events, the rest are dropped.
    faults.hold(Op::Write);
    let release = ReleaseOnDrop(faults);
    let d = dispatch(LogMakeWriter::lossy(log.clone()));

    std::thread::scope(|s| {
        for t in 0..THREADS {
            let d = &d;
            s.spawn(move || {
                tracing::dispatcher::with_default(d, || (0..EVENTS).for_each(|i| emit(t, i)));
            });
        }
    });
    // Every producer got through without waiting for the disk.
    drop(release);
    guard.shutdown().unwrap();

    let m = log.metrics_snapshot();
    let emitted = (THREADS * EVENTS) as u64;
    assert_eq!(m.lines_written + m.dropped_messages, emitted, "{m:?}");
    assert!(m.dropped_messages > 0, "the buffer of 100 lines overflowed");
    assert_eq!(m.lines_lost, 0);

    let seen = check(&read(log.path()), THREADS, true);
    assert_eq!(seen.events.iter().sum::<usize>() as u64, m.lines_written);
    assert_eq!(
        seen.dropped, m.dropped_messages,
        "every drop is marked in the file"
    );
}

#[test]
fn lossless_on_a_multi_thread_runtime_waits_without_stalling_other_tasks() {
    const LOGGERS: usize = 4; // tasks; one more logs from the blocking pool
    const MAX_LINES: usize = 32;
    let dir = tempfile::tempdir().unwrap();
    let (log, guard, faults) = open_faulty(dir.path(), MAX_LINES);
    faults.hold(Op::Write);
    let d = dispatch(LogMakeWriter::lossless(log.clone()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let release = ReleaseOnDrop(faults);

    let ticks = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = rt.spawn({
        let (ticks, stop) = (ticks.clone(), stop.clone());
        async move {
            while !stop.load(Ordering::Relaxed) {
                ticks.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });

    // `in_event[t]`: logger t is inside an event (true while it waits for room).
    let in_event: Arc<Vec<AtomicBool>> =
        Arc::new((0..=LOGGERS).map(|_| AtomicBool::new(false)).collect());
    let finished = Arc::new(AtomicUsize::new(0));
    let mut loggers = Vec::new();
    for t in 0..LOGGERS {
        let (in_event, finished) = (in_event.clone(), finished.clone());
        let task = async move {
            for i in 0..EVENTS {
                in_event[t].store(true, Ordering::SeqCst);
                emit(t, i);
                in_event[t].store(false, Ordering::SeqCst);
                if i % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            finished.fetch_add(1, Ordering::SeqCst);
        };
        loggers.push(rt.spawn(task.with_subscriber(d.clone())));
    }
    loggers.push(rt.spawn_blocking({
        let (in_event, finished, d) = (in_event.clone(), finished.clone(), d.clone());
        move || {
            tracing::dispatcher::with_default(&d, || {
                for i in 0..EVENTS {
                    in_event[LOGGERS].store(true, Ordering::SeqCst);
                    emit(LOGGERS, i);
                    in_event[LOGGERS].store(false, Ordering::SeqCst);
                }
            });
            finished.fetch_add(1, Ordering::SeqCst);
        }
    }));

    // With the disk held, the buffer fills and every logger ends up waiting for room, more
    // loggers than the runtime has workers.
    wait_for("every logger to wait for room", || {
        log.metrics_snapshot().buffered_lines >= MAX_LINES as u64
            && in_event.iter().all(|e| e.load(Ordering::SeqCst))
    });
    // Meanwhile the runtime runs its other tasks: the ticker goes on, a new task runs.
    let before = ticks.load(Ordering::Relaxed);
    wait_for("the ticker to go on", || {
        ticks.load(Ordering::Relaxed) >= before + 20
    });
    let (tx, rx) = mpsc::channel();
    rt.spawn(async move { tx.send(()).unwrap() });
    rx.recv_timeout(PATIENCE)
        .expect("a task spawned while the loggers wait runs");
    assert_eq!(
        finished.load(Ordering::SeqCst),
        0,
        "the loggers were waiting all along"
    );

    // The disk comes back: everything gets through.
    drop(release);
    rt.block_on(async {
        for logger in loggers {
            logger.await.unwrap();
        }
    });
    stop.store(true, Ordering::Relaxed);
    rt.block_on(ticker).unwrap();
    // The guard may drop on a worker thread.
    rt.block_on(rt.spawn(async move { drop(guard) })).unwrap();

    assert!(log.is_closed());
    let seen = check(&read(log.path()), LOGGERS + 1, false);
    assert_eq!(seen.events, vec![EVENTS; LOGGERS + 1], "nothing lost");
    let m = log.metrics_snapshot();
    assert_eq!(m.dropped_messages, 0);
    assert!(
        m.buffer_overflows > 0,
        "the loggers did find the buffer full"
    );
}

#[test]
fn lossless_on_a_current_thread_runtime_waits_and_completes() {
    const MAX_LINES: usize = 32;
    let dir = tempfile::tempdir().unwrap();
    let (log, guard, faults) = open_faulty(dir.path(), MAX_LINES);
    faults.hold(Op::Write);
    let d = dispatch(LogMakeWriter::lossless(log.clone()));

    // Another thread lets the disk go once the runtime's only thread waits for room.
    let releaser = std::thread::spawn({
        let log = log.clone();
        move || {
            let deadline = Instant::now() + PATIENCE;
            let mut saw_it_wait = false;
            while Instant::now() < deadline {
                let m = log.metrics_snapshot();
                if m.buffered_lines >= MAX_LINES as u64 && m.buffer_overflows > 0 {
                    saw_it_wait = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            faults.clear(Op::Write);
            saw_it_wait
        }
    });

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(
        async move {
            let other = tokio::spawn(async { 7 });
            for i in 0..EVENTS {
                emit(0, i);
            }
            assert_eq!(other.await.unwrap(), 7);
            // The guard may drop on the runtime's thread too.
            drop(guard);
        }
        .with_subscriber(d),
    );
    assert!(
        releaser.join().unwrap(),
        "the runtime's thread waited for room"
    );

    let seen = check(&read(log.path()), 1, false);
    assert_eq!(seen.events, [EVENTS], "nothing lost");
}

#[test]
fn the_path_in_the_file_helper_is_the_writers() {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("sub").join("app.log");
    let (writer, guard) = bunctl_log_tracing::file(&path).unwrap();
    assert_eq!(writer.writer().path(), path);
    assert_eq!(guard.writer().path(), path);
    assert!(format!("{writer:?}").contains("Lossy"));
    guard.shutdown().unwrap();
    assert!(path.exists(), "the directory was created");
}
