//! `run`: a command's stdout and stderr into the app's files; the signals bunctl-log receives
//! forwarded to the command's process group; the summary printed at the end, and the exit code:
//! the command's own, or 128 + the signal that ended it.

use std::time::Instant;

use bunctl_logging::{CaptureMode, LogManager};

use crate::args::RunArgs;
use crate::capture::Capture;
use crate::config::{check_dir, log_config, writer_options};
use crate::metrics;
use crate::report::{after_close, counted};
#[cfg(unix)]
use crate::signals;
use crate::spawn::{command, CannotRun};

/// Runs the command of `a` and captures its output; `Ok` holds the exit code bunctl-log exits
/// with.
pub(crate) async fn run(a: RunArgs) -> Result<u8, Box<dyn std::error::Error>> {
    let start = Instant::now();
    // Before the child exists: a signal from here on is forwarded to it, not fatal to us.
    #[cfg(unix)]
    let mut signals = signals::Signals::new(&signals::Stop::ALL)?;
    // Before the writers (created by the capture): they register their metrics when created.
    if let Some(addr) = a.write.metrics_addr {
        metrics::serve(addr)?;
    }
    check_dir(&a.target.dir)?;
    let (config, _) = log_config(&a.target, Some(&a.write));
    let app = &a.target.app;
    let manager = LogManager::with_options(config, writer_options(&a.write));
    let (program, args) = a.command.split_first().ok_or("run needs a command")?;
    // Spawned from the main thread (this runs in `block_on`), which lives as long as the
    // process: on Linux the child's death signal is tied to the thread that forked it.
    let spawned = command(program, args)
        .and_then(|mut c| c.spawn().map_err(|e| CannotRun::of_spawn(program, &e)));
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            // The status a shell gives: 127 not found, 126 not executable.
            eprintln!("bunctl-log: {}", e.message);
            return Ok(e.code);
        }
    };
    let mode = if a.merge {
        CaptureMode::Merged
    } else {
        CaptureMode::Separate
    };
    let (stop_capture, capture_stopped) = tokio::sync::watch::channel(false);
    let capture = Capture::start(&manager, app, &mut child, mode, capture_stopped).await?;
    #[cfg(unix)]
    let group = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(rustix::process::Pid::from_raw);
    #[cfg(unix)]
    let (status, forwarded) = wait_forwarding(&mut child, &mut signals).await?;
    #[cfg(not(unix))]
    let (status, forwarded) = (child.wait().await?, None::<&str>);
    #[cfg(unix)]
    let forwarded = forwarded.map(signals::Stop::name);
    // The child has exited; its last output is read until its pipes close: when the
    // processes it left behind hold them, until a signal says to stop.
    let ended = capture.wait();
    let mut ended = std::pin::pin!(ended);
    #[cfg(unix)]
    let mut capture_ended_by = None;
    #[cfg(unix)]
    let summary = loop {
        tokio::select! {
            summary = &mut ended => break summary?,
            stop = signals.recv() => {
                // The group outlives its leader while a member lives: its id is not reused.
                if let Some(group) = group {
                    let _ = rustix::process::kill_process_group(group, stop.signal());
                }
                capture_ended_by = Some(stop.name());
                let _ = stop_capture.send(true);
            }
        }
    };
    #[cfg(not(unix))]
    let summary = {
        drop(stop_capture);
        ended.await?
    };
    let totals = manager.total_metrics().await;
    let handed = summary.stdout.lines + summary.stderr.lines;
    let every_line_written =
        totals.lines_lost == 0 && totals.dropped_messages == 0 && totals.lines_written >= handed;
    after_close(manager.close_all().await, every_line_written)?;
    let mut after = forwarded.map_or(String::new(), |s| {
        format!(" after bunctl-log forwarded {s}")
    });
    #[cfg(unix)]
    if let Some(s) = capture_ended_by {
        after.push_str(&format!(
            "; {s} ended the capture (processes it left held its output; sent {s} too)"
        ));
    }
    eprintln!(
        "bunctl-log: {} exited with {status}{after}; {} and {}, {} dropped in {:.2} s",
        program.to_string_lossy(),
        counted(summary.stdout.lines, "stdout line"),
        counted(summary.stderr.lines, "stderr line"),
        totals.dropped_messages,
        start.elapsed().as_secs_f64(),
    );
    // A signal has no exit code: report it as the shell does, 128 + signal.
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&status);
    #[cfg(not(unix))]
    let signal: Option<i32> = None;
    let code = status.code().or(signal.map(|s| 128 + s)).unwrap_or(1);
    Ok(u8::try_from(code).unwrap_or(1))
}

/// Waits for the child, sending it (its process group) the SIGTERM, SIGINT and SIGHUP that
/// bunctl-log receives meanwhile. Returns the status and the last signal forwarded.
#[cfg(unix)]
async fn wait_forwarding(
    child: &mut tokio::process::Child,
    signals: &mut signals::Signals,
) -> std::io::Result<(std::process::ExitStatus, Option<signals::Stop>)> {
    // The child leads its own process group: the group's id is its pid. Once `wait` has
    // reaped the child, that id may be reused: nothing is sent after.
    let group = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(rustix::process::Pid::from_raw);
    let mut forwarded = None;
    loop {
        tokio::select! {
            status = child.wait() => return Ok((status?, forwarded)),
            stop = signals.recv() => {
                if let Some(group) = group {
                    // ESRCH: the group has just exited; `wait` says so next.
                    let _ = rustix::process::kill_process_group(group, stop.signal());
                    forwarded = Some(stop);
                }
            }
        }
    }
}
