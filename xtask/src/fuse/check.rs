//! The invariants of issue 17 section 3 on one recovered state of the log directory, per app:
//! what is left (no `.gz.tmp`, no `.next`, no plain archive beside its `.gz`), every `.gz`
//! decompresses (`gzip -t`), and every line `bunctl-log cat` prints passes the crash checker's
//! [`Verifier`] (each run's lines once, in order, losing at most a tail, a torn line only with
//! the cut-short marker after it), with every line of a run that ended cleanly present.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use bunctl_log_rotation::{ArchiveForm, ArchiveNaming, GZ_SUFFIX};

use super::verify::{verify_cat, Pos, Verifier};
use crate::harness::binary::bunctl_log;
use crate::harness::files::gzip_test;
use crate::harness::report::Errors;

/// What the checks of one state counted.
#[derive(Default, Debug, Clone, Copy)]
pub(super) struct Counts {
    pub(super) states: u64,
    pub(super) lines_read: u64,
    pub(super) durable_lines: u64,
    pub(super) gz_tested: u64,
    pub(super) files_seen: u64,
    pub(super) cut_markers: u64,
    pub(super) idempotent: u64,
}

impl Counts {
    pub(super) fn add(&mut self, o: &Counts) {
        self.states += o.states;
        self.lines_read += o.lines_read;
        self.durable_lines += o.durable_lines;
        self.gz_tested += o.gz_tested;
        self.files_seen += o.files_seen;
        self.cut_markers += o.cut_markers;
        self.idempotent += o.idempotent;
    }
}

/// What the campaign knows of one app: lines fed per run, and which runs ended cleanly.
pub(super) struct Expect<'a> {
    pub(super) fed: &'a [u64],
    pub(super) clean: &'a [bool],
}

/// Checks app `app`'s files in `dir` after a recovery; violations go to `errors`, prefixed
/// with `state`.
pub(super) fn check_app(
    bin: &Path,
    dir: &Path,
    app: &str,
    expect: &Expect<'_>,
    state: &str,
    errors: &mut Errors,
) -> Counts {
    let mut counts = Counts {
        states: 1,
        ..Counts::default()
    };
    let mut gz = Vec::new();
    let mut plain = Vec::new();
    // The library's own names: what is an archive of `app`, and its `.next` file.
    let naming = match ArchiveNaming::new(&dir.join(format!("{app}.log"))) {
        Ok(n) => n,
        Err(e) => {
            errors.push(format!("{state}: {app}: not an app's log name: {e}"));
            return counts;
        }
    };
    let next = naming.next_path();
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path() == next {
                errors.push(format!(
                    "{state}: {app}: {name} left after recovery (an interrupted rotation not finished)"
                ));
            }
            match naming.parse(&name).map(|f| f.form) {
                Some(ArchiveForm::GzipTemp) => errors.push(format!(
                    "{state}: {app}: {name} left after recovery (a compression not cleaned up)"
                )),
                Some(ArchiveForm::Gzip) => gz.push(entry.path()),
                Some(ArchiveForm::Plain) => plain.push(name),
                None => {}
            }
            counts.files_seen += 1;
        }
    }
    for p in &plain {
        if gz.iter().any(|g| {
            g.file_name()
                .is_some_and(|n| *n == *format!("{p}{GZ_SUFFIX}"))
        }) {
            errors.push(format!(
                "{state}: {app}: {p} beside its .gz after recovery (one of them should be gone)"
            ));
        }
    }
    gz.sort();
    counts.gz_tested += gz.len() as u64;
    gzip_test(&gz, state, errors);
    match verify_lines(bin, dir, app, expect) {
        Ok((v, files, read)) => {
            counts.lines_read = read;
            counts.cut_markers = v.cut_partial + v.cut_whole;
            let name = |p: &Pos| {
                files
                    .get(p.file)
                    .map_or_else(|| "?".to_string(), |f| f.display().to_string())
            };
            for (at, msg) in &v.errors {
                errors.push(format!(
                    "{state}: {app}: {}:{} (line {} of cat): {msg}",
                    name(at),
                    at.line,
                    at.cat_line
                ));
            }
            errors.count += v.unshown;
            for (r, &found) in v.found.iter().enumerate() {
                let fed = expect.fed.get(r).copied().unwrap_or(0);
                if found > fed {
                    errors.push(format!(
                        "{state}: {app}: run {r}: {found} lines in the files, only {fed} fed"
                    ));
                }
                if expect.clean.get(r).copied().unwrap_or(false) {
                    counts.durable_lines += fed;
                    if found != fed {
                        errors.push(format!(
                            "{state}: {app}: run {r} ended cleanly with {fed} lines, {found} of them are in the files: durable lines lost"
                        ));
                    }
                }
            }
        }
        Err(e) => errors.push(format!("{state}: {app}: {e}")),
    }
    counts
}

/// `bunctl-log cat`'s lines of `app` in `dir`, through the verifier; also the files (for
/// naming a line's file) and the number of lines read. No files at all is no lines.
fn verify_lines(
    bin: &Path,
    dir: &Path,
    app: &str,
    expect: &Expect<'_>,
) -> Result<(Verifier, Vec<PathBuf>, u64), String> {
    let mut v = Verifier::new(expect.fed.len());
    let Ok((files, ends)) = crate::harness::files::log_files(bin, app, dir) else {
        // `files` exits 1 with "no logs for app": what a cut of everything leaves.
        return Ok((v, Vec::new(), 0));
    };
    let (_, line) = verify_cat(bin, app, dir, &ends, &mut v)?;
    v.finish();
    Ok((v, files, line))
}

/// `bunctl-log cat`'s whole output for `app` (empty if it has no files): compared before and
/// after a second recovery.
pub(super) fn cat_bytes(bin: &Path, dir: &Path, app: &str) -> Result<Vec<u8>, String> {
    let out = bunctl_log(bin, "cat", app, dir)
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run bunctl-log cat: {e}"))?;
    Ok(out.stdout)
}
