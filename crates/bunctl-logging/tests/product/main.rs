//! The product README's test categories, through the public API only. Each is a module, so
//! that the README's commands select it by name (cargo's filter matches `module::test`):
//!
//! ```text
//! cargo test -p bunctl-logging buffer_tests      line buffering, batching, flush, a full buffer
//! cargo test -p bunctl-logging rotation_tests    size, daily, hourly, retention, gzip, restarts
//! cargo test -p bunctl-logging stress_tests      100+ concurrent writers, exact accounting
//! cargo test -p bunctl-logging stress --release  the same, larger where the test scales
//! cargo test -p bunctl-logging edge_cases        Unicode, NUL, invalid UTF-8, CR, empty and
//!                                                huge lines, closed writers, full buffers
//! ```
//!
//! `RUST_LOG=debug cargo test -p bunctl-logging rotation_tests -- --nocapture` shows the
//! library's own events (rotations, compressions, retention) as the tests run.

#[path = "../common/mod.rs"]
mod common;

mod buffer_tests;
mod edge_cases;
mod rotation_tests;
mod stress_tests;

use std::path::Path;

use bunctl_logging::{LogWriterConfig, RotationConfig, RotationStrategy};

/// How much larger the tests that scale get in an optimized build (`--release`): 1 in debug
/// builds, so `cargo test --workspace` stays quick on two cores.
const SCALE: usize = if cfg!(debug_assertions) { 1 } else { 10 };

/// A writer of `dir/app.log` rotating by `strategy`, keeping `max_files`, gzipping; the
/// other fields are the defaults. Installs the tracing subscriber (see
/// [`common::init_tracing`]).
fn writer_config(dir: &Path, strategy: RotationStrategy, max_files: u32) -> LogWriterConfig {
    common::init_tracing();
    LogWriterConfig {
        path: dir.join("app.log"),
        rotation: RotationConfig {
            strategy,
            max_files,
            compression: true,
        },
        ..LogWriterConfig::default()
    }
}

/// A writer of `<dir>/app.log` that never rotates, with the product's defaults otherwise.
async fn never_rotating(dir: &Path) -> bunctl_logging::AsyncLogWriter {
    bunctl_logging::AsyncLogWriter::new(writer_config(dir, RotationStrategy::Never, 10))
        .await
        .unwrap()
}

/// Waits up to 10 s for `done` to hold (checked every 5 ms); false if it never did.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..2000 {
        if done() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    done()
}
