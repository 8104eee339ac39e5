//! `cargo xtask`: the project's automation, in Rust, with no dependencies but two of the
//! workspace's crates (for the marker texts the crash check looks for).
//!
//! ```text
//! cargo xtask bench [ARGS...]         end-to-end benchmark (benches/benches/e2e/), e.g. --quick
//! cargo xtask bench-layers [ARGS...]  criterion benchmarks per layer (benches/benches/layers.rs)
//! cargo xtask fuzz [SECONDS]          fuzz the line buffer (default 60 s; installs cargo-fuzz)
//! cargo xtask crash [N] [--seed S]    kill `bunctl-log pipe` N times, check the files (crash/)
//! cargo xtask powerloss [--any-order] every power-cut state of a rotating writer, checked
//! cargo xtask powerloss --fuse [--runs N] [--seed S]
//!                                     the real `pipe` on a FUSE filesystem that forgets (fuse/)
//! cargo xtask shipper [--lines N] [--rate R] [--max-size SIZE]
//!                                     ship the files with a private rsyslogd (shipper/)
//! cargo xtask ci                      what CI runs: bash .ci/run
//! ```
//!
//! Every command runs from the workspace root, inherits stdio and passes the exit code of the
//! first failing step through. `CARGO_TARGET_DIR` is honoured where results are looked up.

mod crash;
mod fuse;
mod harness;
mod shipper;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const HELP: &str = "\
cargo xtask: project automation

USAGE:
    cargo xtask <COMMAND> [ARGS...]

COMMANDS:
    bench [ARGS...]         Run the end-to-end benchmark (release build):
                              cargo bench -p bunctl-log-benches --features peers --bench e2e -- ARGS...
                            Useful ARGS: --quick, --runs N, --workloads a,b, --systems a,b,
                            --out PATH, --nofile N (see `cargo xtask bench --help`).
                            --quick leaves out idle10000 (10,000 writers take minutes to
                            open and close) unless --workloads names it.
                            Results: <target>/bench/e2e-latest.json (and e2e-<unix time>.json).
    bench-layers [ARGS...]  Run the criterion benchmarks per layer:
                              cargo bench -p bunctl-log-benches --features peers --bench layers -- ARGS...
    fuzz [SECONDS]          Fuzz the line buffer for SECONDS (default 60); installs cargo-fuzz
                            if missing: cargo fuzz run --sanitizer none line_buffer
    crash [N] [--seed S]    Crash consistency: run `bunctl-log pipe` N times (default 100) on
                            one directory, rotating at 64K, killing each run but the last with
                            SIGKILL at a random moment (seeded: S, or the time; printed), then
                            check every .gz with gzip -t, that no .gz.tmp or uncompressed
                            archive is left, and that `bunctl-log cat` shows every line once, in
                            order, whole or cut short and marked. Prints what the kills left
                            and the lines lost per kill. Work dir: <target>/crash/<time>-<pid>,
                            removed on success, kept on failure.
    powerloss [--any-order] Power loss, every state: the power_loss test of bunctl-logging
                            (release build) with BUNCTL_POWERLOSS_STATES=all, so every cut of
                            the recorded operations is built and checked, not a sample; with
                            --any-order, also under the weaker model where any one unsynced
                            directory entry is lost alone (BUNCTL_POWERLOSS_ORDER=any).
    powerloss --fuse [--runs N] [--seed S]
                            The real release `bunctl-log pipe` (2 producers, rotating at 4K or
                            1M, compressing) on a FUSE filesystem that keeps what was not
                            fsynced apart (like Jepsen's LazyFS); N runs (default 30), most ended
                            by a power cut (unsynced writes and directory changes cut to a random
                            prefix); each cut's state recovered on a copy and checked (durable
                            lines once and in order, no torn line unmarked, .gz valid, no
                            leftovers, a second recovery changes nothing). Without FUSE: prints
                            \"skipped\" and exits 0. Work dir: <target>/powerloss-fuse/<time>-<pid>.
    shipper [--lines N] [--rate R] [--max-size SIZE]
                            Ship the files with a real log shipper: install rsyslog with apt-get
                            if rsyslogd is missing (root), start a private rsyslogd (own config,
                            pid file and state dir; no system inputs) whose imfile follows
                            DIR/ship.log, push N numbered lines (default 300000) through
                            `bunctl-log pipe --max-size 256K` (or SIZE; from 512K on, rotations
                            finish in the background) as fast as the pipe takes them (or
                            R lines/s), wait for the delivery, stop rsyslogd, and check that it
                            delivered every line once, in order, unaltered; the files are read
                            back too, to name the file of any line it missed. Work dir:
                            <target>/shipper/<time>-<pid>, removed on success, kept on failure.
                            imfile only reads a file it opened before it was renamed away: at
                            full speed it misses whole files; CI runs it with --rate 20000
                            --max-size 1M (files living 0.4 s).
    ci                      What CI runs: bash .ci/run (fmt check, clippy -D warnings,
                            rustdoc -D warnings, cargo test --workspace,
                            cargo xtask crash 10,
                            cargo xtask shipper --rate 20000 --max-size 1M,
                            cargo xtask bench --quick)
    help, --help, -h        Print this help

ENVIRONMENT:
    CARGO_TARGET_DIR        Where builds and benchmark results go (default <workspace>/target)
";

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(command) = args.next() else {
        eprint!("{HELP}");
        return ExitCode::from(2);
    };
    let rest: Vec<OsString> = args.collect();
    let result = match command.to_str() {
        Some("bench") => bench("e2e", &rest),
        Some("bench-layers") => bench("layers", &rest),
        Some("fuzz") => fuzz(&rest),
        Some("crash") => crash::crash(&rest),
        Some("shipper") => shipper::shipper(&rest),
        Some("powerloss") if rest.iter().any(|a| a == "--fuse") => fuse::powerloss_fuse(&rest),
        Some("powerloss") => powerloss(&rest),
        Some("ci") => ci(&rest),
        Some("help" | "--help" | "-h") => {
            print!("{HELP}");
            Ok(())
        }
        _ => {
            eprintln!("xtask: unknown command {command:?}\n");
            eprint!("{HELP}");
            Err(2)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => ExitCode::from(u8::try_from(code.clamp(1, 255)).unwrap_or(1)),
    }
}

/// The workspace root: the parent of this package's directory.
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The target directory: `CARGO_TARGET_DIR` (relative to the root if relative) or `<root>/target`.
fn target_dir() -> PathBuf {
    let root = workspace_root();
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

/// Runs `command`, inheriting stdio; `Err(exit code)` if it failed.
fn run(mut command: Command) -> Result<(), i32> {
    eprintln!("xtask: running {command:?}");
    match command.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => {
            eprintln!("xtask: {command:?} failed: {status}");
            Err(status.code().unwrap_or(1))
        }
        Err(e) => {
            eprintln!("xtask: cannot run {command:?}: {e}");
            Err(127)
        }
    }
}

fn bench(name: &str, args: &[OsString]) -> Result<(), i32> {
    // `cargo xtask bench -- --quick` reads naturally; the benchmark gets its arguments after
    // cargo's own `--` either way.
    let args = match args.split_first() {
        Some((first, rest)) if first == "--" => rest,
        _ => args,
    };
    let mut command = cargo();
    command
        .args(["bench", "-p", "bunctl-log-benches", "--features", "peers"])
        .args(["--bench", name, "--"])
        .args(args);
    let result = run(command);
    if name == "e2e" && result.is_ok() && !args.iter().any(|a| a == "--help" || a == "--one") {
        let latest = target_dir().join("bench").join("e2e-latest.json");
        if latest.exists() {
            eprintln!("xtask: results in {}", latest.display());
        }
    }
    result
}

fn fuzz(args: &[OsString]) -> Result<(), i32> {
    let seconds: u64 = match args.first().map(|a| a.to_string_lossy().into_owned()) {
        None => 60,
        Some(s) => s.parse().map_err(|_| {
            eprintln!("xtask fuzz: SECONDS must be a whole number, not {s:?}");
            2
        })?,
    };
    let has_cargo_fuzz = cargo()
        .args(["fuzz", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_cargo_fuzz {
        let mut install = cargo();
        install.args(["install", "cargo-fuzz"]);
        run(install)?;
    }
    // New inputs go to a scratch corpus under target/; the committed seeds are only read, so a
    // fuzz run never leaves hundreds of generated files in the source tree.
    let scratch = workspace_root().join("target/fuzz-corpus/line_buffer");
    if let Err(e) = std::fs::create_dir_all(&scratch) {
        eprintln!("xtask fuzz: cannot create {}: {e}", scratch.display());
        return Err(1);
    }
    let mut command = cargo();
    command
        .current_dir(workspace_root().join("fuzz"))
        .args(["fuzz", "run", "--sanitizer", "none", "line_buffer"])
        .arg(&scratch)
        .arg("corpus/line_buffer")
        .arg("--")
        .arg(format!("-max_total_time={seconds}"));
    run(command)
}

fn powerloss(args: &[OsString]) -> Result<(), i32> {
    let mut any_order = false;
    for a in args {
        match a.to_str() {
            Some("--any-order") => any_order = true,
            _ => {
                eprintln!("xtask powerloss: unknown argument {a:?} (only --any-order)");
                return Err(2);
            }
        }
    }
    let mut command = cargo();
    command
        .args([
            "test",
            "--release",
            "-p",
            "bunctl-logging",
            "--test",
            "power_loss",
        ])
        .args(["--", "--nocapture"])
        .env("BUNCTL_POWERLOSS_STATES", "all");
    if any_order {
        command.env("BUNCTL_POWERLOSS_ORDER", "any");
    }
    run(command)
}

fn ci(args: &[OsString]) -> Result<(), i32> {
    if !args.is_empty() {
        eprintln!("xtask ci: takes no arguments");
        return Err(2);
    }
    // One definition of CI: the script CI itself runs.
    let mut command = Command::new("bash");
    command.arg(workspace_root().join(".ci/run"));
    run(command)
}
