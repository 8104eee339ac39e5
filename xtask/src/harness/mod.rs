//! What `cargo xtask crash` and `cargo xtask shipper` share: the `bunctl-log` binary
//! ([`binary`]), running `bunctl-log pipe` and waiting for it ([`process`]), reading the files
//! back ([`files`]), the numbered lines' filler ([`lines`]) and the violations' report
//! ([`report`]).

pub(crate) mod binary;
pub(crate) mod files;
pub(crate) mod lines;
pub(crate) mod process;
pub(crate) mod report;
