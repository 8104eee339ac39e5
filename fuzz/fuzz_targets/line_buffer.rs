//! Fuzzes `LineSplitter`: any bytes, any chunking, any line limit. The body and the invariants
//! are in `bunctl_log_buffer::fuzzing`, which `cargo test` also runs over the corpus.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bunctl_log_buffer::fuzzing::check_line_splitter(data);
});
