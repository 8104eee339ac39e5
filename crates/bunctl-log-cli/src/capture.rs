//! `run`'s capture: pumps of the child's stdout and stderr into their writers, until EOF or a
//! stop, and what each moved.

use bunctl_logging::{
    capture::{pump_until, PumpSummary},
    AppId, CaptureMode, CaptureSummary, LogManager, Stream,
};

/// A pump of one of the child's pipes into its writer, running on the runtime.
type Pump = tokio::task::JoinHandle<bunctl_logging::Result<PumpSummary>>;

/// `run`'s pumps of the child's stdout and stderr into their writers, until EOF or a stop.
pub(crate) struct Capture {
    stdout: Option<Pump>,
    stderr: Option<Pump>,
}

impl Capture {
    /// Pumps `child`'s pipes into `app`'s files; `stop` turning `true` ends both pumps after
    /// what their pipes hold now.
    pub(crate) async fn start(
        manager: &LogManager,
        app: &AppId,
        child: &mut tokio::process::Child,
        mode: CaptureMode,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> bunctl_logging::Result<Self> {
        async fn start_pump<R>(
            manager: &LogManager,
            app: &AppId,
            reader: Option<R>,
            stream: Stream,
            mode: CaptureMode,
            mut stop: tokio::sync::watch::Receiver<bool>,
        ) -> bunctl_logging::Result<Option<Pump>>
        where
            R: tokio::io::AsyncRead + Unpin + Send + 'static,
        {
            let Some(reader) = reader else {
                return Ok(None);
            };
            let writer = manager.get_stream_writer(app, stream, mode).await?;
            let merged = (mode == CaptureMode::Merged).then_some(stream);
            let max_line_len = writer.options().max_line_len;
            let stopped = async move {
                // A dropped sender (run ended otherwise) is no stop: wait for EOF then.
                if stop.wait_for(|s| *s).await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            Ok(Some(tokio::spawn(pump_until(
                reader,
                writer,
                merged,
                max_line_len,
                stopped,
            ))))
        }
        let stdout = start_pump(
            manager,
            app,
            child.stdout.take(),
            Stream::Stdout,
            mode,
            stop.clone(),
        );
        let stdout = stdout.await?;
        let stderr = start_pump(
            manager,
            app,
            child.stderr.take(),
            Stream::Stderr,
            mode,
            stop,
        );
        Ok(Self {
            stdout,
            stderr: stderr.await?,
        })
    }

    /// What each pump moved, once both have ended.
    pub(crate) async fn wait(self) -> Result<CaptureSummary, Box<dyn std::error::Error>> {
        async fn summary_of(pump: Option<Pump>) -> Result<PumpSummary, Box<dyn std::error::Error>> {
            match pump {
                None => Ok(PumpSummary::default()),
                Some(h) => Ok(h.await??),
            }
        }
        let stdout = summary_of(self.stdout).await;
        let stderr = summary_of(self.stderr).await;
        Ok(CaptureSummary {
            stdout: stdout?,
            stderr: stderr?,
        })
    }
}
