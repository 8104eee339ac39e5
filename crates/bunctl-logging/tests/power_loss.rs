//! Power loss, explored state by state: a writer rotating (in the foreground and through
//! `.next` in the background), compressing and applying retention runs on a [`CrashFs`];
//! then, for cuts along the record, every state a power cut there could leave is built in a
//! fresh directory, opened (recovery), closed, opened and closed again, and checked:
//!
//! 1. recovery keeps every whole line the crashed state held (it may add markers, never drop
//!    or repeat a line, even one it finds twice across a plain archive and its `.gz`);
//! 2. no line is torn unflagged: every line read back is a line written, or a marker, or
//!    the cut tail of a file (not yet durable when the power went), followed by
//!    [`CUT_LINE_MARKER`];
//! 3. each producer's lines are in order;
//! 4. at a cut after `shutdown()` returned, every line the files held then is there, once
//!    (retention's deletions during the run are the only lines gone);
//! 5. at a cut after a `sync()` returned, every line its producer wrote before it is there,
//!    unless retention deleted its archive by the end of the run (counted apart);
//! 6. every archive, in the crashed state and after recovery, is whole: a `.gz` decompresses
//!    in full, a plain archive ends with its last line's `\n`;
//! 7. after recovery nothing is left that recovery cannot explain (no `.gz.tmp`, no `.next`,
//!    no plain archive beside its `.gz`), and the second open and close change no byte of any
//!    file (recovery is idempotent);
//! 8. a power cut is a reboot: where the state kept the writer's open-file record (rewritten
//!    here to another boot's id), recovery writes one `SystemWentDown` marker, where the
//!    lines lost between two lines would have been; where it did not, none.
//!
//! Each check's count is printed at the end (`--nocapture`).
//!
//! Recovery is run with retention off (`max_files` large), so that check 1 sees what
//! recovery itself keeps; the run itself keeps 4 archives. The test samples cuts evenly
//! (about `states` per workload);
//! `BUNCTL_POWERLOSS_STATES=all` (what `cargo xtask powerloss` sets) explores every cut, and
//! `BUNCTL_POWERLOSS_ORDER=any` the weaker model where any one unsynced directory entry can
//! be lost alone ([`DirOrder::AnySubset`]). `BUNCTL_POWERLOSS_LOG=1` prints the record.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use bunctl_logging::testing::{CrashFs, CrashLog, CrashState, DirOrder};
use bunctl_logging::{
    list_log_files, AsyncLogWriter, LogWriterConfig, RotationConfig, RotationStrategy, SystemClock,
    WriterOptions, CUT_LINE_MARKER,
};

struct Workload {
    name: &'static str,
    /// About how many crash states to check in a normal test run.
    states: usize,
    max_size: u64,
    producers: usize,
    lines_each: usize,
    line_len: usize,
    /// Each producer calls `sync()` after every this many lines.
    sync_every: usize,
}

/// A `sync()` that returned: at this point of the record, producer `producer`'s lines up to
/// `upto` (inclusive) were durable.
#[derive(Clone, Copy)]
struct Synced {
    at: usize,
    producer: usize,
    upto: usize,
}

fn line(p: usize, n: usize, len: usize) -> String {
    let head = format!("p{p}-{n:07}-");
    let pad = len.saturating_sub(head.len());
    format!("{head}{}", "x".repeat(pad))
}

/// The workload's config; with `keep_all`, retention off (recovery's own runs).
fn config(live: &Path, w: &Workload, keep_all: bool) -> LogWriterConfig {
    LogWriterConfig {
        path: live.to_path_buf(),
        rotation: RotationConfig {
            strategy: RotationStrategy::Size(w.max_size),
            max_files: if keep_all { 10_000 } else { 4 },
            compression: true,
        },
        ..LogWriterConfig::default()
    }
}

/// Runs the workload on a recording filesystem; returns the record, the position right
/// after `shutdown()` returned, and the lines the files held then.
async fn record(root: &Path, w: &Workload) -> (CrashLog, usize, Vec<String>, Vec<Synced>) {
    std::fs::create_dir_all(root).unwrap();
    let (fs, log) = CrashFs::shared(root).unwrap();
    let live = root.join("app.log");
    let writer = Arc::new(
        AsyncLogWriter::open_with_io(
            config(&live, w, false),
            WriterOptions::default(),
            fs,
            Arc::new(SystemClock),
        )
        .await
        .unwrap(),
    );
    let synced = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for p in 0..w.producers {
        let (writer, log, synced) = (writer.clone(), log.clone(), synced.clone());
        let (lines, len, every) = (w.lines_each, w.line_len, w.sync_every);
        tasks.push(tokio::spawn(async move {
            for n in 0..lines {
                writer.write_line_async(line(p, n, len)).await.unwrap();
                if n % every == every - 1 {
                    writer.sync().await.unwrap();
                    let at = log.mark();
                    synced.lock().unwrap().push(Synced {
                        at,
                        producer: p,
                        upto: n,
                    });
                } else if n % 97 == 0 {
                    writer.flush().await.unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    writer.shutdown().await.unwrap();
    let done = log.mark();
    let synced = synced.lock().unwrap().clone();
    (log, done, read_back(&live), synced)
}

/// Every line in `dir`'s files for `live`, in file order.
fn read_back(live: &Path) -> Vec<String> {
    let files = list_log_files(live).unwrap();
    let bytes = common::read_files(&files);
    common::lines(&bytes)
        .into_iter()
        .map(|l| String::from_utf8(l.to_vec()).unwrap())
        .collect()
}

/// The whole lines a crashed state holds, as a reader after recovery should find them: an
/// archive's `.gz` and its plain twin (a compression cut after its commit) count once.
fn lines_in_state(state: &CrashState, scratch: &Path) -> Vec<String> {
    state.materialize(scratch).unwrap();
    let live = scratch.join("app.log");
    let mut seen = Vec::new();
    for f in list_log_files(&live).unwrap() {
        // A .gz in a crashed state is whole (it is renamed into place after its fsync):
        // read_files panics on one that is not.
        let text = common::read_files(std::slice::from_ref(&f));
        for l in text.split(|&b| b == b'\n') {
            seen.push(String::from_utf8_lossy(l).into_owned());
        }
        // The last piece of a file without its newline is a torn line, not a line.
        seen.pop();
    }
    seen
}

/// What each check looked at, summed over the states.
#[derive(Default)]
struct Checked {
    states: usize,
    /// Check 1: whole lines of a crashed state found again after recovery.
    kept: usize,
    /// Check 2: lines not written whole, each followed by the cut-short marker.
    torn_flagged: usize,
    /// Checks 3 and the "once" of 4: lines read back, each once and in its producer's order.
    lines_once_in_order: usize,
    /// Check 4: lines the files held at shutdown, found after a cut past it.
    after_shutdown: usize,
    /// Check 5: synced lines found; synced lines whose archive retention deleted.
    synced: usize,
    synced_expired: usize,
    /// Check 6: archives found whole (`.gz` decompressed in full, plain ending in `\n`).
    archives_whole: usize,
    /// Check 7: states left clean and unchanged by a second recovery.
    clean_and_idempotent: usize,
    /// Check 8: states with the open-file record (each marked once), and without (none).
    went_down_marked: usize,
    no_record_unmarked: usize,
}

/// Every file under `root` with its bytes.
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    common::dir_names(root)
        .into_iter()
        .map(|n| {
            let bytes = std::fs::read(root.join(&n)).unwrap();
            (n, bytes)
        })
        .collect()
}

/// Check 6 on the log files of `live`: the number of archives (all but the live file), each
/// whole.
fn archives_whole(live: &Path, what: &str) -> usize {
    let mut n = 0;
    for f in list_log_files(live).unwrap().iter().filter(|f| *f != live) {
        // read_files decompresses a .gz in full and panics on one that is not valid.
        let text = common::read_files(std::slice::from_ref(f));
        assert!(
            text.is_empty() || text.ends_with(b"\n"),
            "{what}: archive {} is cut short",
            f.display()
        );
        n += 1;
    }
    n
}

/// What a failure message shows of a state: its files and their sizes, before and after.
fn listing(state: &CrashState, after: &Path) -> String {
    let before: Vec<String> = state
        .files()
        .iter()
        .map(|(p, b)| format!("{} {}", p.display(), b.len()))
        .collect();
    let after: Vec<String> = common::dir_names(after)
        .into_iter()
        .map(|n| {
            let len = std::fs::metadata(after.join(&n)).map_or(0, |m| m.len());
            format!("{n} {len}")
        })
        .collect();
    format!("crashed: {before:?}\nrecovered: {after:?}")
}

/// The lines known durable at a cut after `at` operations: each producer's lines up to its
/// last `sync()` that returned by then, kept only if the run's end still held them (retention
/// deleted the others' archives; their number is returned apart).
fn durable_at(at: usize, synced: &[Synced], end: &[String], w: &Workload) -> (Vec<String>, usize) {
    let mut upto: HashMap<usize, usize> = HashMap::new();
    for s in synced.iter().filter(|s| s.at <= at) {
        let u = upto.entry(s.producer).or_insert(s.upto);
        *u = (*u).max(s.upto);
    }
    let kept: std::collections::HashSet<&str> = end.iter().map(String::as_str).collect();
    let (mut durable, mut expired) = (Vec::new(), 0);
    for (&p, &last) in &upto {
        for n in 0..=last {
            let l = line(p, n, w.line_len);
            if kept.contains(l.as_str()) {
                durable.push(l);
            } else {
                expired += 1;
            }
        }
    }
    (durable, expired)
}

async fn check_state(
    state: &CrashState,
    dir: &Path,
    w: &Workload,
    at_end: Option<&[String]>,
    durable: &[String],
    checked: &mut Checked,
) {
    let before = lines_in_state(state, &dir.join("before"));
    checked.archives_whole += archives_whole(
        &dir.join("before/app.log"),
        &format!("{} (as crashed)", state.description),
    );
    let root = dir.join("after");
    state.materialize(&root).unwrap();
    let live = root.join("app.log");
    let record = bunctl_log_rotation::ArchiveNaming::new(&live)
        .unwrap()
        .open_record_path();
    let had_record = record.exists();
    if had_record {
        std::fs::write(&record, "a-boot-before-the-power-cut\n").unwrap();
    }
    let mut recovered = Vec::new();
    for _ in 0..2 {
        let writer = AsyncLogWriter::new(config(&live, w, true)).await.unwrap();
        writer.shutdown().await.unwrap();
        recovered.push(snapshot(&root));
    }
    let after = read_back(&live);
    let what = &format!("{}\n{}", state.description, listing(state, &root));
    checked.states += 1;

    // Check 7.
    for name in recovered[0].keys() {
        let left = name.ends_with(bunctl_log_rotation::OPEN_SUFFIX)
            || name.ends_with(bunctl_log_rotation::TMP_SUFFIX)
            || name.ends_with(bunctl_log_rotation::NEXT_SUFFIX);
        let twin = format!("{name}{}", bunctl_log_rotation::GZ_SUFFIX);
        assert!(
            !left && !recovered[0].contains_key(&twin),
            "{what}: recovery left {name}"
        );
    }
    assert!(
        recovered[0] == recovered[1],
        "{what}: a second recovery changed the files: {:?} then {:?}",
        recovered[0].keys().collect::<Vec<_>>(),
        recovered[1].keys().collect::<Vec<_>>()
    );
    checked.clean_and_idempotent += 1;

    // Check 8.
    let went_down = bunctl_logging::Marker::SystemWentDown.to_string();
    let marks = after
        .iter()
        .filter(|l| bunctl_logging::marker_text(l.as_bytes()) == Some(went_down.as_bytes()))
        .count();
    if had_record {
        assert_eq!(
            marks, 1,
            "{what}: the open-file record was left, the marker not once"
        );
        checked.went_down_marked += 1;
    } else {
        assert_eq!(marks, 0, "{what}: no open-file record was left, yet marked");
        checked.no_record_unmarked += 1;
    }
    checked.archives_whole += archives_whole(&live, what);

    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut last: HashMap<usize, usize> = HashMap::new();
    let cut_marker = String::from_utf8_lossy(CUT_LINE_MARKER);
    let cut_marker = cut_marker.trim_end_matches('\n');
    for (i, l) in after.iter().enumerate() {
        if common::is_marker(l.as_bytes()) {
            continue;
        }
        let whole = parse(l).filter(|&(p, n)| *l == line(p, n, w.line_len));
        let Some((p, n)) = whole else {
            let flagged = after.get(i + 1).is_some_and(|m| m == cut_marker);
            assert!(
                flagged,
                "{what}: torn line {l:?} without the cut-line marker"
            );
            checked.torn_flagged += 1;
            continue;
        };
        *counts.entry(l.as_str()).or_default() += 1;
        if let Some(prev) = last.insert(p, n) {
            assert!(n > prev, "{what}: producer {p} line {n} after {prev}");
        }
    }
    for (l, c) in &counts {
        assert_eq!(*c, 1, "{what}: {l} read back {c} times");
    }
    checked.lines_once_in_order += counts.len();
    for l in before.iter().filter(|l| parse(l).is_some()) {
        assert!(
            counts.contains_key(l.as_str()),
            "{what}: {l} was in the crashed files and recovery lost it"
        );
        checked.kept += 1;
    }
    for l in durable {
        assert!(
            counts.contains_key(l.as_str()),
            "{what}: {l} was synced before the cut and is lost"
        );
    }
    checked.synced += durable.len();
    if let Some(end) = at_end {
        for l in end.iter().filter(|l| parse(l).is_some()) {
            assert!(
                counts.contains_key(l.as_str()),
                "{what}: {l} lost after shutdown"
            );
            checked.after_shutdown += 1;
        }
    }
}

fn parse(l: &str) -> Option<(usize, usize)> {
    let rest = l.strip_prefix('p')?;
    let (p, rest) = rest.split_once('-')?;
    let (n, _) = rest.split_once('-')?;
    Some((p.parse().ok()?, n.parse().ok()?))
}

async fn explore(w: Workload) {
    common::init_tracing();
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("a/b/c");
    let (log, done, at_end, synced) = record(&base.join("recorded"), &w).await;
    let all = std::env::var("BUNCTL_POWERLOSS_STATES").is_ok_and(|v| v == "all");
    let order = match std::env::var("BUNCTL_POWERLOSS_ORDER").as_deref() {
        Ok("any") => DirOrder::AnySubset,
        _ => DirOrder::InOrder,
    };
    let len = log.len();
    if std::env::var_os("BUNCTL_POWERLOSS_LOG").is_some() {
        for (i, op) in log.describe().iter().enumerate() {
            eprintln!("{}: {op}", i + 1);
        }
    }
    let per_cut = [len / 4, len / 2, 3 * len / 4, len]
        .iter()
        .map(|&at| log.states_at(at, DirOrder::InOrder).len())
        .max()
        .unwrap_or(1)
        .max(1);
    let stride = if all {
        1
    } else {
        (len * per_cut / w.states).max(1)
    };
    let mut cuts: Vec<usize> = (0..=len).step_by(stride).collect();
    cuts.push(done); // after shutdown: everything durable
    let mut checked = Checked::default();
    let cut_count = cuts.len();
    for at in cuts {
        let (durable, expired) = durable_at(at, &synced, &at_end, &w);
        for (i, state) in log.states_at(at, order).iter().enumerate() {
            let dir = base.join(format!("state-{at}-{i}"));
            let end = (at >= done).then_some(at_end.as_slice());
            check_state(state, &dir, &w, end, &durable, &mut checked).await;
            checked.synced_expired += expired;
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
    let c = &checked;
    eprintln!(
        "{}: {len} operations recorded, {} syncs, {cut_count} cuts, {} crash states explored \
         ({order:?}); checks passed: 1 kept {} lines of crashed states, 2 flagged {} torn \
         lines, 3+4 read {} lines once and in order, 4 found {} lines of the files at shutdown, \
         5 found {} synced lines ({} more whose archive retention deleted, not checked), 6 \
         found {} archives whole, 7 left {} states clean and unchanged by a second recovery, \
         8 marked {} states that kept the open-file record and left {} without it unmarked",
        w.name,
        synced.len(),
        c.states,
        c.kept,
        c.torn_flagged,
        c.lines_once_in_order,
        c.after_shutdown,
        c.synced,
        c.synced_expired,
        c.archives_whole,
        c.clean_and_idempotent,
        c.went_down_marked,
        c.no_record_unmarked,
    );
    assert!(
        c.went_down_marked > 0,
        "no state kept the open-file record: check 8 proved nothing"
    );
    assert!(c.states > 0);
    assert!(
        c.synced > 0,
        "no cut came after a sync: the check proved nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreground_rotation_survives_every_power_cut() {
    explore(Workload {
        name: "foreground",
        states: 600,
        max_size: 4 << 10,
        producers: 3,
        lines_each: 400,
        line_len: 60,
        sync_every: 150,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_rotation_survives_every_power_cut() {
    explore(Workload {
        name: "background",
        states: 140,
        max_size: 520 << 10,
        producers: 2,
        lines_each: 8_000,
        line_len: 100,
        sync_every: 2_500,
    })
    .await;
}
