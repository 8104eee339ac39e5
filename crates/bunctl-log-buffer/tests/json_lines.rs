//! The JSON line format parses with serde_json whatever the bytes, and gives them back
//! exactly: `log` for UTF-8 lines, `log_base64` for the others, pieces joined until one ends in
//! a newline.

use std::time::{Duration, UNIX_EPOCH};

use bunctl_log_buffer::{format_message, LineFormat, TimeCache};
use proptest::prelude::*;

fn unbase64(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let mut out = Vec::new();
    for chunk in s.as_bytes().chunks(4) {
        let data: Vec<u8> = chunk.iter().copied().filter(|&c| c != b'=').collect();
        let mut v = 0u32;
        for (i, &c) in data.iter().enumerate() {
            v |= u32::from(value(c)) << (18 - 6 * i);
        }
        for i in 0..data.len().saturating_sub(1) {
            out.push((v >> (16 - 8 * i)) as u8);
        }
    }
    out
}

proptest! {
    #[test]
    fn json_lines_round_trip(
        message in proptest::collection::vec(any::<u8>(), 0..200),
        max in 1usize..64,
    ) {
        let mut out = Vec::new();
        let now = UNIX_EPOCH + Duration::from_micros(1_795_742_625_123_456);
        let n = format_message(LineFormat::Json, &message, "stdout", now, max, &mut TimeCache::default(), &mut out);
        let text = std::str::from_utf8(&out).expect("JSON lines are UTF-8");
        let mut lines = Vec::new();
        let mut pending = Vec::new();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("parses as JSON");
            prop_assert_eq!(v["stream"].as_str(), Some("stdout"));
            prop_assert_eq!(v["time"].as_str(), Some("2026-11-27T01:23:45.123456Z"));
            let bytes = match v.get("log_base64") {
                Some(b) => unbase64(b.as_str().unwrap()),
                None => v["log"].as_str().unwrap().as_bytes().to_vec(),
            };
            pending.extend_from_slice(&bytes);
            if pending.ends_with(b"\n") {
                pending.pop();
                lines.push(std::mem::take(&mut pending));
            }
        }
        prop_assert!(pending.is_empty());
        prop_assert_eq!(text.lines().count(), n);
        // What was written: the message's lines, without its own trailing newline.
        let body = message.strip_suffix(b"\n").unwrap_or(&message);
        let want: Vec<Vec<u8>> = body.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        prop_assert_eq!(lines, want);
    }
}
