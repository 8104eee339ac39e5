//! Properties of the channel under random messages, limits and send modes.

use std::time::Duration;

use bunctl_log_buffer::encode_message;
use bunctl_log_buffer::Marker;
use bunctl_log_channel::{channel, ChannelConfig, TrySendError};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum Mode {
    Drop,
    Try,
    Wait,
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Drop), Just(Mode::Try), Just(Mode::Wait)]
}

fn message() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![4 => b'a'..=b'z', 1 => Just(b'\n'), 1 => any::<u8>()],
        0..120,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the limits and modes, the receiver gets exactly the accepted messages, encoded,
    /// in order, each whole; every drop is accounted for by a marker.
    #[test]
    fn accepted_messages_arrive_whole_in_order_and_drops_are_marked(
        msgs in proptest::collection::vec((message(), mode()), 1..200),
        max_concurrent_sends in 1usize..4,
        max_bytes in 1usize..400,
        max_line_len in 1usize..50,
        slow_writer in any::<bool>(),
    ) {
        let (tx, mut rx) = channel(ChannelConfig {
            max_concurrent_sends,
            max_bytes,
            batch_bytes: max_bytes,
            flush_interval: Duration::from_millis(1),
            max_line_len,
            ..ChannelConfig::default()
        });
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut lines = 0;
            let mut spare = Vec::new();
            while let Some(b) = rx.recv(spare) {
                if slow_writer {
                    std::thread::sleep(Duration::from_micros(200));
                }
                all.extend_from_slice(&b.bytes);
                lines += b.lines;
                rx.complete(b.generation);
                spare = b.bytes;
            }
            (all, lines)
        });
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut expected = Vec::new();
        let mut expected_lines = 0u64;
        for (m, mode) in &msgs {
            let mut enc = Vec::new();
            let n = encode_message(m, max_line_len, &mut enc) as u64;
            let taken = match mode {
                Mode::Drop => {
                    let before = tx.stats().dropped_lines;
                    tx.send_or_drop(m).unwrap();
                    tx.stats().dropped_lines == before
                }
                Mode::Try => match tx.try_send(m) {
                    Ok(()) => true,
                    Err(TrySendError::Full | TrySendError::TooLarge { .. }) => false,
                    Err(TrySendError::Closed) => unreachable!(),
                },
                Mode::Wait => {
                    rt.block_on(tx.send(m)).unwrap();
                    true
                }
            };
            if taken {
                expected.push(enc);
                expected_lines += n;
            }
        }
        let dropped = tx.stats().dropped_lines;
        drop(tx);
        let (all, lines) = reader.join().unwrap();
        prop_assert_eq!(lines, expected_lines);
        // Take the markers out: what is left is exactly the accepted messages, in order.
        let mut data = Vec::new();
        let mut marked = 0u64;
        for line in all.split_inclusive(|&b| b == b'\n') {
            if let Some(n) = Marker::dropped_lines(line) {
                marked += n;
            } else {
                data.extend_from_slice(line);
            }
        }
        prop_assert_eq!(data, expected.concat());
        prop_assert_eq!(marked, dropped);
    }
}
