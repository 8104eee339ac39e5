//! The two peers behind the `log` facade, fast_log and ftlog: each installed as the process's
//! global logger (every measurement has a process of its own) with a plain message format,
//! fed with `log::info!` (see [`crate::producer`]), flushed with `log::logger().flush()`,
//! which both make wait until their thread has written every record sent before it.

use std::fmt::Display;
use std::path::Path;

use crate::Res;

/// Queue length of both: fast_log's README recommends `chan_len(Some(100000))` (its default is
/// an unbounded channel), and 100,000 is ftlog's default bound.
pub(crate) const QUEUE_LEN: usize = 100_000;

/// fast_log's formatter: the message and a `\n`, no time, level or location.
struct PlainFastLog;

impl fast_log::appender::RecordFormat for PlainFastLog {
    fn do_format(&self, record: &mut fast_log::appender::FastLogRecord) {
        if record.command == fast_log::appender::Command::CommandRecord {
            let mut line = String::with_capacity(record.args.len() + 1);
            line.push_str(&record.args);
            line.push('\n');
            record.formated = line;
        }
    }
}

/// fast_log writing `file`: a bounded channel (a full one blocks the caller: lossless), one
/// formatting thread (its default), one appender thread appending to the file.
pub(crate) fn init_fast_log(file: &Path) -> Res<()> {
    let path = file.to_str().ok_or("fast_log takes a UTF-8 path")?;
    fast_log::init(
        fast_log::Config::new()
            .format(PlainFastLog)
            .chan_len(Some(QUEUE_LEN))
            .file(path),
    )
    .map_err(|e| format!("fast_log::init: {e}"))?;
    Ok(())
}

/// ftlog's formatter: the message only (ftlog's own adds level, thread, file and line).
struct PlainFtlog;

impl ftlog::FtLogFormat for PlainFtlog {
    fn msg(&self, record: &ftlog::Record<'_>) -> Box<dyn Send + Sync + Display> {
        Box::new(record.args().to_string())
    }
}

/// ftlog writing `file` through its `FileAppender` (a `BufWriter`), its default queue of
/// 100,000 messages, blocking when full (`block`: lossless) or dropping (its default), the
/// time format empty so that no timestamp is written (ftlog still writes ` {delay}ms ` in front
/// of each message). Returns the guard, whose drop flushes.
pub(crate) fn init_ftlog(file: &Path, block: bool) -> Res<ftlog::LoggerGuard> {
    let no_time = time::format_description::OwnedFormatItem::Compound(Box::new([]));
    let builder = ftlog::builder()
        .format(PlainFtlog)
        .time_format(no_time)
        .utc()
        .root(ftlog::appender::FileAppender::new(file));
    let builder = if block {
        builder.bounded(QUEUE_LEN, true)
    } else {
        // The default: 100,000, dropping, and a count of omitted lines on stderr at most
        // every 5 s.
        builder
    };
    builder
        .try_init()
        .map_err(|e| format!("ftlog init: {e}").into())
}

/// Waits until the global logger (fast_log's or ftlog's) has written every record sent
/// before the call: both send a flush command down their queue and wait for their thread to
/// answer once it has written what came before it and flushed its file.
pub(crate) fn flush() {
    log::logger().flush();
}

/// Stops fast_log's threads (they end on their own; fast_log has no join).
pub(crate) fn exit_fast_log() {
    // An error means the channel is gone already: nothing left to stop.
    let _ = fast_log::exit();
}
