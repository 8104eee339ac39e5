//! End-to-end benchmark: the same workloads through bunctl-logging, tracing-appender,
//! spdlog-rs, fast_log, ftlog and a plain `BufWriter<File>` ceiling, in one invocation on one
//! machine.
//!
//! Run it with `cargo xtask bench [--quick] [--runs N] [--workloads a,b] [--systems a,b]
//! [--out PATH]` (that is `cargo bench -p bunctl-log-benches --bench e2e -- ARGS`).
//!
//! The binary has three modes:
//! - driver (`cargo bench` passes `--bench`): for every (workload, system, run) it re-executes
//!   itself with `--one SYSTEM WORKLOAD --lines N`, so every measurement has its own process
//!   (clean peak RSS, no cross-talk); it collects one JSON line per child, takes medians, prints
//!   markdown tables on stdout and writes `<target>/bench/e2e-<unix time>.json` and
//!   `<target>/bench/e2e-latest.json`;
//! - child (`--one ...`): one measurement;
//! - smoke (no `--bench`, as under `cargo test --benches`): every system and workload (but
//!   `idle10000`, unless named) with 2,000 lines, a twentieth of the idle writers, 50 apps in
//!   `apps1000`, one run, no JSON file; fails if bunctl-logging (lossless) or the ceiling
//!   loses or tears a line.
//!
//! The workloads: `single`, `tasks100`, `threads4`, `rotating` (lines written directly),
//! `tracing` (`tracing::info!` through the same `fmt` layer), and bunctl's own: `apps1000`
//! (1,000 apps at 10 lines/s and a busy app in one `LogManager`), `idle1000` and `idle10000`
//! (idle writers). `--quick` runs a twentieth of the lines and leaves out `idle10000` unless
//! it is named.
//!
//! Lines are exactly 100 bytes (`p{producer:03} s{seq:09} ` and a fixed filler) plus the
//! `\n` that each system adds (ftlog also writes a ` {delay}ms ` prefix it cannot leave out).
//! The clock stops when every line is in the OS page cache (bunctl: `flush()`; each system's
//! point is printed in the report); bunctl's `shutdown()` is timed after it, on its own. Then
//! every file of the run is read back (gzip included) and each line is checked: valid, torn
//! (anything else), duplicate; lost = expected − distinct valid lines.
//!
//! The modules, one job each:
//! - [`options`]: the command line (`--quick`, `--runs`, ...) and the usage text;
//! - [`workload`] and [`systems`]: what is measured, and each system under test (bunctl,
//!   tracing-appender, spdlog-rs, fast_log, ftlog, the `BufWriter` ceiling) set up, fed,
//!   flushed and closed;
//! - [`log_facade`]: fast_log and ftlog, the peers behind the `log` facade;
//! - [`shape`]: what each system writes around the line, taken off at read-back;
//! - [`tracing_fmt`]: the `tracing` workload's subscriber, the same `fmt` layer for every
//!   system;
//! - [`line`]: the 100-byte line every producer writes and the read-back parses;
//! - [`producer`]: the producer loops and their latency histograms;
//! - [`driver`] and [`child`]: the plan of measurements, each run in its own process;
//! - [`measure`]: one throughput measurement inside a child;
//! - [`apps`]: `apps1000`, 1,000 quiet apps and a busy one in one `LogManager`;
//! - [`idle`]: idle writers (1,000 or 10,000): threads, memory, CPU, wake-ups, `close_all`;
//! - [`procfs`]: `/proc` sampling (CPU ticks, context switches, RSS, threads);
//! - [`readback`]: reading the files back and counting valid, lost, torn, duplicated lines;
//! - [`stats`]: medians and the summary of several runs;
//! - [`report`]: the markdown tables and the JSON file.

mod apps;
mod child;
mod driver;
mod idle;
mod line;
mod log_facade;
mod measure;
mod options;
mod procfs;
mod producer;
mod readback;
mod report;
mod shape;
mod stats;
mod systems;
mod tracing_fmt;
mod workload;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use child::child;
use driver::drive;
use options::{parse_options, USAGE};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, BoxError>;

fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace_root().join(dir),
        _ => workspace_root().join("target"),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--one") {
        return match child(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("e2e child {args:?}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let options = match parse_options(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("e2e: {e}");
            return ExitCode::from(2);
        }
    };
    match drive(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("e2e: FAILED: see the warnings above");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("e2e: {e}");
            ExitCode::FAILURE
        }
    }
}
