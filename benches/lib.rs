//! Benchmarks of bunctl-logging; see `benches/layers.rs` (criterion, one group per layer) and
//! `benches/e2e/` (the end-to-end comparison run by `cargo xtask bench`, one module per job).
