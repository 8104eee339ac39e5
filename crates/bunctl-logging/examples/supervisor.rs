//! What bunctl's daemon does with this crate, in one program: run two apps, capture each
//! line of their stdout and stderr with `write_line` as `[app] [time] [stdout|stderr] text`,
//! answer "logs for app X, last 50" and "all apps" (as JSON), delete one app, start it again,
//! and close everything at exit.
//!
//! ```sh
//! cargo run -p bunctl-logging --example supervisor            # logs in ./supervisor-logs
//! cargo run -p bunctl-logging --example supervisor -- DIR
//! ```
//!
//! `tests/supervisor_example.rs` runs [`run`] and checks the files and the answers line by
//! line.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use bunctl_logging::{AppId, AsyncLogWriter, LogConfig, LogManager, StructuredLogs};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

/// Boxed errors: the example mixes the facade's, bunctl's `AppId`'s and I/O's.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// What the supervisor answered along the way, for the test to check.
#[derive(Debug)]
pub struct Answers {
    /// `logs web.v2 --lines 50` while both apps ran once.
    pub web_last_50: StructuredLogs,
    /// `logs` (every app) as the daemon serialises it.
    pub all_apps_json: String,
    /// `logs worker` after the app was deleted and started again.
    pub worker_after_restart: StructuredLogs,
}

/// The shell command of each app: three lines on stdout, two on stderr.
fn script(app: &str, run: u32) -> String {
    format!(
        "for i in 1 2 3; do echo \"{app} run {run} out $i\"; done; \
         echo \"{app} run {run} err 1\" >&2; echo \"{app} run {run} err 2\" >&2"
    )
}

/// Writes every line of `stream` as bunctl's daemon does.
async fn pump(
    stream: impl AsyncRead + Unpin,
    writer: Arc<AsyncLogWriter>,
    app: AppId,
    tag: &'static str,
) -> Result<()> {
    let mut lines = BufReader::new(stream).lines();
    while let Some(text) = lines.next_line().await? {
        let time = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
        writer.write_line(format!("[{app}] [{time}] [{tag}] {text}"))?;
    }
    Ok(())
}

/// Starts `app` (`sh -c`), captures both streams into its writer, waits for it to exit.
async fn start(manager: &LogManager, app: &AppId, run: u32) -> Result<()> {
    let writer = manager.get_writer(app).await?;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script(app.as_str(), run))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let out = child.stdout.take().ok_or("no stdout pipe")?;
    let err = child.stderr.take().ok_or("no stderr pipe")?;
    let (a, b) = tokio::join!(
        pump(out, writer.clone(), app.clone(), "stdout"),
        pump(err, writer.clone(), app.clone(), "stderr"),
    );
    a?;
    b?;
    child.wait().await?;
    writer.flush().await?;
    Ok(())
}

/// The supervisor's life with logs in `dir`.
pub async fn run(dir: &Path) -> Result<Answers> {
    let manager = LogManager::new(LogConfig {
        base_dir: dir.to_path_buf(),
        ..LogConfig::default()
    });
    let web = AppId::new("web.v2")?;
    let worker = AppId::new("worker")?;
    start(&manager, &web, 1).await?;
    start(&manager, &worker, 1).await?;

    let web_last_50 = manager.read_structured_logs(&web, 50).await?;
    let all = manager.read_all_apps_logs(50).await?;
    let all_apps_json = serde_json::to_string(&all)?;

    // `bunctl delete worker`: its writer goes; its files stay until removed by the operator.
    manager.remove_writer(&worker).await?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("worker.") {
            std::fs::remove_file(&path)?;
        }
    }
    // `bunctl start worker` again: a new writer, a new file.
    start(&manager, &worker, 2).await?;
    let worker_after_restart = manager.read_structured_logs(&worker, 50).await?;

    manager.close_all().await?;
    Ok(Answers {
        web_last_50,
        all_apps_json,
        worker_after_restart,
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("supervisor-logs"), PathBuf::from);
    let answers = run(&dir).await?;
    println!("logs web.v2 --lines 50: {:#?}", answers.web_last_50);
    println!("logs (all apps): {}", answers.all_apps_json);
    println!(
        "logs worker after restart: {:#?}",
        answers.worker_after_restart
    );
    Ok(())
}
