//! Integration tests of the channel through its public API.

use std::sync::Arc;
use std::time::Duration;

use bunctl_log_buffer::Lines;
use bunctl_log_channel::{channel, ChannelConfig, Closed, Receiver, TrySendError};

/// A channel of `max_bytes` (at least 95: one piece of a split 64-byte line).
fn small(max_bytes: usize) -> ChannelConfig {
    ChannelConfig {
        max_bytes,
        batch_bytes: max_bytes,
        flush_interval: Duration::from_millis(50),
        max_line_len: 64,
        ..ChannelConfig::default()
    }
}

/// `text` padded with dots to `len` bytes (its newline not counted).
fn padded(text: &str, len: usize) -> String {
    format!("{text:.<len$}")
}

/// Drains the receiver to the end, checking the bounds of every batch.
fn drain(mut rx: Receiver, max_bytes: usize) -> (Vec<u8>, u64) {
    let mut all = Vec::new();
    let mut lines = 0;
    let mut spare = Vec::new();
    while let Some(batch) = rx.recv(spare) {
        assert!(
            batch.bytes.len() <= max_bytes + 100,
            "batch of {} bytes",
            batch.bytes.len()
        );
        assert_eq!(batch.bytes.last(), Some(&b'\n'));
        all.extend_from_slice(&batch.bytes);
        lines += batch.lines;
        rx.complete(batch.generation);
        spare = batch.bytes;
    }
    (all, lines)
}

#[tokio::test]
async fn lines_arrive_whole_and_in_order() {
    let (tx, rx) = channel(ChannelConfig::default());
    tx.send(b"one").await.unwrap();
    tx.send(b"two\n").await.unwrap();
    tx.send(b"three\r\nfour").await.unwrap();
    tx.send(b"\0\xff").await.unwrap();
    drop(tx);
    let (bytes, lines) = drain(rx, 4 << 20);
    assert_eq!(bytes, b"one\ntwo\nthree\r\nfour\n\0\xff\n");
    assert_eq!(lines, 5);
}

#[tokio::test]
async fn full_buffer_drops_counts_and_marks_the_gap() {
    // Room for 4 lines of 25 bytes.
    let (tx, rx) = channel(small(100));
    let line = |i: usize| padded(&format!("line {i}"), 24);
    for i in 0..10 {
        tx.send_or_drop(line(i).as_bytes()).unwrap();
    }
    let stats = tx.stats();
    assert_eq!(stats.dropped_lines, 6);
    assert_eq!(stats.overflows, 6);
    // Room again after the writer takes the batch.
    let mut rx = rx;
    let first = rx.recv(Vec::new()).unwrap();
    let kept: String = (0..4).map(|i| line(i) + "\n").collect();
    assert_eq!(first.bytes, kept.as_bytes());
    rx.complete(first.generation);
    tx.send_or_drop(b"after").unwrap();
    tx.close();
    let second = rx.recv(Vec::new()).unwrap();
    assert_eq!(
        second.bytes,
        b"[bunctl-log] 6 lines dropped here: the writer was full\nafter\n"
    );
    assert_eq!(second.lines, 1);
    assert!(rx.recv(Vec::new()).is_none());
}

#[test]
fn the_drop_marker_is_written_in_the_channels_format() {
    let (tx, mut rx) = channel(ChannelConfig {
        format: bunctl_log_buffer::LineFormat::Json,
        ..small(100)
    });
    // Two lines of 50 bytes with their newlines (each within max_line_len): the buffer is full.
    let kept = format!("{{\"log\":\"{}\\n\"}}", padded("kept", 37));
    assert_eq!(kept.len(), 49);
    tx.send_or_drop(kept.as_bytes()).unwrap();
    tx.send_or_drop(kept.as_bytes()).unwrap();
    tx.send_or_drop(b"dropped").unwrap();
    tx.close();
    let b = rx.recv(Vec::new()).unwrap();
    let marker = b.bytes.split(|&c| c == b'\n').nth(2).unwrap();
    assert!(
        marker.starts_with(b"{\"log\":\"[bunctl-log] 1 lines dropped here: the writer was full\\n\",\"stream\":\"bunctl-log\",\"time\":\""),
        "{}",
        String::from_utf8_lossy(marker)
    );
    assert_eq!(bunctl_log_buffer::Marker::dropped_lines(marker), Some(1));
    assert_eq!(b.lines, 2);
}

#[tokio::test]
async fn drops_after_the_last_line_are_marked_at_close() {
    let (tx, mut rx) = channel(small(100));
    // Two lines of 50 bytes: the buffer is full.
    let kept = format!("{}\n{}", padded("kept 1", 49), padded("kept 2", 49));
    tx.send_or_drop(kept.as_bytes()).unwrap();
    tx.send_or_drop(b"dropped 1").unwrap();
    tx.send_or_drop(b"dropped 2").unwrap();
    tx.close();
    let b = rx.recv(Vec::new()).unwrap();
    assert_eq!(
        String::from_utf8(b.bytes).unwrap(),
        format!("{kept}\n[bunctl-log] 2 lines dropped here: the writer was full\n")
    );
    assert_eq!(b.lines, 2);
    assert!(rx.recv(Vec::new()).is_none());
}

#[tokio::test]
async fn try_send_says_full_too_large_and_closed() {
    let (tx, mut rx) = channel(small(100));
    let (a, b) = (padded("a", 49), padded("b", 49));
    tx.try_send(a.as_bytes()).unwrap();
    tx.try_send(b.as_bytes()).unwrap();
    assert_eq!(tx.try_send(b"c"), Err(TrySendError::Full));
    assert_eq!(tx.stats().overflows, 1);
    assert_eq!(tx.stats().dropped_lines, 0);
    // 3 lines of 41 bytes: more than the whole buffer.
    let three = format!("{0}\n{0}\n{0}\n", padded("1", 40));
    assert_eq!(
        tx.try_send(three.as_bytes()),
        Err(TrySendError::TooLarge {
            bytes: 123,
            lines: 3
        })
    );
    let batch = rx.recv(Vec::new()).unwrap();
    assert_eq!(batch.bytes, format!("{a}\n{b}\n").as_bytes());
    tx.close();
    assert_eq!(tx.try_send(b"x"), Err(TrySendError::Closed));
    assert_eq!(tx.send_or_drop(b"x"), Err(Closed));
    assert_eq!(tx.send(b"x").await, Err(Closed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_senders_lose_nothing_and_keep_per_producer_order() {
    const PRODUCERS: usize = 50;
    const LINES: usize = 2000;
    let (tx, rx) = channel(small(2048));
    let reader = std::thread::spawn(move || drain(rx, 2048));
    let mut tasks = Vec::new();
    for p in 0..PRODUCERS {
        let tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..LINES {
                tx.send(format!("{p} {i}").as_bytes()).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let stats = tx.stats();
    drop(tx);
    let (bytes, lines) = reader.join().unwrap();
    assert_eq!(lines, (PRODUCERS * LINES) as u64);
    assert!(
        stats.overflows > 0,
        "the test should have filled the buffer"
    );
    assert_eq!(stats.dropped_lines, 0);
    let mut next = vec![0usize; PRODUCERS];
    for line in String::from_utf8(bytes).unwrap().lines() {
        let (p, i) = line.split_once(' ').unwrap();
        let (p, i): (usize, usize) = (p.parse().unwrap(), i.parse().unwrap());
        assert_eq!(i, next[p], "producer {p} out of order");
        next[p] += 1;
    }
    assert!(next.iter().all(|&n| n == LINES));
}

#[tokio::test]
async fn blocking_senders_on_threads_lose_nothing() {
    let (tx, rx) = channel(small(512));
    let reader = std::thread::spawn(move || drain(rx, 512));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for i in 0..5000 {
                    tx.send_blocking(format!("{t}:{i}").as_bytes()).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        tokio::task::spawn_blocking(move || t.join().unwrap())
            .await
            .unwrap();
    }
    drop(tx);
    let (_, lines) = reader.join().unwrap();
    assert_eq!(lines, 20_000);
}

#[tokio::test]
async fn message_larger_than_the_buffer_goes_line_by_line() {
    let (tx, rx) = channel(small(128));
    let reader = std::thread::spawn(move || drain(rx, 128));
    // 10 lines of 21 bytes: more than the whole buffer at once, so `send` splits it.
    let msg: Vec<u8> = (0..10)
        .flat_map(|i| (padded(&format!("m{i}"), 20) + "\n").into_bytes())
        .collect();
    tx.send(&msg).await.unwrap();
    // A line longer than max_line_len (64) is split into marked pieces.
    let long = vec![b'x'; 150];
    tx.send(&long).await.unwrap();
    drop(tx);
    let (bytes, lines) = reader.join().unwrap();
    assert_eq!(lines, 10 + 3);
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.starts_with(&format!("{}\n{}\n", padded("m0", 20), padded("m1", 20))));
    assert_eq!(text.matches("[bunctl-log: line continues]").count(), 2);
}

#[tokio::test]
async fn send_lines_takes_a_line_buffer_block() {
    let (tx, rx) = channel(small(4096));
    tx.send_lines(Lines {
        bytes: b"a\nb\nc\n",
        count: 3,
    })
    .await
    .unwrap();
    drop(tx);
    let (bytes, lines) = drain(rx, 4096);
    assert_eq!((bytes.as_slice(), lines), (&b"a\nb\nc\n"[..], 3));
}

#[tokio::test]
async fn a_trickle_is_written_after_the_flush_interval() {
    let (tx, mut rx) = channel(ChannelConfig {
        flush_interval: Duration::from_millis(100),
        ..ChannelConfig::default()
    });
    let start = std::time::Instant::now();
    tx.send(b"slow").await.unwrap();
    let b = rx.recv(Vec::new()).unwrap();
    assert_eq!(b.bytes, b"slow\n");
    let waited = start.elapsed();
    // Not before the interval; the upper bound only guards against "never".
    assert!(
        waited >= Duration::from_millis(100) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[tokio::test]
async fn an_idle_receiver_is_not_woken() {
    let (tx, mut rx) = channel(ChannelConfig {
        flush_interval: Duration::from_millis(1),
        ..ChannelConfig::default()
    });
    let reader = std::thread::spawn(move || rx.recv(Vec::new()).map(|b| b.bytes));
    // A receiver that polled, or armed its flush timer while empty, would wake many times
    // here (the interval is 1 ms).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!reader.is_finished());
    assert_eq!(tx.stats().receiver_wakeups, 0);
    tx.send(b"x").await.unwrap();
    tx.close();
    assert_eq!(reader.join().unwrap(), Some(b"x\n".to_vec()));
    assert!(tx.stats().receiver_wakeups > 0);
}

#[tokio::test]
async fn flush_waits_for_the_batch_holding_the_last_line() {
    let (tx, mut rx) = channel(ChannelConfig {
        flush_interval: Duration::from_secs(3600),
        ..ChannelConfig::default()
    });
    let tx = Arc::new(tx);
    assert_eq!(tx.request_flush(), 0);
    tx.flushed(0).await.unwrap();
    tx.send(b"x").await.unwrap();
    let target = tx.request_flush();
    let flusher = {
        let tx = tx.clone();
        tokio::spawn(async move { tx.flushed(target).await })
    };
    // The flush request makes the receiver take the batch at once despite the long interval.
    let b = rx.recv(Vec::new()).unwrap();
    assert_eq!(b.generation, target);
    assert!(!flusher.is_finished());
    rx.complete(b.generation);
    flusher.await.unwrap().unwrap();
}

#[tokio::test]
async fn dropping_the_receiver_releases_waiting_senders() {
    let (tx, rx) = channel(small(100));
    let fill = format!("{}\n{}", padded("fills", 49), padded("it", 49));
    tx.send(fill.as_bytes()).await.unwrap();
    let tx = Arc::new(tx);
    let waiter = {
        let tx = tx.clone();
        tokio::spawn(async move { tx.send(b"waits").await })
    };
    tokio::task::yield_now().await;
    let target = tx.request_flush();
    drop(rx);
    assert_eq!(waiter.await.unwrap(), Err(Closed));
    assert_eq!(tx.flushed(target).await, Err(Closed));
}

#[test]
fn config_is_normalized_so_every_piece_fits() {
    let c = ChannelConfig {
        max_concurrent_sends: 0,
        max_bytes: 10,
        batch_bytes: 1 << 30,
        flush_interval: Duration::ZERO,
        max_line_len: 1000,
        ..ChannelConfig::default()
    }
    .normalized();
    assert_eq!(c.max_concurrent_sends, 1);
    assert!(c.max_bytes > 1000 + bunctl_log_buffer::CONTINUATION_MARKER.len());
    assert!(c.batch_bytes <= c.max_bytes);
}

#[tokio::test]
async fn lines_sent_or_dropped_go_in_as_they_are_or_are_counted_and_marked() {
    let (tx, rx) = channel(small(100));
    // A split piece longer than max_line_len (64) is not cut again.
    let piece = [
        &[b'x'; 64][..],
        bunctl_log_buffer::CONTINUATION_MARKER,
        b"\n",
    ]
    .concat();
    let block = [&piece[..], b"rest\n"].concat();
    tx.send_lines_or_drop(Lines {
        bytes: &block,
        count: 2,
    })
    .unwrap();
    // 100 of 100 bytes taken: a block of two more lines does not fit, and is dropped whole.
    tx.send_lines_or_drop(Lines {
        bytes: b"a\nb\n",
        count: 2,
    })
    .unwrap();
    assert_eq!(tx.stats().dropped_lines, 2);
    tx.close();
    assert_eq!(
        tx.send_lines_or_drop(Lines {
            bytes: b"c\n",
            count: 1
        }),
        Err(Closed)
    );
    drop(tx);
    let (bytes, lines) = drain(rx, 100);
    let text = String::from_utf8(bytes).unwrap();
    let expected = format!("{}rest\n", String::from_utf8(piece).unwrap());
    assert!(text.starts_with(&expected), "{text}");
    assert!(
        text[expected.len()..].contains(" 2 lines dropped"),
        "{text}"
    );
    assert_eq!(lines, 2);
}

#[tokio::test]
async fn a_batch_takes_everything_buffered_however_many_lines() {
    let (tx, mut rx) = channel(ChannelConfig {
        flush_interval: Duration::from_secs(3600),
        ..ChannelConfig::default()
    });
    // 5,000 lines of 11 bytes, 55 KB: under the batch size, so nothing cuts them earlier.
    for i in 0..5000 {
        tx.send_or_drop(format!("line {i:05}").as_bytes()).unwrap();
    }
    assert_eq!(tx.stats().buffered_lines, 5000);
    tx.close();
    let batch = rx.recv(Vec::new()).unwrap();
    assert_eq!(batch.lines, 5000);
    assert_eq!(batch.bytes.len(), 5000 * 11);
    assert_eq!(tx.stats().dropped_lines, 0);
    assert!(rx.recv(Vec::new()).is_none());
}

/// Polls `fut` once: whether it is done without waiting.
fn poll_once<F: std::future::Future>(fut: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    fut.poll(&mut cx)
}

/// `max_concurrent_sends` 2, 10 sends waiting for a buffer the writer does not drain: 2 wait
/// for room, 8 for a place. A short line that fits in bytes is still past the limit.
#[tokio::test]
async fn sends_past_max_concurrent_sends_drop_say_full_or_wait_for_a_place() {
    let (tx, mut rx) = channel(ChannelConfig {
        max_concurrent_sends: 2,
        flush_interval: Duration::from_secs(3600),
        ..small(100)
    });
    let tx = Arc::new(tx);
    tx.send(padded("first", 59).as_bytes()).await.unwrap(); // 60 of 100 bytes
    let waiting: Vec<_> = (0..10)
        .map(|i| {
            let tx = tx.clone();
            // 51 bytes: none fits until the writer takes "first".
            tokio::spawn(async move { tx.send(padded(&format!("w{i}"), 50).as_bytes()).await })
        })
        .collect();
    for _ in 0..1000 {
        if tx.stats().overflows == 10 {
            break;
        }
        tokio::task::yield_now().await;
    }
    let stats = tx.stats();
    assert_eq!((stats.overflows, stats.waiting_sends), (10, 2), "{stats:?}");
    assert_eq!(stats.buffered_bytes, 60);

    // "tiny" would fit (65 of 100 bytes), but 2 sends are already waiting.
    tx.send_or_drop(b"tiny").unwrap();
    assert_eq!(tx.stats().dropped_lines, 1);
    assert_eq!(tx.try_send(b"tiny"), Err(TrySendError::Full));
    let late = tx.send(b"late");
    tokio::pin!(late);
    assert!(
        poll_once(late.as_mut()).is_pending(),
        "a send past the limit did not wait"
    );
    assert_eq!(tx.stats().buffered_bytes, 60);

    // The writer drains: every waiting send gets in, then the late one.
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut spare = Vec::new();
        while let Some(batch) = rx.recv(spare) {
            all.extend_from_slice(&batch.bytes);
            rx.complete(batch.generation);
            spare = batch.bytes;
        }
        all
    });
    late.await.unwrap();
    for w in waiting {
        w.await.unwrap().unwrap();
    }
    assert_eq!(tx.stats().waiting_sends, 0);
    tx.close();
    let text = String::from_utf8(reader.join().unwrap()).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 1 + 10 + 1, "{text}");
    assert_eq!(lines[0], padded("first", 59));
    assert!(lines.contains(&"late"));
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("1 lines dropped here"))
            .count(),
        1
    );
    lines.retain(|l| l.starts_with('w'));
    lines.sort_unstable();
    let mut expected: Vec<String> = (0..10).map(|i| padded(&format!("w{i}"), 50)).collect();
    expected.sort_unstable();
    assert_eq!(lines, expected);
}
