//! Readers never miss a line because the writer moved on (issue 15, §4).
//!
//! Each race is forced at every point of the reader's work: the writer's step (a rotation, a
//! compression) runs just before the reader's first call through the filesystem seam, then
//! before its second, and so on until the reader makes no more calls; with the directory
//! listed in two reads where the race is a listing's. Then the same readers run beside a
//! real writer rotating and compressing in a loop. And the time window of a writer whose clock
//! stepped back.

mod common;

use std::sync::Arc;

use bunctl_log_fs::{Filesystem, StdFs};
use bunctl_log_read::{cat, last_lines, lines_in_window, Follower, Window};
use common::{is_prefix_run, line, text, HookFs, Logs};

/// Most calls a reader makes in these small directories (a sweep that reaches it is wrong).
const MAX_CALLS: usize = 500;

/// Sweeps `hook_of(logs)` over every call of `read(fs, logs)`: `check(got)` for each.
fn sweep<T>(
    setup: impl Fn(&std::path::Path) -> Logs,
    split_listing: bool,
    hook_of: impl Fn(&Logs) -> common::Hook,
    read: impl Fn(&HookFs, &Logs) -> T,
    check: impl Fn(usize, &Logs, T),
) {
    for at in 0..MAX_CALLS {
        let root = tempfile::tempdir().unwrap();
        let logs = setup(root.path());
        let fs = HookFs::new(at, split_listing, hook_of(&logs));
        let got = read(&fs, &logs);
        let fired = fs.fired();
        check(at, &logs, got);
        if !fired {
            return; // the reader is done before call `at`: every point was tried
        }
    }
    panic!("the reader never finished within {MAX_CALLS} calls");
}

/// Two archives (one gzipped) and a live file, 15 lines.
fn three_files(root: &std::path::Path) -> Logs {
    let mut logs = Logs::new(root, "web.v2");
    logs.append(5);
    let first = logs.rotate();
    logs.compress(first);
    logs.append(5);
    logs.rotate();
    logs.append(5);
    logs
}

/// The writer's rotation: the live file becomes archive 3, the new live file gets 5 lines.
fn rotation(logs: &Logs) -> common::Hook {
    let mut writer = logs.clone();
    Box::new(move || {
        writer.rotate();
        writer.append(5);
    })
}

/// The lines the rotation hook writes.
fn after_rotation(logs: &Logs) -> Vec<String> {
    (logs.next_line..logs.next_line + 5).map(line).collect()
}

fn cat_lines(fs: &dyn Filesystem, logs: &Logs) -> Vec<String> {
    let mut out = Vec::new();
    cat(fs, &logs.live(), &mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `cat` beside a rotation: the live file is renamed to an archive between the reader's
/// listing and its reading. The old reader (list, then open each file by name) printed the
/// archives, then the *new* live file: the lines of the file that was live when it listed
/// were missed, 5 of 15 here (a whole 10 MiB file in the runs).
#[test]
fn cat_misses_no_line_when_the_live_file_rotates_meanwhile() {
    sweep(
        three_files,
        false,
        rotation,
        |fs, logs| cat_lines(fs, logs),
        |at, logs, got| {
            let (before, after) = (logs.all(), after_rotation(logs));
            assert!(
                is_prefix_run(&got, &before, &after),
                "rotation before call {at}: {got:?}"
            );
        },
    );
}

/// `tail -n N` beside a rotation: the last N lines of what was there, possibly with some of
/// what came after, never with a gap.
#[test]
fn last_lines_miss_no_line_when_the_live_file_rotates_meanwhile() {
    for n in [3, 8, 100] {
        sweep(
            three_files,
            false,
            rotation,
            |fs, logs| text(&last_lines(fs, &logs.live(), n).unwrap()),
            |at, logs, got| {
                let mut all = logs.all();
                let after = after_rotation(logs);
                let ok = (0..=after.len()).any(|k| {
                    all.truncate(logs.next_line);
                    all.extend(after[..k].iter().cloned());
                    got == all[all.len().saturating_sub(n)..]
                });
                assert!(ok, "n={n}, rotation before call {at}: {got:?}");
            },
        );
    }
}

/// The plain archive 2 compressed while the directory is listed in two reads (`.gz` names
/// first): the listing has neither `x.log` nor `x.log.gz`. The old reader listed once and
/// missed the archive's lines.
#[test]
fn an_archive_compressed_during_a_listing_is_not_missed() {
    let compression = |logs: &Logs| -> common::Hook {
        let writer = logs.clone();
        Box::new(move || writer.compress(2))
    };
    sweep(
        three_files,
        true,
        compression,
        |fs, logs| cat_lines(fs, logs),
        |at, logs, got| assert_eq!(got, logs.all(), "compression at call {at}"),
    );
    sweep(
        three_files,
        true,
        compression,
        |fs, logs| text(&last_lines(fs, &logs.live(), 12).unwrap()),
        |at, logs, got| assert_eq!(got, logs.all()[3..], "compression at call {at}"),
    );
}

/// Polls `follower` until it is idle twice in a row; everything it handed out, as lines.
fn drain(follower: &mut Follower) -> Vec<String> {
    let mut out = Vec::new();
    let mut idle = 0;
    while idle < 2 {
        let was_idle = follower.poll(&mut |b| {
            out.extend_from_slice(b);
            Ok(())
        });
        idle = if was_idle.unwrap() { idle + 1 } else { 0 };
    }
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `tail -f` beside a writer that rotated twice (the file it followed, then one it never
/// saw live) and compresses while the follower lists the directory in two reads. The old
/// follower skipped the archive being compressed (4 followers in 24 in the runs).
#[test]
fn a_follower_misses_no_archive_compressed_while_it_lists() {
    for seq_compressed in [2, 3] {
        for at in 0..MAX_CALLS {
            let root = tempfile::tempdir().unwrap();
            let mut logs = Logs::new(root.path(), "f");
            logs.append(5);
            logs.rotate();
            logs.append(5);
            let fs = Arc::new(HookFs::unarmed(true));
            let seam: Arc<dyn Filesystem> = fs.clone();
            let mut follower = Follower::new(seam, &logs.live(), 100).unwrap();
            assert_eq!(drain(&mut follower), logs.all());
            let seen = logs.next_line;
            // The followed file rotates (archive 2), then its successor (archive 3).
            logs.append(5);
            logs.rotate();
            logs.append(5);
            logs.rotate();
            logs.append(5);
            let writer = logs.clone();
            fs.arm(at, Box::new(move || writer.compress(seq_compressed)));
            let mut got = drain(&mut follower);
            got.extend(drain(&mut follower));
            assert_eq!(
                got,
                logs.all()[seen..],
                "archive {seq_compressed} compressed at call {at}"
            );
            if !fs.fired() {
                break;
            }
        }
    }
}

/// `tail -f` beside rotations at every point of its work: every line once, in order.
#[test]
fn a_follower_misses_no_line_when_files_rotate_at_any_point() {
    for at in 0..MAX_CALLS {
        let root = tempfile::tempdir().unwrap();
        let mut logs = Logs::new(root.path(), "f");
        logs.append(3);
        let fs = Arc::new(HookFs::unarmed(false));
        let seam: Arc<dyn Filesystem> = fs.clone();
        let mut follower = Follower::new(seam, &logs.live(), 2).unwrap();
        assert_eq!(drain(&mut follower), logs.all()[1..]);
        logs.append(2);
        let mut writer = logs.clone();
        fs.arm(
            at,
            Box::new(move || {
                // Two rotations, the first archive compressed, a file in between.
                let a = writer.rotate();
                writer.append(2);
                writer.compress(a);
                writer.rotate();
                writer.append(2);
            }),
        );
        // The hook may run in the last poll of a drain: the next one reads what it did.
        let mut got = drain(&mut follower);
        got.extend(drain(&mut follower));
        let end = if fs.fired() {
            logs.next_line + 4
        } else {
            logs.next_line
        };
        let want: Vec<String> = (3..end).map(line).collect();
        assert_eq!(got, want, "rotations at call {at}");
        if !fs.fired() {
            break;
        }
    }
}

/// An archive that retention removed between the listing and its reading is passed over (its
/// lines are gone for every reader); the reading goes on.
#[test]
fn an_archive_removed_by_retention_meanwhile_is_passed_over() {
    use bunctl_log_fs::{FaultFs, Op};
    let root = tempfile::tempdir().unwrap();
    let logs = three_files(root.path());
    let (fs, faults) = FaultFs::shared();
    faults.vanish_before(Op::OpenRead, format!("{}.gz", logs.archive(1).display()));
    assert_eq!(cat_lines(fs.as_ref(), &logs), logs.all()[5..]);
    assert_eq!(faults.calls(Op::OpenRead), 3, "live, archive 1, archive 2");
}

/// A real writer (the facade's sink: background rotation, gzip on its own thread) rotating
/// every 4 KiB as fast as it can, and `cat` and `tail -n` in a loop beside it: every output is
/// the lines from the first on, none missing (the old `cat` had a gap in 30 runs of 30 at
/// `--max-size 64K`).
#[test]
fn readers_beside_a_writer_rotating_and_compressing_in_a_loop() {
    use bunctl_log_rotation::{SizePolicy, SystemClock};
    use bunctl_log_sink::{RotatingSink, RotatingSinkConfig, Sink};
    const LINES: usize = 40_000;
    let root = tempfile::tempdir().unwrap();
    let logs = Logs::new(root.path(), "busy");
    let live = logs.live();
    let mut config = RotatingSinkConfig::new(&live);
    config.policy = Box::new(SizePolicy(4 << 10));
    config.max_files = 1 << 20;
    let mut sink = RotatingSink::open(config, StdFs::shared(), Arc::new(SystemClock)).unwrap();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let done = done.clone();
        std::thread::spawn(move || {
            for chunk in (0..LINES).collect::<Vec<_>>().chunks(20) {
                let text: String = chunk.iter().map(|&i| format!("{}\n", line(i))).collect();
                sink.write_all(text.as_bytes()).unwrap();
            }
            sink.close().unwrap();
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        })
    };
    let check_run = |got: &[String], what: &str| {
        let first: usize = match got.first() {
            Some(l) => l[5..].parse().unwrap(),
            None => return,
        };
        for (k, l) in got.iter().enumerate() {
            assert_eq!(
                *l,
                line(first + k),
                "{what}: a gap after {}",
                line(first + k)
            );
        }
    };
    let mut reads = 0;
    while !done.load(std::sync::atomic::Ordering::SeqCst) || reads < 10 {
        let got = cat_lines(&StdFs, &logs);
        if let Some(l) = got.first() {
            assert_eq!(*l, line(0), "cat starts at the first line");
        }
        check_run(&got, "cat");
        let tail = text(&last_lines(&StdFs, &live, 5_000).unwrap());
        check_run(&tail, "tail -n 5000");
        reads += 1;
    }
    writer.join().unwrap();
    assert_eq!(cat_lines(&StdFs, &logs).len(), LINES);
}

/// A writer whose clock went back an hour in the middle of its run (as with libfaketime):
/// archive names are then an hour older than the ones before them. Every window gives exactly
/// the lines whose time is in it, as filtering every line would (the old reader skipped the
/// archive before the step by its successor's name, losing its lines).
#[test]
fn a_time_window_loses_no_line_when_the_clock_stepped_back() {
    use bunctl_log_rotation::{ManualClock, SizePolicy};
    use bunctl_log_sink::{RotatingSink, RotatingSinkConfig, Sink};
    use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
    let root = tempfile::tempdir().unwrap();
    let logs = Logs::new(root.path(), "t");
    let live = logs.live();
    let start = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let mut config = RotatingSinkConfig::new(&live);
    config.policy = Box::new(SizePolicy(400));
    config.max_files = 1 << 20;
    let mut sink = RotatingSink::open(config, StdFs::shared(), clock.clone()).unwrap();
    let mut written: Vec<(DateTime<Utc>, String)> = Vec::new();
    for i in 0..400 {
        if i == 250 {
            clock.set(clock_now(&clock) - chrono::Duration::hours(1));
        }
        let now = clock_now(&clock);
        let l = format!(
            "{} {}",
            now.to_rfc3339_opts(SecondsFormat::Micros, true),
            line(i)
        );
        sink.write_all(format!("{l}\n").as_bytes()).unwrap();
        written.push((now, l));
        clock.advance(std::time::Duration::from_secs(20));
    }
    sink.close().unwrap();
    let names = std::fs::read_dir(&logs.dir).unwrap().count();
    assert!(names > 20, "{names} files");
    assert_eq!(
        cat_lines(&StdFs, &logs),
        written.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>()
    );
    let at = |i: usize| Some(written[i].0);
    for (since, until) in [
        (at(240), None),
        (at(249), None),
        (at(230), at(245)),
        (None, at(260)),
        (at(255), at(300)),
        (at(100), at(399)),
        (None, at(251)),
    ] {
        let window = Window { since, until };
        let mut got = Vec::new();
        lines_in_window(&StdFs, &live, &window, &mut |l| {
            got.push(String::from_utf8(l.to_vec()).unwrap());
            Ok(())
        })
        .unwrap();
        let want: Vec<String> = written
            .iter()
            .filter(|(t, _)| since.is_none_or(|s| *t >= s) && until.is_none_or(|u| *t <= u))
            .map(|(_, l)| l.clone())
            .collect();
        assert!(!want.is_empty());
        assert_eq!(got, want, "{since:?}..{until:?}");
    }
}

fn clock_now(clock: &bunctl_log_rotation::ManualClock) -> chrono::DateTime<chrono::Utc> {
    bunctl_log_rotation::Clock::now(clock)
}
