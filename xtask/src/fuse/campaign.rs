//! The campaign: runs of one `bunctl-log pipe` per producer on the forgetting filesystem, each
//! ending cleanly or in a power cut; each cut's state recovered on a copy and checked; each
//! clean run's state checked on the mount.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::check::{cat_bytes, check_app, Counts, Expect};
use super::lazyfs::{self, SharedTree};
use super::lines::data_line;
use super::model::{CutStats, Tree};
use super::Rng;
use crate::harness::process::{pipe_command, read_on_the_side, wait_or_kill};
use crate::harness::report::{thousands, Errors};

/// Producers: one `pipe` each, apps `p0`, `p1`, ... in one directory.
pub(super) const PRODUCERS: usize = 2;
/// Large, so that retention never removes a line the checks look for.
const KEEP: &str = "100000";
/// Lines fed to each producer of a run that ends cleanly.
const CLEAN_LINES: u64 = 3_000;
/// Lines fed to each producer of a run that ends in a cut: at least, and below at most.
const CUT_LINES_MIN: u64 = 200;
const CUT_LINES_MAX: u64 = 8_000;
/// How long a clean run, or a recovery, may take before it counts as hung.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes of lines per `write` to a pipe.
const FEED_CHUNK: usize = 16 << 10;
/// The log directory under the mount: made by the writer, so its own entry's durability counts.
const LOGS: &str = "logs";

/// Why the campaign could not run at all.
pub(super) enum Failure {
    /// FUSE cannot be mounted here: the command is skipped.
    Mount(String),
    Other(String),
}

/// What the campaign did and found.
#[derive(Default)]
pub(super) struct Report {
    pub(super) runs: usize,
    pub(super) clean_runs: usize,
    pub(super) cuts: usize,
    pub(super) lines_fed: u64,
    pub(super) cut: CutStats,
    pub(super) counts: Counts,
    pub(super) writes: u64,
    pub(super) bytes_written: u64,
    pub(super) file_syncs: u64,
    pub(super) dir_syncs: u64,
    pub(super) dir_ops: u64,
    pub(super) next_files: u64,
    pub(super) gz_renames: u64,
    /// Time spent checking (copies, recoveries, reads), the rest is the runs.
    pub(super) check_time: Duration,
    pub(super) errors: Errors,
}

fn app(p: usize) -> String {
    format!("p{p}")
}

/// Rotation size of a run: mostly 4K (rotation and compression every few dozen lines); one in
/// three 1M, which the writer finishes in the background through `.next`.
fn max_size(rng: &mut Rng) -> &'static str {
    if rng.below(3) == 0 {
        "1M"
    } else {
        "4K"
    }
}

/// Writes `limit` lines of run `run` to `stdin` (fewer if the pipe breaks); returns the lines
/// written whole, and `stdin` unless `eof` (dropping it is the end of input).
fn feed(mut stdin: ChildStdin, run: usize, limit: u64, eof: bool) -> (u64, Option<ChildStdin>) {
    let mut chunk = Vec::with_capacity(FEED_CHUNK + 256);
    let (mut seq, mut fed) = (0u64, 0u64);
    loop {
        chunk.clear();
        let first = seq;
        while chunk.len() < FEED_CHUNK && seq < limit {
            data_line(run, seq, &mut chunk);
            chunk.push(b'\n');
            seq += 1;
        }
        if chunk.is_empty() {
            return (fed, (!eof).then_some(stdin));
        }
        let mut written = 0;
        while written < chunk.len() {
            match stdin.write(&chunk[written..]) {
                Ok(n) if n > 0 => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => {
                    let whole = chunk[..written].iter().filter(|&&b| b == b'\n').count();
                    return (fed + whole as u64, None);
                }
            }
        }
        fed += seq - first;
    }
}

struct Producer {
    child: Child,
    feeder: thread::JoinHandle<(u64, Option<ChildStdin>)>,
    stderr: thread::JoinHandle<String>,
}

fn start(
    bin: &Path,
    logs: &Path,
    run: usize,
    size: &str,
    limit: u64,
    eof: bool,
) -> Result<Vec<Producer>, String> {
    let mut out = Vec::new();
    for p in 0..PRODUCERS {
        let mut child = pipe_command(bin, &app(p), logs, size, KEEP)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        let stdin = child.stdin.take().ok_or("no stdin pipe")?;
        let stderr = child.stderr.take().ok_or("no stderr pipe")?;
        out.push(Producer {
            child,
            feeder: thread::spawn(move || feed(stdin, run, limit, eof)),
            stderr: read_on_the_side(stderr),
        });
    }
    Ok(out)
}

/// Runs the campaign in `dir` (the mount point and the copies of the states go there).
pub(super) fn campaign(
    bin: &Path,
    dir: &Path,
    runs: usize,
    seed: u64,
    lying_fsync: bool,
) -> Result<Report, Failure> {
    let mut report = Report {
        runs,
        ..Report::default()
    };
    let mut rng = Rng(seed);
    let mut fresh = Tree::new();
    fresh.lying_fsync = lying_fsync;
    let tree: SharedTree = Arc::new(Mutex::new(fresh));
    let mnt = dir.join("mnt");
    fs::create_dir_all(&mnt).map_err(|e| Failure::Other(format!("{}: {e}", mnt.display())))?;
    let mut mounted = Some(
        lazyfs::mount(tree.clone(), &mnt)
            .map_err(|e| Failure::Mount(format!("{}: {e}", mnt.display())))?,
    );
    // The mount answers, or the campaign would hang on its first file.
    if let Err(e) = fs::read_dir(&mnt) {
        return Err(Failure::Mount(format!(
            "{} mounted but unreadable: {e}",
            mnt.display()
        )));
    }
    let logs = mnt.join(LOGS);
    let mut fed: Vec<Vec<u64>> = vec![Vec::new(); PRODUCERS];
    let mut clean: Vec<bool> = Vec::new();
    for run in 0..runs {
        let last = run + 1 == runs;
        let cut = !last && rng.below(4) != 0;
        let size = max_size(&mut rng);
        // A cut run is fed a bounded number of lines and its input left open, so that the
        // files (and the checks' work) stay small and the cut may land mid-write or idle.
        let limit = if cut {
            CUT_LINES_MIN + rng.below(CUT_LINES_MAX - CUT_LINES_MIN)
        } else {
            CLEAN_LINES
        };
        let producers = start(bin, &logs, run, size, limit, !cut).map_err(Failure::Other)?;
        if cut {
            // One cut in eight in the first 5 ms (startup and recovery), the rest in 5-300 ms.
            let delay = if rng.below(8) == 0 {
                Duration::from_micros(rng.below(5_000))
            } else {
                Duration::from_micros(5_000 + rng.below(295_000))
            };
            thread::sleep(delay);
            for (p, mut pr) in producers.into_iter().enumerate() {
                let _ = pr.child.kill();
                let _ = pr.child.wait();
                // The pipe is dead: the feeder has returned (EPIPE) or is done.
                fed[p].push(pr.feeder.join().map_or(0, |(n, _stdin)| n));
                let _ = pr.stderr.join();
            }
            clean.push(false);
            report.cuts += 1;
            let state = format!("cut {} (run {run}, {size}, after {delay:?})", report.cuts);
            if let Some(m) = mounted.take() {
                m.unmount()
                    .map_err(|e| Failure::Other(format!("{state}: cannot unmount: {e}")))?;
            }
            let stats = lock(&tree).power_cut(&mut rng);
            add_cut(&mut report.cut, &stats);
            let checking = Instant::now();
            check_cut(bin, dir, &tree, &state, &fed, &clean, &mut report);
            report.check_time += checking.elapsed();
            mounted = Some(
                lazyfs::mount(tree.clone(), &mnt)
                    .map_err(|e| Failure::Other(format!("{state}: cannot mount again: {e}")))?,
            );
        } else {
            let mut ok = true;
            for (p, mut pr) in producers.into_iter().enumerate() {
                let waited = wait_or_kill(&mut pr.child, Instant::now(), RUN_TIMEOUT);
                let n = pr.feeder.join().map_or(0, |(n, _)| n);
                let said = pr.stderr.join().unwrap_or_default();
                fed[p].push(n);
                match waited {
                    Ok((status, false)) if status.success() && said.contains(" lines") => {}
                    Ok((status, hung)) => {
                        ok = false;
                        report.errors.push(format!(
                            "run {run} ({}): bunctl-log pipe did not end cleanly ({status}{}); it said {:?}",
                            app(p),
                            if hung { ", hung and killed" } else { "" },
                            said.trim()
                        ));
                    }
                    Err(e) => {
                        ok = false;
                        report.errors.push(format!("run {run}: cannot wait: {e}"));
                    }
                }
            }
            clean.push(ok);
            report.clean_runs += usize::from(ok);
            let state = format!("clean run {run} ({size}) on the mount");
            let checking = Instant::now();
            for (p, fed_p) in fed.iter().enumerate() {
                let expect = Expect {
                    fed: fed_p,
                    clean: &clean,
                };
                let c = check_app(bin, &logs, &app(p), &expect, &state, &mut report.errors);
                report.counts.add(&c);
            }
            report.check_time += checking.elapsed();
        }
    }
    report.lines_fed = fed.iter().flatten().sum();
    let stats = lock(&tree).stats;
    report.writes = stats.writes;
    report.bytes_written = stats.bytes_written;
    report.file_syncs = stats.file_syncs;
    report.dir_syncs = stats.dir_syncs;
    report.dir_ops = stats.dir_ops;
    report.next_files = stats.next_files;
    report.gz_renames = stats.gz_renames;
    if let Some(m) = mounted.take() {
        m.unmount()
            .map_err(|e| Failure::Other(format!("cannot unmount at the end: {e}")))?;
    }
    Ok(report)
}

fn lock(tree: &SharedTree) -> std::sync::MutexGuard<'_, Tree> {
    tree.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn add_cut(total: &mut CutStats, s: &CutStats) {
    total.files_pending += s.files_pending;
    total.files_cut += s.files_cut;
    total.bytes_lost += s.bytes_lost;
    total.dirs_pending += s.dirs_pending;
    total.dir_ops_lost += s.dir_ops_lost;
    total.names_lost += s.names_lost;
    total.names_back += s.names_back;
}

/// The state a cut left, copied to `dir/state-<n>`, recovered there by `pipe` with no input
/// (each producer), checked, recovered again and compared. Kept (with `listing.txt`, the
/// state before recovery) if it violates anything; removed otherwise.
fn check_cut(
    bin: &Path,
    dir: &Path,
    tree: &SharedTree,
    state: &str,
    fed: &[Vec<u64>],
    clean: &[bool],
    report: &mut Report,
) {
    let copy = dir.join(format!("state-{:04}", report.cuts));
    let listing = {
        let t = lock(tree);
        if let Err(e) = t.copy_to(&copy) {
            report.errors.push(format!(
                "{state}: cannot copy the state to {}: {e}",
                copy.display()
            ));
            return;
        }
        t.listing()
    };
    let before = report.errors.count;
    let logs = copy.join(LOGS);
    let recover = |report: &mut Report, round: &str| {
        for p in 0..PRODUCERS {
            let child = pipe_command(bin, &app(p), &logs, "4K", KEEP)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn();
            let out = child.and_then(|mut c| {
                let stderr = c.stderr.take().map(read_on_the_side);
                let waited = wait_or_kill(&mut c, Instant::now(), RUN_TIMEOUT);
                let said = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
                waited.map(|w| (w, said))
            });
            match out {
                Ok(((status, false), _)) if status.success() => {}
                Ok(((status, _), said)) => report.errors.push(format!(
                    "{state}: {round} recovery of {} failed ({status}): {:?}",
                    app(p),
                    said.trim()
                )),
                Err(e) => report
                    .errors
                    .push(format!("{state}: cannot run the {round} recovery: {e}")),
            }
        }
    };
    recover(report, "first");
    let mut first = Vec::new();
    for (p, fed_p) in fed.iter().enumerate() {
        let expect = Expect { fed: fed_p, clean };
        let c = check_app(bin, &logs, &app(p), &expect, state, &mut report.errors);
        report.counts.add(&c);
        first.push(cat_bytes(bin, &logs, &app(p)));
    }
    recover(report, "second");
    for (p, was) in first.into_iter().enumerate() {
        let now = cat_bytes(bin, &logs, &app(p));
        match (was, now) {
            (Ok(a), Ok(b)) if a == b => report.counts.idempotent += 1,
            (Ok(a), Ok(b)) => report.errors.push(format!(
                "{state}: {}: a second recovery changed the lines ({} bytes, then {})",
                app(p),
                a.len(),
                b.len()
            )),
            (Err(e), _) | (_, Err(e)) => report.errors.push(format!("{state}: {e}")),
        }
    }
    if report.errors.count == before {
        let _ = fs::remove_dir_all(&copy);
    } else {
        let text: String = listing
            .iter()
            .map(|(p, size)| match size {
                Some(s) => format!("{s:>10} {p}\n"),
                None => format!("{:>10} {p}/\n", "dir"),
            })
            .collect();
        let file = dir.join(format!("state-{:04}.listing.txt", report.cuts));
        if let Err(e) = fs::write(&file, format!("{state}: the state before recovery\n{text}")) {
            eprintln!(
                "xtask powerloss --fuse: cannot write {}: {e}",
                file.display()
            );
        }
    }
}

impl Report {
    /// Prints what the campaign did and found.
    pub(super) fn print(&self, seed: u64, took: Duration) {
        let t = thousands;
        let c = &self.counts;
        let cut = &self.cut;
        println!(
            "xtask powerloss --fuse: seed {seed}, {} runs ({} clean, {} power cuts) of {PRODUCERS} producers in {:.1} s ({:.1} s of it checking)",
            self.runs,
            self.clean_runs,
            self.cuts,
            took.as_secs_f64(),
            self.check_time.as_secs_f64()
        );
        println!(
            "  through the filesystem: {} writes ({} bytes), {} file fsyncs, {} directory fsyncs, {} directory operations ({} background rotations through .next, {} compressions renamed into place); {} lines fed",
            t(self.writes),
            t(self.bytes_written),
            t(self.file_syncs),
            t(self.dir_syncs),
            t(self.dir_ops),
            t(self.next_files),
            t(self.gz_renames),
            t(self.lines_fed)
        );
        println!(
            "  the cuts: {} files had unsynced writes, {} lost some ({} bytes); {} directories had unsynced entries, {} operations lost; {} files or directories lost their name, {} removed names came back",
            cut.files_pending,
            cut.files_cut,
            t(cut.bytes_lost),
            cut.dirs_pending,
            cut.dir_ops_lost,
            cut.names_lost,
            cut.names_back
        );
        println!(
            "  checked: {} states (app x state), {} lines read back, {} durable lines required, {} .gz decompressed, {} cut-short markers, {} second recoveries identical",
            c.states,
            t(c.lines_read),
            t(c.durable_lines),
            t(c.gz_tested),
            c.cut_markers,
            c.idempotent
        );
        println!("  violations: {}", self.errors.count);
        for e in &self.errors.shown {
            println!("    {e}");
        }
        if self.errors.count > self.errors.shown.len() {
            println!(
                "    ... and {} more",
                self.errors.count - self.errors.shown.len()
            );
        }
    }
}
