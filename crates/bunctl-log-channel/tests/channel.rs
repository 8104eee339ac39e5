//! Integration tests of the channel through its public API.

use std::sync::Arc;
use std::time::Duration;

use bunctl_log_buffer::Lines;
use bunctl_log_channel::{channel, ChannelConfig, Closed, Receiver, TrySendError};

fn small(max_lines: usize, max_bytes: usize) -> ChannelConfig {
    ChannelConfig {
        max_lines,
        max_bytes,
        batch_bytes: max_bytes,
        flush_interval: Duration::from_millis(50),
        max_line_len: 64,
        ..ChannelConfig::default()
    }
}

/// Drains the receiver to the end, checking the bounds of every batch.
fn drain(mut rx: Receiver, max_lines: u64, max_bytes: usize) -> (Vec<u8>, u64) {
    let mut all = Vec::new();
    let mut lines = 0;
    let mut spare = Vec::new();
    while let Some(batch) = rx.recv(spare) {
        assert!(batch.lines <= max_lines, "batch of {} lines", batch.lines);
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
    let (bytes, lines) = drain(rx, 1000, 4 << 20);
    assert_eq!(bytes, b"one\ntwo\nthree\r\nfour\n\0\xff\n");
    assert_eq!(lines, 5);
}

#[tokio::test]
async fn full_buffer_drops_counts_and_marks_the_gap() {
    let (tx, rx) = channel(small(3, 1 << 10));
    for i in 0..10 {
        tx.send_or_drop(format!("line {i}").as_bytes()).unwrap();
    }
    let stats = tx.stats();
    assert_eq!(stats.dropped_lines, 7);
    assert_eq!(stats.overflows, 7);
    // Room again after the writer takes the batch.
    let mut rx = rx;
    let first = rx.recv(Vec::new()).unwrap();
    assert_eq!(first.bytes, b"line 0\nline 1\nline 2\n");
    rx.complete(first.generation);
    tx.send_or_drop(b"after").unwrap();
    tx.close();
    let second = rx.recv(Vec::new()).unwrap();
    assert_eq!(
        second.bytes,
        b"[bunctl-log] 7 lines dropped here: the writer was full\nafter\n"
    );
    assert_eq!(second.lines, 1);
    assert!(rx.recv(Vec::new()).is_none());
}

#[test]
fn the_drop_marker_is_written_in_the_channels_format() {
    let (tx, mut rx) = channel(ChannelConfig {
        format: bunctl_log_buffer::LineFormat::Json,
        ..small(1, 1 << 10)
    });
    tx.send_or_drop(b"{\"log\":\"kept\\n\"}").unwrap();
    tx.send_or_drop(b"dropped").unwrap();
    tx.close();
    let b = rx.recv(Vec::new()).unwrap();
    let marker = b.bytes.split(|&c| c == b'\n').nth(1).unwrap();
    assert!(
        marker.starts_with(b"{\"log\":\"[bunctl-log] 1 lines dropped here: the writer was full\\n\",\"stream\":\"bunctl-log\",\"time\":\""),
        "{}",
        String::from_utf8_lossy(marker)
    );
    assert_eq!(bunctl_log_buffer::Marker::dropped_lines(marker), Some(1));
    assert_eq!(b.lines, 1);
}

#[tokio::test]
async fn drops_after_the_last_line_are_marked_at_close() {
    let (tx, mut rx) = channel(small(1, 1 << 10));
    tx.send_or_drop(b"kept").unwrap();
    tx.send_or_drop(b"dropped 1").unwrap();
    tx.send_or_drop(b"dropped 2").unwrap();
    tx.close();
    let b = rx.recv(Vec::new()).unwrap();
    assert_eq!(
        b.bytes,
        b"kept\n[bunctl-log] 2 lines dropped here: the writer was full\n"
    );
    assert_eq!(b.lines, 1);
    assert!(rx.recv(Vec::new()).is_none());
}

#[tokio::test]
async fn try_send_says_full_too_large_and_closed() {
    let (tx, mut rx) = channel(small(2, 200));
    tx.try_send(b"a").unwrap();
    tx.try_send(b"b").unwrap();
    assert_eq!(tx.try_send(b"c"), Err(TrySendError::Full));
    assert_eq!(tx.stats().overflows, 1);
    assert_eq!(tx.stats().dropped_lines, 0);
    assert!(matches!(
        tx.try_send(b"1\n2\n3\n"),
        Err(TrySendError::TooLarge { lines: 3, .. })
    ));
    let b = rx.recv(Vec::new()).unwrap();
    assert_eq!(b.bytes, b"a\nb\n");
    tx.close();
    assert_eq!(tx.try_send(b"x"), Err(TrySendError::Closed));
    assert_eq!(tx.send_or_drop(b"x"), Err(Closed));
    assert_eq!(tx.send(b"x").await, Err(Closed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_senders_lose_nothing_and_keep_per_producer_order() {
    const PRODUCERS: usize = 50;
    const LINES: usize = 2000;
    let (tx, rx) = channel(small(64, 2048));
    let reader = std::thread::spawn(move || drain(rx, 64, 2048));
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
    let (tx, rx) = channel(small(16, 512));
    let reader = std::thread::spawn(move || drain(rx, 16, 512));
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
    let (tx, rx) = channel(small(4, 256));
    let reader = std::thread::spawn(move || drain(rx, 4, 256));
    // 10 lines: more than max_lines at once, so `send` splits it.
    let msg: Vec<u8> = (0..10)
        .flat_map(|i| format!("m{i}\n").into_bytes())
        .collect();
    tx.send(&msg).await.unwrap();
    // A line longer than max_line_len (64) is split into marked pieces.
    let long = vec![b'x'; 150];
    tx.send(&long).await.unwrap();
    drop(tx);
    let (bytes, lines) = reader.join().unwrap();
    assert_eq!(lines, 10 + 3);
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.starts_with("m0\nm1\n"));
    assert_eq!(text.matches("[bunctl-log: line continues]").count(), 2);
}

#[tokio::test]
async fn send_lines_takes_a_line_buffer_block() {
    let (tx, rx) = channel(small(100, 4096));
    tx.send_lines(Lines {
        bytes: b"a\nb\nc\n",
        count: 3,
    })
    .await
    .unwrap();
    drop(tx);
    let (bytes, lines) = drain(rx, 100, 4096);
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
    let (tx, rx) = channel(small(1, 100));
    tx.send(b"fills it").await.unwrap();
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
        max_lines: 0,
        max_bytes: 10,
        batch_bytes: 1 << 30,
        flush_interval: Duration::ZERO,
        max_line_len: 1000,
        ..ChannelConfig::default()
    }
    .normalized();
    assert_eq!(c.max_lines, 1);
    assert!(c.max_bytes > 1000 + bunctl_log_buffer::CONTINUATION_MARKER.len());
    assert!(c.batch_bytes <= c.max_bytes);
}

#[tokio::test]
async fn lines_sent_or_dropped_go_in_as_they_are_or_are_counted_and_marked() {
    let (tx, rx) = channel(small(3, 1 << 10));
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
    // 2 of 3 lines taken: a block of two does not fit, and is dropped whole.
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
    let (bytes, lines) = drain(rx, 3, 1 << 10);
    let text = String::from_utf8(bytes).unwrap();
    let expected = format!("{}rest\n", String::from_utf8(piece).unwrap());
    assert!(text.starts_with(&expected), "{text}");
    assert!(
        text[expected.len()..].contains(" 2 lines dropped"),
        "{text}"
    );
    assert_eq!(lines, 2);
}
