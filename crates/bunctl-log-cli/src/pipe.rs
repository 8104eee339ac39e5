//! `pipe`: stdin into the app's files until EOF or a stop signal, the summary it prints at the
//! end, and whether it exits 0 (every line read was written).

use std::time::Instant;

use bunctl_logging::{capture::pump_until, AsyncLogWriter};

use crate::args::PipeArgs;
use crate::config::{check_dir, writer_config, writer_options};
use crate::report::{after_close, counted};
use crate::{metrics, CliResult};
#[cfg(unix)]
use crate::{signals, stdin};

/// `pipe`: stdin into the files until EOF or SIGTERM, SIGINT or SIGHUP. Either way every line
/// read is written before it returns; `Err` if one was not, or on an error.
pub(crate) async fn pipe(a: PipeArgs) -> CliResult {
    let start = Instant::now();
    // First: from here on these signals stop the pipe cleanly instead of killing it.
    #[cfg(unix)]
    let mut signals = signals::Signals::new(&signals::Stop::ALL)?;
    // Before the writer: it registers its metrics when it is created.
    if let Some(addr) = a.write.metrics_addr {
        metrics::serve(addr)?;
    }
    check_dir(&a.target.dir)?;
    let config = writer_config(&a.target, &a.write);
    let writer =
        std::sync::Arc::new(AsyncLogWriter::with_options(config, writer_options(&a.write)).await?);
    let max_line_len = writer.options().max_line_len;
    let mut stopped_by: Option<&'static str> = None;
    #[cfg(unix)]
    let (input, stop) = {
        let (input, stopper) = stdin::spawn()?;
        let stop = async {
            stopped_by = Some(signals.recv().await.name());
            // The pump goes on reading until the thread has stopped: it gets every byte the
            // thread took out of the pipe.
            stopper.stop().await;
        };
        (input, stop)
    };
    #[cfg(not(unix))]
    let (input, stop) = (tokio::io::stdin(), async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => stopped_by = Some("Ctrl-C"),
            Err(_) => std::future::pending().await,
        }
    });
    // The same lossless pump that captures a child's pipes: a slow disk makes `seq` wait.
    let pumped = pump_until(input, writer.clone(), None, max_line_len, stop).await;
    // Even after an error: the lines read so far go to the file.
    let closed = writer.shutdown().await;
    let m = writer.get_metrics().await;
    let secs = start.elapsed().as_secs_f64();
    let why = stopped_by.map_or(String::new(), |s| format!("stopped by {s}; "));
    eprintln!(
        "bunctl-log: {why}{}, {}, {}, {} dropped, {} lost in {:.2} s ({:.0} lines/s) -> {}",
        counted(m.lines_written, "line"),
        counted(m.bytes_written, "byte"),
        counted(m.rotation_count, "rotation"),
        m.dropped_messages,
        m.lines_lost,
        secs,
        m.lines_written as f64 / secs.max(1e-9),
        writer.path().display()
    );
    let pumped = pumped?;
    if m.lines_lost > 0 || m.dropped_messages > 0 {
        let lost = counted(m.lines_lost + m.dropped_messages, "line");
        let verb = if lost.starts_with("1 ") {
            "was"
        } else {
            "were"
        };
        return Err(format!("{lost} {verb} not written").into());
    }
    Ok(after_close(closed, m.lines_written >= pumped.lines)?)
}
