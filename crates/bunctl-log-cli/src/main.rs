//! `bunctl-log`: the log subsystem's main job from a shell.
//!
//! `bunctl-log pipe --app NAME` reads stdin until EOF into `./logs/NAME.log`, rotated at a size,
//! compressed and bounded, losing nothing (when the disk is slower than the input, reading
//! stops and the producer waits on its full pipe, as with s6-log or multilog). SIGTERM, SIGINT
//! or SIGHUP stop it the same way as EOF, after writing what it read. `bunctl-log run --app
//! NAME -- COMMAND` captures a command's output, forwards those signals to it and exits with its
//! status; on Linux the command dies with bunctl-log even if bunctl-log is killed with SIGKILL.
//! `files` and `cat` read the logs back, oldest first, and `tail` their end, a time window or
//! what comes next (`-f`), all through bunctl-log-read. Run `bunctl-log --help` for the flags.

mod args;
#[cfg(target_os = "linux")]
mod exec;
#[cfg(unix)]
mod fdlimit;
mod metrics;
mod read;
#[cfg(unix)]
mod signals;
#[cfg(unix)]
mod stdin;
mod time;

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use args::{
    Cli, Command, PipeArgs, ReadTarget, RunArgs, StreamChoice, TailArgs, Target, WriteArgs,
};
use bunctl_logging::{
    capture::{pump_until, PumpSummary},
    AsyncLogWriter, CaptureMode, CaptureSummary, LogConfig, LogManager, LogWriterConfig, Stream,
    WriterOptions,
};
use clap::{CommandFactory, Parser};

fn main() -> ExitCode {
    // The hidden exec helper of `run`, before clap: it is in no help, error or completion.
    #[cfg(target_os = "linux")]
    {
        let mut argv = std::env::args_os().skip(1);
        if argv.next().is_some_and(|a| a == exec::EXEC) {
            return exec::exec(&argv.collect::<Vec<_>>());
        }
    }
    // After the exec helper: the command it becomes gets the limit bunctl-log started with.
    #[cfg(unix)]
    fdlimit::raise();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` print on stdout and exit 0; a usage error prints what is
            // wrong and the usage on stderr and exits 2.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    if let Command::Tail(args::TailArgs {
        since: Some(since),
        until: Some(until),
        ..
    }) = &cli.command
    {
        if since > until {
            let _ = Cli::command()
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("--since {since} is after --until {until}"),
                )
                .print();
            return ExitCode::from(2);
        }
    }
    if let Command::Files(t)
    | Command::Cat(args::CatArgs { target: t, .. })
    | Command::Tail(TailArgs { target: t, .. }) = &cli.command
    {
        if let Err(e) = t.target() {
            let _ = Cli::command()
                .error(clap::error::ErrorKind::ArgumentConflict, e)
                .print();
            return ExitCode::from(2);
        }
    }
    if let Command::Tail(TailArgs {
        lines: Some(args::LineCount::From(_)),
        follow,
        since,
        until,
        ..
    }) = &cli.command
    {
        if *follow || since.is_some() || until.is_some() {
            let _ = Cli::command()
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    "-n +LINES (from line LINES on) cannot be used with -f, --since or --until",
                )
                .print();
            return ExitCode::from(2);
        }
    }
    // Before the runtime: its signal setup panics when it finds no descriptor.
    #[cfg(unix)]
    if matches!(cli.command, Command::Pipe(_) | Command::Run(_)) {
        if let Err(e) = fdlimit::check_free(fdlimit::NEEDED_TO_START) {
            eprintln!("bunctl-log: {e}");
            return ExitCode::from(1);
        }
    }
    let result = match cli.command {
        Command::Pipe(a) => run_async(pipe(a)),
        Command::Run(a) => match run_async(run(a)) {
            // The command's own exit code, as a supervisor or shell script expects.
            Ok(code) => return ExitCode::from(code),
            Err(e) => Err(e),
        },
        Command::Files(t) => files(&t),
        Command::Cat(t) => cat(&t),
        Command::Tail(a) => tail(&a),
        Command::Completions(a) => completions(a.shell),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `bunctl-log cat ... | head`: the reader has what it wanted.
        Err(e) if is_broken_pipe(e.as_ref()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bunctl-log: {e}");
            ExitCode::from(1)
        }
    }
}

fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

type CliResult = Result<(), Box<dyn std::error::Error>>;

fn run_async<T>(
    fut: impl std::future::Future<Output = Result<T, Box<dyn std::error::Error>>>,
) -> Result<T, Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(fut);
    // `fut` awaited everything the command does; a blocking read left on a silent stdin (the
    // non-Unix `pipe`) must not keep the process alive, as dropping the runtime would.
    runtime.shutdown_background();
    result
}

/// The manager-level configuration the flags describe, and the app's live file.
fn log_config(t: &Target, w: Option<&WriteArgs>) -> (LogConfig, std::path::PathBuf) {
    let mut config = LogConfig {
        base_dir: t.dir.clone(),
        ..LogConfig::default()
    };
    if let Some(w) = w {
        config.max_file_size = w.max_size;
        config.max_files = w.keep;
        config.compression = !w.no_compress;
    }
    let live = config.log_path(&t.app);
    (config, live)
}

/// The options the flags set beyond the configuration.
fn writer_options(w: &WriteArgs) -> WriterOptions {
    let mut options = WriterOptions::default();
    options.format = w.format.into();
    options
}

fn writer_config(t: &Target, w: &WriteArgs) -> LogWriterConfig {
    let (config, live) = log_config(t, Some(w));
    LogWriterConfig {
        // A pipe is read in 64 KiB chunks: batch in the same unit.
        buffer_size: 64 << 10,
        ..config.writer_config(&live)
    }
}

/// `completions`: the shell's completion script on stdout.
fn completions(shell: args::Shell) -> CliResult {
    // Into memory first: clap_complete panics if its writer fails (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(
        clap_complete::Shell::from(shell),
        &mut Cli::command(),
        "bunctl-log",
        &mut script,
    );
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(())
}

/// `pipe`: stdin into the files until EOF or SIGTERM, SIGINT or SIGHUP. Either way every line
/// read is written before it returns; `Err` if one was not, or on an error.
async fn pipe(a: PipeArgs) -> CliResult {
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
    match closed {
        Err(e) if m.lines_written >= pumped.lines => {
            warn_left_undone(&e);
            Ok(())
        }
        closed => Ok(closed?),
    }
}

/// Says on stderr that every line is in the files but closing them failed (exit 0: the
/// status says whether lines were lost, and none was).
fn warn_left_undone(e: &dyn std::fmt::Display) {
    eprintln!(
        "bunctl-log: warning: every line is in the files, but closing them failed: {e} \
         (left undone: what came after the last write, such as compressing a rotated file)"
    );
}

/// `1 line`, `2 lines`, `0 lines`: a count and its noun, plural unless it is one.
fn counted(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Why `run` cannot start its command, with the exit status a shell gives then.
struct CannotRun {
    /// 127: not found; 126: found but not executable.
    code: u8,
    message: String,
}

impl CannotRun {
    fn new(program: &OsStr, code: u8, why: &str) -> Self {
        Self {
            code,
            message: format!("cannot run {program:?}: {why}"),
        }
    }

    /// From the error of starting it.
    fn of_spawn(program: &OsStr, e: &std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::NotFound => Self::new(program, 127, "not found"),
            std::io::ErrorKind::PermissionDenied => Self::new(program, 126, "not executable"),
            _ => Self::new(program, 126, &e.to_string()),
        }
    }
}

/// The command `run` starts, in its own process group (so that signals reach all of it and
/// only it: the terminal's Ctrl-C goes to bunctl-log, which forwards it).
fn command(program: &OsStr, args: &[OsString]) -> Result<tokio::process::Command, CannotRun> {
    #[cfg(target_os = "linux")]
    let mut cmd = {
        // The exec helper would report a missing program into the log file: say it here.
        check_program(program)?;
        exec::command(program, args)
    };
    #[cfg(not(target_os = "linux"))]
    let mut cmd = {
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args);
        cmd
    };
    #[cfg(unix)]
    cmd.process_group(0);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    Ok(cmd)
}

/// `Err` unless `program` names an executable file, looked up as `execvp` does: in `PATH`
/// unless it has a `/`.
#[cfg(target_os = "linux")]
fn check_program(program: &OsStr) -> Result<(), CannotRun> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |m: &std::fs::Metadata| m.is_file() && m.permissions().mode() & 0o111 != 0;
    if program.as_encoded_bytes().contains(&b'/') {
        return match std::fs::metadata(program) {
            Ok(m) if runnable(&m) => Ok(()),
            Ok(m) if m.is_dir() => Err(CannotRun::new(program, 126, "not executable: a directory")),
            Ok(_) => Err(CannotRun::new(program, 126, "not executable")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(CannotRun::new(program, 127, "not found"))
            }
            Err(e) => Err(CannotRun::new(program, 126, &e.to_string())),
        };
    }
    let found = match std::env::var_os("PATH") {
        Some(path) => std::env::split_paths(&path)
            .any(|dir| std::fs::metadata(dir.join(program)).is_ok_and(|m| runnable(&m))),
        // execvp's default path then: let the exec helper try.
        None => true,
    };
    if found {
        Ok(())
    } else {
        Err(CannotRun::new(program, 127, "not found in PATH"))
    }
}

/// `Err` naming `dir` if it exists and is not a directory (a missing one is created).
fn check_dir(dir: &std::path::Path) -> Result<(), String> {
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(format!("{} is not a directory", dir.display())),
        _ => Ok(()),
    }
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

async fn run(a: RunArgs) -> Result<u8, Box<dyn std::error::Error>> {
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
    let finish = capture.finish();
    let mut finish = std::pin::pin!(finish);
    #[cfg(unix)]
    let mut capture_ended_by = None;
    #[cfg(unix)]
    let summary = loop {
        tokio::select! {
            summary = &mut finish => break summary?,
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
        finish.await?
    };
    let totals = manager.total_metrics().await;
    if let Err(e) = manager.close_all().await {
        let handed = summary.stdout.lines + summary.stderr.lines;
        if totals.lines_lost > 0 || totals.dropped_messages > 0 || totals.lines_written < handed {
            return Err(e.into());
        }
        warn_left_undone(&e);
    }
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

/// `run`'s pumps of the child's stdout and stderr into their writers, until EOF or a stop.
struct Capture {
    stdout: Option<tokio::task::JoinHandle<bunctl_logging::Result<PumpSummary>>>,
    stderr: Option<tokio::task::JoinHandle<bunctl_logging::Result<PumpSummary>>>,
}

impl Capture {
    /// Pumps `child`'s pipes into `app`'s files; `stop` turning `true` ends both pumps after
    /// what their pipes hold now.
    async fn start(
        manager: &LogManager,
        app: &bunctl_logging::AppId,
        child: &mut tokio::process::Child,
        mode: CaptureMode,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> bunctl_logging::Result<Self> {
        async fn spawn<R>(
            manager: &LogManager,
            app: &bunctl_logging::AppId,
            reader: Option<R>,
            stream: Stream,
            mode: CaptureMode,
            mut stop: tokio::sync::watch::Receiver<bool>,
        ) -> bunctl_logging::Result<
            Option<tokio::task::JoinHandle<bunctl_logging::Result<PumpSummary>>>,
        >
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
        let stdout = spawn(
            manager,
            app,
            child.stdout.take(),
            Stream::Stdout,
            mode,
            stop.clone(),
        );
        let stdout = stdout.await?;
        let stderr = spawn(
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
    async fn finish(self) -> Result<CaptureSummary, Box<dyn std::error::Error>> {
        async fn join(
            pump: Option<tokio::task::JoinHandle<bunctl_logging::Result<PumpSummary>>>,
        ) -> Result<PumpSummary, Box<dyn std::error::Error>> {
            match pump {
                None => Ok(PumpSummary::default()),
                Some(h) => Ok(h.await??),
            }
        }
        let stdout = join(self.stdout).await;
        let stderr = join(self.stderr).await;
        Ok(CaptureSummary {
            stdout: stdout?,
            stderr: stderr?,
        })
    }
}

/// The files `files`, `cat` and `tail` read, and how their lines are printed.
fn logs(t: &ReadTarget, print: read::Print) -> Result<read::Logs, Box<dyn std::error::Error>> {
    let target = t.target()?;
    check_dir(&target.dir)?;
    let (config, stdout) = log_config(&target, None);
    let stderr = config.err_log_path(&target.app);
    let want = match t.stream {
        StreamChoice::Stdout => Some(bunctl_log_read::Origin::Stdout),
        StreamChoice::Stderr => Some(bunctl_log_read::Origin::Stderr),
        StreamChoice::All => None,
    };
    read::Logs::find(
        target.app.as_str(),
        &target.dir,
        stdout,
        stderr,
        want,
        print,
    )
}

/// Stdout for `cat` and `tail`, buffered: lines are printed one at a time, and stdout alone
/// would write each with a system call of its own. Each command flushes it at its end.
fn stdout() -> std::io::BufWriter<std::io::StdoutLock<'static>> {
    std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock())
}

fn files(t: &ReadTarget) -> CliResult {
    read::files(
        &logs(t, read::Print::default())?,
        &mut std::io::stdout().lock(),
    )?;
    Ok(())
}

fn cat(a: &args::CatArgs) -> CliResult {
    read::cat(&logs(&a.target, a.print.into())?, &mut stdout())?;
    Ok(())
}

fn tail(a: &TailArgs) -> CliResult {
    let logs = logs(&a.target, a.print.into())?;
    let lines = a
        .lines
        .unwrap_or(args::LineCount::Last(args::DEFAULT_LINES));
    if a.since.is_some() || a.until.is_some() {
        let window = bunctl_log_read::Window {
            since: a.since,
            until: a.until,
        };
        let n = match lines {
            _ if a.lines.is_none() => None,
            args::LineCount::Last(n) => Some(n),
            // Refused in main, before reading.
            args::LineCount::From(_) => None,
        };
        return read::window(&logs, &window, n, &mut stdout());
    }
    match lines {
        args::LineCount::From(first) => {
            let mut out = read::SkipLines::new(stdout(), first - 1);
            read::cat(&logs, &mut out)?;
        }
        args::LineCount::Last(n) if a.follow => read::follow(&logs, n)?,
        args::LineCount::Last(n) => read::tail(&logs, n, &mut stdout())?,
    }
    Ok(())
}
