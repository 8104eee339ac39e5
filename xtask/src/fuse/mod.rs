//! `cargo xtask powerloss --fuse [--runs N] [--seed S]`: the real `bunctl-log pipe` on a
//! filesystem that forgets (issue 17, section 4), after Jepsen's LazyFS.
//!
//! [`lazyfs`] serves a [`model::Tree`] over FUSE: it keeps, for every file and directory, what
//! was last fsynced and the operations since. The campaign ([`mod@campaign`]) runs one
//! `bunctl-log pipe` per producer (each its own app, all in one directory) on the mount,
//! rotating at 4K and compressing; each run ends cleanly (stdin closed, summary, exit 0) or by a
//! power cut: the pipes killed, the filesystem unmounted, every file's and directory's unsynced
//! operations cut to a random prefix, mounted again. After every cut, the state it left is
//! copied to a real directory, recovered there by `pipe` with no input (twice, to see that a
//! second recovery changes nothing) and checked ([`check`]); the campaign goes on on the
//! unrecovered state, so the next run's own recovery is cut too. At the end a clean run on the
//! mount, checked through it.
//!
//! Durable lines are those of runs that ended cleanly (`pipe`'s shutdown fsyncs); `pipe` has no
//! sync flag, so no line of a cut run is promised.

mod campaign;
mod check;
mod lazyfs;
mod model;

/// The crash checker's numbered lines and its line-by-line verifier, compiled here as well (the
/// modules are private to `crash`): the power-cut states are checked by the same rules.
#[path = "../crash/lines.rs"]
#[allow(dead_code, clippy::duplicate_mod)]
mod lines;
#[path = "../crash/verify.rs"]
#[allow(dead_code, clippy::duplicate_mod)]
mod verify;

use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::harness::binary::{build_bunctl_log, work_dir};
use crate::harness::lines::mix;

const USAGE: &str =
    "usage: cargo xtask powerloss --fuse [--runs N] [--seed S]   (N runs, default 30)";

/// SplitMix64: the cut points, reproducible from the seed.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    /// A number below `n` (`n` > 0).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0) % n.max(1)
    }
}

/// What the arguments ask for.
#[derive(Debug)]
struct Args {
    runs: usize,
    seed: Option<u64>,
    lying_fsync: bool,
}

fn parse_args(args: &[OsString]) -> Result<Args, String> {
    let mut out = Args {
        runs: 30,
        seed: None,
        lying_fsync: false,
    };
    let mut it = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            let v = it.next().ok_or(format!("{name} needs a value"))?;
            v.parse::<u64>()
                .map_err(|_| format!("{name} takes a whole number, not {v:?}"))
        };
        match arg.as_str() {
            "--fuse" => {}
            "--lying-fsync" => out.lying_fsync = true,
            "--runs" => {
                let n = value("--runs")?;
                // Run numbers are written with five digits.
                if !(1..=10_000).contains(&n) {
                    return Err(format!("--runs must be between 1 and 10000, not {n}"));
                }
                out.runs = n as usize;
            }
            "--seed" => out.seed = Some(value("--seed")?),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    Ok(out)
}

/// `cargo xtask powerloss --fuse`: 0 if every check held (or FUSE cannot be mounted here:
/// skipped, said on one line), 1 on a violation, 2 on bad arguments.
pub(crate) fn powerloss_fuse(args: &[OsString]) -> Result<(), i32> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let args = parse_args(args).map_err(|e| {
        eprintln!("xtask powerloss --fuse: {e}\n{USAGE}");
        2
    })?;
    let seed = args.seed.unwrap_or_else(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        mix(nanos ^ (u64::from(std::process::id()) << 32))
    });
    if !Path::new("/dev/fuse").exists() {
        println!("xtask powerloss --fuse: skipped: no /dev/fuse on this machine");
        return Ok(());
    }
    let dir = work_dir("powerloss-fuse");
    if let Err(e) = fs::create_dir_all(&dir) {
        eprintln!(
            "xtask powerloss --fuse: cannot create {}: {e}",
            dir.display()
        );
        return Err(1);
    }
    // Before the build: where FUSE cannot be mounted (no privilege, no module, a container
    // without the capability), say so on one line and pass.
    if let Err(e) = probe_mount(&dir) {
        println!("xtask powerloss --fuse: skipped: cannot mount FUSE here ({e})");
        let _ = fs::remove_dir_all(&dir);
        return Ok(());
    }
    let bin = build_bunctl_log()?;
    let start = Instant::now();
    eprintln!(
        "xtask powerloss --fuse: {} runs in {}, seed {seed} (replay: cargo xtask powerloss --fuse --runs {} --seed {seed}){}",
        args.runs,
        dir.display(),
        args.runs,
        if args.lying_fsync { "; fsync ignored (--lying-fsync)" } else { "" }
    );
    let report = match campaign::campaign(&bin, &dir, args.runs, seed, args.lying_fsync) {
        Ok(r) => r,
        Err(campaign::Failure::Mount(e)) => {
            println!("xtask powerloss --fuse: skipped: cannot mount FUSE here ({e})");
            let _ = fs::remove_dir_all(&dir);
            return Ok(());
        }
        Err(campaign::Failure::Other(e)) => {
            eprintln!(
                "xtask powerloss --fuse: FAILED: {e}; the files are kept in {}",
                dir.display()
            );
            return Err(1);
        }
    };
    report.print(seed, start.elapsed());
    if report.errors.count == 0 {
        println!("xtask powerloss --fuse: passed, every check held");
        if let Err(e) = fs::remove_dir_all(&dir) {
            eprintln!(
                "xtask powerloss --fuse: cannot remove {}: {e}",
                dir.display()
            );
        }
        Ok(())
    } else {
        eprintln!(
            "xtask powerloss --fuse: FAILED, {} violation(s); the violating states are kept in {}; seed {seed}",
            report.errors.count,
            dir.display()
        );
        Err(1)
    }
}

/// Mounts an empty forgetting filesystem on `dir/probe`, lists it and unmounts it.
fn probe_mount(dir: &Path) -> Result<(), String> {
    let point = dir.join("probe");
    fs::create_dir_all(&point).map_err(|e| format!("{}: {e}", point.display()))?;
    let tree = std::sync::Arc::new(std::sync::Mutex::new(model::Tree::new()));
    let mounted = lazyfs::mount(tree, &point).map_err(|e| format!("{}: {e}", point.display()))?;
    let listed = fs::read_dir(&point).map(|_| ());
    mounted
        .unmount()
        .map_err(|e| format!("unmounting {}: {e}", point.display()))?;
    listed.map_err(|e| format!("{} mounted but unreadable: {e}", point.display()))?;
    let _ = fs::remove_dir(&point);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn arguments() {
        let a = parse_args(&args(&["--fuse", "--runs", "5", "--seed", "9"])).unwrap();
        assert_eq!((a.runs, a.seed, a.lying_fsync), (5, Some(9), false));
        assert!(
            parse_args(&args(&["--fuse", "--lying-fsync"]))
                .unwrap()
                .lying_fsync
        );
        assert_eq!(parse_args(&args(&["--fuse"])).unwrap().runs, 30);
        assert!(parse_args(&args(&["--runs", "0"])).is_err());
        assert!(parse_args(&args(&["--runs", "x"]))
            .unwrap_err()
            .contains("\"x\""));
        assert!(parse_args(&args(&["--bogus"])).is_err());
    }
}
