//! `cargo xtask shipper [--lines N] [--rate R]`: ship `bunctl-log pipe`'s files with a real log
//! shipper, rsyslog's `imfile`, and check that it delivered every line exactly once, in order.
//!
//! Shippers (rsyslog, Vector, Fluent Bit, Promtail) follow the live file by name and inode and
//! expect rotation by rename: the old file is complete when it is renamed, never written again,
//! and a new live file appears under the name. This runs a private `rsyslogd` (own config, pid
//! file and state directory; no system inputs, never `/etc/rsyslog.conf` or `/dev/log`) whose
//! only input is `imfile` on `DIR/ship.log` and whose only output is the message text, byte for
//! byte, in `OUT/delivered.log`. It pushes numbered lines through `bunctl-log pipe` rotating at
//! 256 KiB with compression, as fast as the pipe takes them (or paced with `--rate`), waits for
//! the delivery, stops rsyslogd, and checks the delivered lines. It also reads the files back
//! with `bunctl-log cat` (the contract: every line in the files once, in order), so that a line
//! rsyslog missed can be named by the file it was in, whole or in part.
//!
//! What it showed (rsyslog 8.2302, Debian 12, 2 shared cores): the contract holds in every run,
//! and every file imfile opened was delivered whole, to its last line, renamed or not. But imfile
//! only ever opens whatever file has the name when it gets round to it: a live file that is
//! created, filled and renamed away before then is never read (at full speed a 256 KiB file can
//! live a few milliseconds: the writer catches up after each fsync in bursts), and when it
//! recorded the inode of one file but opened the next, it drops the file it is reading and reads
//! it again from the start (duplicates). As fast as the pipe takes them, a fifth to a half of the
//! files were never read in every run; at 100,000 and 50,000 lines/s, up to 15 files (one run of
//! three at 50,000 lost none); at 30,000, 20,000 and 10,000 lines/s (a file lives 0.3-1.2 s)
//! every line arrived once, in order, in every run, at 20,000 also with a CPU hog and an
//! fsync-heavy writer running (one early trial at 28,600 lines/s, fed by a script, lost one file).
//! CI runs it at 20,000 lines/s.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::crash::{
    bunctl_log, digits, excerpt, filler, log_files, thousands, wait_or_kill, Errors,
};
use super::{cargo, run, target_dir};

/// The app name: the live file is `ship.log`.
const APP: &str = "ship";
/// Small, so that rotations (and compressions) are frequent. `--max-size` of 512K or more
/// tests the rotations that the writer finishes in the background (the new live file comes
/// from renaming the hidden `.ship.log.next`).
const MAX_SIZE: &str = "256K";
/// Large, so that retention never deletes a file before the checks read it.
const KEEP: &str = "1000";
const DEFAULT_LINES: u64 = 300_000;
/// Bytes of lines written to the pipe per `write`.
const FEED_CHUNK: usize = 64 << 10;
/// How often `delivered.log` is looked at.
const POLL: Duration = Duration::from_millis(100);
/// Delivery is over when `delivered.log` has not grown for this long...
const STALL: Duration = Duration::from_secs(10);
/// ...or, once it has every line, for this long (a late duplicate would still show up).
const SETTLE: Duration = Duration::from_secs(1);
/// Longest wait for the delivery after the writer finished, growing or not.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest wait for rsyslogd to watch the log directory after it started.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for rsyslogd to exit after SIGTERM before it gets SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest run of `bunctl-log pipe` beyond the time `--rate` asks for.
const WRITER_TIMEOUT: Duration = Duration::from_secs(120);
/// Violations and ranges printed in full; the rest are counted.
const MAX_REPORTED: usize = 20;
/// Files named per missing or duplicated range.
const MAX_FILES_PER_RANGE: usize = 4;

const USAGE: &str =
    "usage: cargo xtask shipper [--lines N] [--rate LINES_PER_SECOND] [--max-size SIZE]
  --lines N        lines to push through bunctl-log pipe (default 300000)
  --rate R         feed R lines per second instead of as fast as the pipe takes them
  --max-size SIZE  bunctl-log pipe's rotation size (default 256K)";

/// `cargo xtask shipper`: exit code 0 if rsyslog delivered every line once, in order; 1 if not,
/// or if something failed on the way; 2 on bad arguments; a failed build's or install's own code.
pub fn shipper(args: &[OsString]) -> Result<(), i32> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let opts = parse_args(args).map_err(|e| {
        eprintln!("xtask shipper: {e}\n{USAGE}");
        2
    })?;
    let rsyslogd = ensure_rsyslogd()?;
    let mut build = cargo();
    build.args(["build", "--release", "-p", "bunctl-log-cli"]);
    run(build)?;
    let bin = target_dir()
        .join("release")
        .join(format!("bunctl-log{}", std::env::consts::EXE_SUFFIX));
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let work = target_dir()
        .join("shipper")
        .join(format!("{stamp}-{}", std::process::id()));
    let paths = Paths::new(&work);
    if let Err(e) = paths.create() {
        eprintln!("xtask shipper: cannot create {}: {e}", work.display());
        return Err(1);
    }
    let start = Instant::now();
    let outcome = trial(&rsyslogd, &bin, &paths, &opts);
    let total = start.elapsed();
    match outcome {
        Ok(report) => {
            report.print(&opts, total);
            if report.passed() {
                println!(
                    "xtask shipper: passed, rsyslog delivered all {} lines once, in order",
                    thousands(opts.lines)
                );
                if let Err(e) = fs::remove_dir_all(&work) {
                    eprintln!("xtask shipper: cannot remove {}: {e}", work.display());
                }
                Ok(())
            } else {
                eprintln!(
                    "xtask shipper: FAILED; the files, rsyslog's config, output and state are kept in {}",
                    work.display()
                );
                Err(1)
            }
        }
        Err(e) => {
            eprintln!("xtask shipper: {e}");
            eprintln!(
                "xtask shipper: FAILED after {:.1} s; the files, rsyslog's config, output and state are kept in {}",
                total.as_secs_f64(),
                work.display()
            );
            Err(1)
        }
    }
}

/// What the flags ask for.
struct Opts {
    lines: u64,
    /// Lines per second, or as fast as the pipe takes them.
    rate: Option<u64>,
    /// bunctl-log pipe's `--max-size`.
    max_size: String,
}

fn parse_args(args: &[OsString]) -> Result<Opts, String> {
    let mut opts = Opts {
        lines: DEFAULT_LINES,
        rate: None,
        max_size: MAX_SIZE.to_owned(),
    };
    let mut it = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            let v = it.next().ok_or(format!("{name} needs a value"))?;
            match v.parse() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("{name} takes a whole number above 0, not {v:?}")),
            }
        };
        match arg.as_str() {
            // Sequence numbers are written with nine digits.
            "--lines" => match value("--lines")? {
                n if n <= 999_999_999 => opts.lines = n,
                n => return Err(format!("--lines must be at most 999999999, not {n}")),
            },
            "--rate" => opts.rate = Some(value("--rate")?),
            // bunctl-log checks it, and says what is wrong with it.
            "--max-size" => opts.max_size = it.next().ok_or("--max-size needs a value")?,
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    Ok(opts)
}

// ---------------------------------------------------------------------------------------------
// rsyslogd: found, or installed from the OS packages.

/// `name` in `PATH` or in the sbin directories (often not in a user's `PATH`).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.trim_ascii() == b"0")
}

/// The path of `rsyslogd`, installing the `rsyslog` package with apt-get if it is missing.
fn ensure_rsyslogd() -> Result<PathBuf, i32> {
    if let Some(p) = find_program("rsyslogd") {
        return Ok(p);
    }
    const WHAT: &str = "install the rsyslog package (Debian, Ubuntu: `sudo apt-get install rsyslog`; Fedora, RHEL: `sudo dnf install rsyslog`) and run it again";
    if find_program("apt-get").is_none() {
        eprintln!(
            "xtask shipper: rsyslogd not found, and there is no apt-get to install it: {WHAT}"
        );
        return Err(1);
    }
    if !is_root() {
        eprintln!("xtask shipper: rsyslogd not found, and installing it needs root: {WHAT}");
        return Err(1);
    }
    eprintln!("xtask shipper: rsyslogd not found: installing the rsyslog package");
    let install = || {
        let mut c = Command::new("apt-get");
        c.env("DEBIAN_FRONTEND", "noninteractive").args([
            "install",
            "-y",
            "--no-install-recommends",
            "rsyslog",
        ]);
        c
    };
    if run(install()).is_err() {
        // A fresh machine may have no package lists yet.
        let mut update = Command::new("apt-get");
        update
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["update"]);
        run(update)?;
        run(install())?;
    }
    find_program("rsyslogd").ok_or_else(|| {
        eprintln!("xtask shipper: the rsyslog package is installed but rsyslogd is nowhere in PATH or /usr/sbin: {WHAT}");
        1
    })
}

/// `rsyslogd -v`'s first line, e.g. `rsyslogd  8.2302.0 (aka 2023.02) compiled with:`.
fn rsyslogd_version(rsyslogd: &Path) -> String {
    Command::new(rsyslogd)
        .arg("-v")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "rsyslogd (version unknown)".into())
}

// ---------------------------------------------------------------------------------------------
// The work directory and rsyslog's configuration.

/// Everything of one run, under `<target>/shipper/<time>-<pid>/`.
struct Paths {
    /// `bunctl-log pipe --dir`: `ship.log` and its archives.
    logs: PathBuf,
    /// rsyslog's output: `delivered.log`.
    out: PathBuf,
    delivered: PathBuf,
    /// rsyslog's work directory: imfile's state files.
    state: PathBuf,
    conf: PathBuf,
    pid_file: PathBuf,
    /// rsyslogd's stdout and stderr: its own messages (imfile's errors among them).
    console: PathBuf,
}

impl Paths {
    fn new(work: &Path) -> Self {
        let out = work.join("out");
        Self {
            logs: work.join("logs"),
            delivered: out.join("delivered.log"),
            out,
            state: work.join("rsyslog-state"),
            conf: work.join("rsyslog.conf"),
            pid_file: work.join("rsyslogd.pid"),
            console: work.join("rsyslogd.console.log"),
        }
    }

    fn create(&self) -> io::Result<()> {
        for dir in [&self.logs, &self.out, &self.state] {
            fs::create_dir_all(dir)?;
        }
        Ok(())
    }

    fn live(&self) -> PathBuf {
        self.logs.join(format!("{APP}.log"))
    }
}

/// The configuration: imfile on the live file, the message text alone to `delivered.log`.
/// Paths are quoted in rsyslog's syntax: refuse the few characters that would need escaping.
fn rsyslog_conf(paths: &Paths) -> Result<String, String> {
    let quote = |p: &Path| -> Result<String, String> {
        let s = p
            .to_str()
            .ok_or_else(|| format!("{}: not UTF-8", p.display()))?;
        if s.contains(['"', '\\', '\n', '\'', '`', '$']) {
            return Err(format!(
                "{s}: a path with quotes, backslashes or `$` cannot go into rsyslog's config: use another target directory"
            ));
        }
        Ok(s.to_string())
    };
    let state = quote(&paths.state)?;
    let live = quote(&paths.live())?;
    let delivered = quote(&paths.delivered)?;
    Ok(format!(
        r#"# Written by `cargo xtask shipper`: a private rsyslogd, run as
#   rsyslogd -n -f <this file> -i <its own pid file>
# No input but imfile: imuxsock (/dev/log) and imklog are not loaded, and /etc/rsyslog.conf is
# not read.
global(
  workDirectory="{state}"  # imfile's state files: where it is in each file
  parser.escapeControlCharactersOnReceive="off"  # no #011-style escapes: the bytes as they came
)

module(load="imfile" mode="inotify")

# The message text alone, one per line: imfile's %msg% is the line as it was in the file, with
# no leading space (that space comes from parsing the syslog protocol, which imfile skips).
template(name="bunctl_line" type="string" string="%msg%\n")

ruleset(name="bunctl_ship") {{
  action(type="omfile" file="{delivered}" template="bunctl_line")
}}

# The live file itself, no wildcard: when it is renamed, imfile reads the renamed file to its end
# through the handle it has open, then opens the new file under the name from its start. (A
# wildcard that also matches the archives, ship.*.log, makes imfile read a renamed file again as
# a new one: duplicates and reordering.)
input(type="imfile"
  file="{live}"
  tag="bunctl-ship"
  ruleset="bunctl_ship"
  freshStartTail="off"  # a file that exists when rsyslogd starts is read from its start
)
"#
    ))
}

// ---------------------------------------------------------------------------------------------
// The private rsyslogd.

/// The rsyslogd this run started. Dropping it stops it (SIGTERM, then SIGKILL), so that no
/// rsyslogd of ours outlives the xtask whatever path it leaves by.
struct Rsyslogd {
    child: Option<Child>,
    pid_file: PathBuf,
}

/// How rsyslogd ended.
struct Stopped {
    status: ExitStatus,
    /// It did not exit within [`STOP_TIMEOUT`] of SIGTERM and got SIGKILL.
    killed: bool,
    /// It had already exited before it was asked to.
    early: bool,
}

impl Rsyslogd {
    fn start(rsyslogd: &Path, paths: &Paths) -> Result<Self, String> {
        let console = File::create(&paths.console)
            .map_err(|e| format!("cannot create {}: {e}", paths.console.display()))?;
        let console2 = console
            .try_clone()
            .map_err(|e| format!("cannot duplicate a file handle: {e}"))?;
        let mut command = Command::new(rsyslogd);
        command
            .arg("-n")
            .arg("-f")
            .arg(&paths.conf)
            .arg("-i")
            .arg(&paths.pid_file)
            // Not a systemd service: no readiness notification, no inherited sockets.
            .env_remove("NOTIFY_SOCKET")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDNAMES")
            .stdin(Stdio::null())
            .stdout(console)
            .stderr(console2);
        eprintln!("xtask shipper: running {command:?}");
        let child = command
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", rsyslogd.display()))?;
        Ok(Self {
            child: Some(child),
            pid_file: paths.pid_file.clone(),
        })
    }

    fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// `Some(status)` if it has exited.
    fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Waits until its pid file names it and imfile watches `dir`.
    fn wait_ready(&mut self, dir: &Path, console: &Path) -> Result<(), String> {
        let started = Instant::now();
        let said = || fs::read_to_string(console).unwrap_or_default();
        loop {
            if let Some(status) = self.exited() {
                return Err(format!(
                    "rsyslogd exited at start ({status}); it said: {:?}",
                    said().trim()
                ));
            }
            let pid_ok = self.pid_from_file() == Some(self.id());
            if pid_ok && watches(self.id(), dir) != Some(false) {
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(format!(
                    "rsyslogd did not {} within {READY_TIMEOUT:?}; it said: {:?}",
                    if pid_ok {
                        format!("watch {} (imfile)", dir.display())
                    } else {
                        format!("write its pid to {}", self.pid_file.display())
                    },
                    said().trim()
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn pid_from_file(&self) -> Option<u32> {
        fs::read_to_string(&self.pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// SIGTERM to the pid in its pid file (which must be the process this run started: no other
    /// is ever signalled), a wait, SIGKILL if it is still there after [`STOP_TIMEOUT`].
    fn stop(&mut self) -> Result<Stopped, String> {
        let Some(mut child) = self.child.take() else {
            return Err("rsyslogd was already stopped".into());
        };
        if let Ok(Some(status)) = child.try_wait() {
            return Ok(Stopped {
                status,
                killed: false,
                early: true,
            });
        }
        let pid = child.id();
        match self.pid_from_file() {
            Some(p) if p == pid => {}
            other => eprintln!(
                "xtask shipper: warning: {} says {other:?}, but the rsyslogd this run started is {pid}: signalling {pid}",
                self.pid_file.display()
            ),
        }
        let term = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        if !term.as_ref().is_ok_and(ExitStatus::success) {
            eprintln!("xtask shipper: warning: `kill -TERM {pid}` failed ({term:?})");
        }
        let asked = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    return Ok(Stopped {
                        status,
                        killed: false,
                        early: false,
                    });
                }
                Ok(None) if asked.elapsed() < STOP_TIMEOUT => {
                    thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("cannot wait for rsyslogd {pid}: {e}"));
                }
            }
        }
        // Child::kill sends SIGKILL.
        let _ = child.kill();
        let status = child
            .wait()
            .map_err(|e| format!("cannot wait for rsyslogd {pid} after SIGKILL: {e}"))?;
        Ok(Stopped {
            status,
            killed: true,
            early: false,
        })
    }
}

impl Drop for Rsyslogd {
    fn drop(&mut self) {
        if self.child.is_some() {
            let pid = self.id();
            match self.stop() {
                Ok(s) if s.killed => eprintln!(
                    "xtask shipper: rsyslogd {pid} ignored SIGTERM for {STOP_TIMEOUT:?}: killed"
                ),
                Ok(_) => {}
                Err(e) => eprintln!("xtask shipper: {e}"),
            }
        }
    }
}

/// Whether process `pid` has an inotify watch on `dir`: `None` if that cannot be told (no
/// `/proc`, or not Linux).
fn watches(pid: u32, dir: &Path) -> Option<bool> {
    let ino = inode(dir)?;
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let want = format!(" ino:{ino:x} ");
    for fd in fds.flatten() {
        let is_inotify =
            fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy().contains("inotify"));
        if !is_inotify {
            continue;
        }
        let fdinfo = format!("/proc/{pid}/fdinfo/{}", fd.file_name().to_string_lossy());
        let Ok(info) = fs::read_to_string(fdinfo) else {
            continue;
        };
        if info
            .lines()
            .any(|l| l.starts_with("inotify ") && l.contains(&want))
        {
            return Some(true);
        }
    }
    Some(false)
}

#[cfg(unix)]
fn inode(path: &Path) -> Option<u64> {
    Some(std::os::unix::fs::MetadataExt::ino(
        &fs::metadata(path).ok()?,
    ))
}

#[cfg(not(unix))]
fn inode(_: &Path) -> Option<u64> {
    None
}

// ---------------------------------------------------------------------------------------------
// The writer.

/// Appends line `seq`, without its `\n`.
fn data_line(seq: u64, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{APP} {seq:09} ");
    out.extend_from_slice(filler(seq));
}

/// `Some(seq)` if `line` is exactly line `seq` (below `lines`).
fn parse_line(line: &[u8], lines: u64) -> Option<u64> {
    let rest = line.strip_prefix(APP.as_bytes())?.strip_prefix(b" ")?;
    if rest.len() < 10 || rest[9] != b' ' {
        return None;
    }
    let seq = digits(&rest[..9])?;
    (seq < lines && &rest[10..] == filler(seq)).then_some(seq)
}

/// Writes lines `0..lines` to `stdin`, as fast as the pipe takes them or at `rate` lines per
/// second, then closes it. Returns the lines written, or how many were before the pipe broke.
fn feed(mut stdin: ChildStdin, lines: u64, rate: Option<u64>) -> Result<u64, (u64, io::Error)> {
    let started = Instant::now();
    // Paced: chunks of 10 ms worth of lines.
    let per_chunk = rate.map_or(u64::MAX, |r| (r / 100).max(1));
    let mut chunk = Vec::with_capacity(FEED_CHUNK + 256);
    let mut seq = 0;
    while seq < lines {
        chunk.clear();
        let first = seq;
        while chunk.len() < FEED_CHUNK && seq < lines && seq - first < per_chunk {
            data_line(seq, &mut chunk);
            chunk.push(b'\n');
            seq += 1;
        }
        stdin.write_all(&chunk).map_err(|e| (first, e))?;
        if let Some(r) = rate {
            let due = Duration::from_secs_f64(seq as f64 / r as f64);
            thread::sleep(due.saturating_sub(started.elapsed()));
        }
    }
    Ok(seq) // dropping stdin closes the pipe: EOF
}

/// What `bunctl-log pipe` did.
struct Writer {
    time: Duration,
    /// Its summary line on stderr.
    said: String,
}

fn write_logs(bin: &Path, paths: &Paths, opts: &Opts) -> Result<Writer, String> {
    let started = Instant::now();
    let mut command = Command::new(bin);
    command
        .args(["pipe", "--app", APP, "--dir"])
        .arg(&paths.logs)
        .args(["--max-size", &opts.max_size, "--keep", KEEP])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    eprintln!("xtask shipper: running {command:?}");
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let stdin = child.stdin.take().ok_or("no stdin pipe")?;
    let mut stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let (lines, rate) = (opts.lines, opts.rate);
    let feeder = thread::spawn(move || feed(stdin, lines, rate));
    let reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let paced = rate.map_or(Duration::ZERO, |r| {
        Duration::from_secs_f64(lines as f64 / r as f64)
    });
    let timeout = WRITER_TIMEOUT + paced;
    let (status, hung) = wait_or_kill(&mut child, started, timeout)
        .map_err(|e| format!("cannot wait for bunctl-log pipe: {e}"))?;
    let time = started.elapsed();
    let fed = feeder
        .join()
        .map_err(|_| "the feeding thread panicked".to_string())?;
    let said = reader.join().unwrap_or_default().trim().to_string();
    if hung {
        return Err(format!(
            "bunctl-log pipe did not exit within {timeout:?} and was killed; it said: {said:?}"
        ));
    }
    if !status.success() {
        return Err(format!(
            "bunctl-log pipe failed ({status}) instead of exiting 0; it said: {said:?}"
        ));
    }
    match fed {
        Ok(n) if n == lines => Ok(Writer { time, said }),
        Ok(n) => Err(format!("only {n} of {lines} lines were fed")),
        Err((n, e)) => Err(format!(
            "bunctl-log pipe stopped reading after {n} lines ({e}) and exited 0; it said: {said:?}"
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// The delivery.

/// How the delivery ended.
struct Delivery {
    /// From the writer's exit to the last time `delivered.log` grew.
    lag: Duration,
    /// Why the waiting stopped.
    end: &'static str,
}

/// Lines (`\n`) in `delivered.log`, counted incrementally.
struct LineCounter {
    path: PathBuf,
    offset: u64,
    lines: u64,
    buf: Vec<u8>,
}

impl LineCounter {
    fn update(&mut self) -> io::Result<u64> {
        let mut f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        io::Seek::seek(&mut f, io::SeekFrom::Start(self.offset))?;
        loop {
            let n = f.read(&mut self.buf)?;
            if n == 0 {
                return Ok(self.lines);
            }
            self.offset += n as u64;
            self.lines += self.buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        }
    }
}

/// Polls `delivered.log` until it has `lines` lines and has not grown for [`SETTLE`], or has
/// not grown for [`STALL`], or rsyslogd died.
fn await_delivery(
    rsyslogd: &mut Rsyslogd,
    paths: &Paths,
    lines: u64,
    writer_done: Instant,
) -> Result<Delivery, String> {
    let mut counter = LineCounter {
        path: paths.delivered.clone(),
        offset: 0,
        lines: 0,
        buf: vec![0; 1 << 20],
    };
    let mut last = (0, writer_done);
    loop {
        let n = counter
            .update()
            .map_err(|e| format!("cannot read {}: {e}", paths.delivered.display()))?;
        let now = Instant::now();
        if n != last.0 {
            last = (n, now);
        }
        let quiet = now - last.1;
        let lag = last.1 - writer_done;
        let end = if n >= lines && quiet >= SETTLE {
            Some("all lines there")
        } else if quiet >= STALL {
            Some("delivered.log stopped growing")
        } else if now - writer_done >= DELIVERY_TIMEOUT {
            Some("gave up waiting")
        } else if let Some(status) = rsyslogd.exited() {
            return Err(format!(
                "rsyslogd exited during the delivery ({status}), {n} lines delivered"
            ));
        } else {
            None
        };
        if let Some(end) = end {
            return Ok(Delivery { lag, end });
        }
        thread::sleep(POLL);
    }
}

// ---------------------------------------------------------------------------------------------
// The checks.

/// One log file as `bunctl-log files` lists it, and the lines it holds.
struct FileRange {
    name: String,
    first: u64,
    last: u64,
}

/// What the files hold (the contract's side).
#[derive(Default)]
struct FilesCheck {
    archives: usize,
    /// The files' seq ranges, oldest first; empty if the files are not in order.
    ranges: Vec<FileRange>,
    errors: Errors,
}

/// Reads every file back through `bunctl-log cat`: each line must be line 0, 1, 2... once.
fn check_files(bin: &Path, paths: &Paths, lines: u64) -> FilesCheck {
    let mut check = FilesCheck::default();
    if let Err(e) = read_files(bin, paths, lines, &mut check) {
        check.errors.push(e);
    }
    check
}

fn read_files(bin: &Path, paths: &Paths, lines: u64, check: &mut FilesCheck) -> Result<(), String> {
    let tool = |command: &str| bunctl_log(bin, command, APP, &paths.logs);
    let (files, ends) = log_files(bin, APP, &paths.logs)?;
    check.archives = files.len().saturating_sub(1);
    let name = |i: usize| {
        files
            .get(i)
            .and_then(|f| f.file_name())
            .map_or_else(|| "?".into(), |n| n.to_string_lossy().into_owned())
    };
    let mut cat = tool("cat")
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run bunctl-log cat: {e}"))?;
    let stdout = cat
        .stdout
        .take()
        .ok_or("no stdout pipe from bunctl-log cat")?;
    let mut reader = BufReader::with_capacity(1 << 20, stdout);
    let mut buf = Vec::new();
    let (mut offset, mut file, mut next) = (0u64, 0usize, 0u64);
    let mut ranges: Vec<FileRange> = Vec::new();
    let read = loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                while file + 1 < ends.len() && offset >= ends[file] {
                    file += 1;
                }
                offset += n as u64;
                let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
                match parse_line(text, lines) {
                    Some(seq) if seq == next => {
                        next += 1;
                        let in_last = ranges.len() == file + 1;
                        match ranges.last_mut() {
                            Some(r) if in_last => r.last = seq,
                            _ => ranges.push(FileRange {
                                name: name(file),
                                first: seq,
                                last: seq,
                            }),
                        }
                    }
                    Some(seq) => check.errors.push(format!(
                        "{}: line {seq} where line {next} was expected",
                        name(file)
                    )),
                    None => check.errors.push(format!(
                        "{}: not a line the writer was given: {}",
                        name(file),
                        excerpt(text)
                    )),
                }
            }
            Err(e) => break Err(e),
        }
    };
    let status = cat.wait();
    read.map_err(|e| format!("reading bunctl-log cat's output: {e}"))?;
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => return Err(format!("bunctl-log cat failed: {s}")),
        Err(e) => return Err(format!("cannot wait for bunctl-log cat: {e}")),
    }
    if next != lines {
        check.errors.push(format!(
            "the files hold lines 0..{next} in order, not all {lines}"
        ));
    }
    if check.errors.count == 0 {
        check.ranges = ranges;
    }
    Ok(())
}

/// What rsyslog delivered, line by line, in delivery order.
struct DeliveryCheck {
    lines: u64,
    /// Times each seq was delivered.
    times: Vec<u32>,
    /// The highest seq delivered so far.
    max: Option<u64>,
    /// Lines delivered after a higher seq (whether or not delivered before).
    backward: u64,
    /// Lines that are not exactly a line the writer was given.
    altered: u64,
    /// The first thing that went wrong, in delivery order.
    first: Option<String>,
    /// Every violation but skips ahead (the missing ranges tell those): duplicates, late
    /// lines, altered lines, in delivery order; consecutive lines of one kind are one entry.
    others: Errors,
    /// The run of consecutive duplicates or late lines being read.
    run: Option<Run>,
}

/// Consecutive delivered lines, consecutive seqs, all duplicates or all late.
struct Run {
    again: bool,
    lines: (u64, u64),
    seqs: (u64, u64),
    /// The highest seq delivered before the run.
    after: u64,
}

impl Run {
    fn message(&self) -> String {
        let lines = if self.lines.0 == self.lines.1 {
            format!("line {}", thousands(self.lines.0))
        } else {
            format!(
                "lines {}..{}",
                thousands(self.lines.0),
                thousands(self.lines.1)
            )
        };
        let what = if self.again {
            "delivered again".to_string()
        } else {
            format!("delivered late, after seq {}", self.after)
        };
        format!(
            "delivered.log {lines}: {} {what}",
            span(self.seqs.0, self.seqs.1)
        )
    }
}

impl DeliveryCheck {
    fn new(lines: u64) -> Self {
        Self {
            lines: 0,
            times: vec![0; usize::try_from(lines).unwrap_or(usize::MAX)],
            max: None,
            backward: 0,
            altered: 0,
            first: None,
            others: Errors::default(),
            run: None,
        }
    }

    /// Ends the run of duplicates or late lines, if any.
    fn end_run(&mut self) {
        if let Some(run) = self.run.take() {
            self.others.push(run.message());
        }
    }

    /// A duplicate (`again`) or late line: extends the current run or starts one.
    fn out_of_order(&mut self, at: u64, seq: u64, again: bool) {
        let after = self.max.unwrap_or(0);
        if let Some(run) = &mut self.run {
            if run.again == again && run.lines.1 + 1 == at && run.seqs.1 + 1 == seq {
                run.lines.1 = at;
                run.seqs.1 = seq;
                return;
            }
        }
        self.end_run();
        let run = Run {
            again,
            lines: (at, at),
            seqs: (seq, seq),
            after,
        };
        if self.first.is_none() {
            self.first = Some(run.message());
        }
        self.run = Some(run);
    }

    fn violation(&mut self, at: u64, msg: String, skip: bool) {
        let msg = format!("delivered.log line {}: {msg}", thousands(at));
        if self.first.is_none() {
            self.first = Some(msg.clone());
        }
        if !skip {
            self.others.push(msg);
        }
    }

    fn line(&mut self, line: &[u8], at: u64) {
        self.lines += 1;
        let Some(seq) = parse_line(line, self.times.len() as u64) else {
            self.end_run();
            self.altered += 1;
            let msg = altered(line, self.times.len() as u64);
            self.violation(at, msg, false);
            return;
        };
        let i = usize::try_from(seq).unwrap_or(usize::MAX);
        self.times[i] += 1;
        let expected = self.max.map_or(0, |m| m + 1);
        if self.times[i] > 1 || seq < expected {
            self.out_of_order(at, seq, self.times[i] > 1);
        } else if seq > expected {
            self.end_run();
            let msg = format!(
                "seq {seq} follows seq {}: {} not delivered before it",
                self.max.map_or_else(|| "nothing".into(), |m| m.to_string()),
                span(expected, seq - 1)
            );
            self.violation(at, msg, true);
        } else {
            self.end_run();
        }
        if seq < expected {
            self.backward += 1;
        }
        self.max = Some(self.max.map_or(seq, |m| m.max(seq)));
    }

    /// Seq ranges delivered `pred(times)`.
    fn ranges(&self, pred: impl Fn(u32) -> bool) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for (seq, &t) in self.times.iter().enumerate() {
            if !pred(t) {
                continue;
            }
            let seq = seq as u64;
            match out.last_mut() {
                Some(r) if r.1 + 1 == seq => r.1 = seq,
                _ => out.push((seq, seq)),
            }
        }
        out
    }

    fn missing(&self) -> u64 {
        self.times.iter().filter(|&&t| t == 0).count() as u64
    }

    fn duplicates(&self) -> u64 {
        self.times
            .iter()
            .map(|&t| u64::from(t.saturating_sub(1)))
            .sum()
    }

    fn passed(&self) -> bool {
        self.first.is_none() && self.missing() == 0 && self.lines == self.times.len() as u64
    }
}

/// `seq 5` or `seqs 5..9`.
fn span(first: u64, last: u64) -> String {
    if first == last {
        format!("seq {first}")
    } else {
        format!(
            "seqs {first}..{last} ({} lines)",
            thousands(last - first + 1)
        )
    }
}

/// What is wrong with a delivered line that is not exactly one the writer was given.
fn altered(line: &[u8], lines: u64) -> String {
    let trimmed = line.trim_ascii_start();
    if trimmed.len() < line.len() && parse_line(trimmed, lines).is_some() {
        return format!(
            "{} byte(s) of white space added before the line: {}",
            line.len() - trimmed.len(),
            excerpt(line)
        );
    }
    let seq = line
        .get(APP.len() + 1..APP.len() + 10)
        .and_then(digits)
        .filter(|&s| s < lines);
    match seq {
        Some(seq) => {
            let mut expected = Vec::new();
            data_line(seq, &mut expected);
            let at = line
                .iter()
                .zip(&expected)
                .position(|(a, b)| a != b)
                .unwrap_or(line.len().min(expected.len()));
            format!(
                "seq {seq} altered from byte {at}: delivered {} ({} bytes), written {} ({} bytes)",
                excerpt(&line[at..]),
                line.len(),
                excerpt(&expected[at..]),
                expected.len()
            )
        }
        None => format!("not a line the writer was given: {}", excerpt(line)),
    }
}

fn check_delivery(paths: &Paths, lines: u64) -> Result<DeliveryCheck, String> {
    let f = File::open(&paths.delivered)
        .map_err(|e| format!("cannot open {}: {e}", paths.delivered.display()))?;
    let mut reader = BufReader::with_capacity(1 << 20, f);
    let mut check = DeliveryCheck::new(lines);
    let mut buf = Vec::new();
    let mut at = 0;
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => {
                check.end_run();
                return Ok(check);
            }
            Ok(_) => {
                at += 1;
                let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
                check.line(text, at);
            }
            Err(e) => return Err(format!("reading {}: {e}", paths.delivered.display())),
        }
    }
}

/// Where seqs `first..=last` were in the files: whole files, or which lines of which file.
fn locate(first: u64, last: u64, files: &[FileRange]) -> String {
    let hit: Vec<&FileRange> = files
        .iter()
        .filter(|f| f.first <= last && first <= f.last)
        .collect();
    if hit.is_empty() {
        return "in no file".into();
    }
    let mut parts: Vec<String> = hit
        .iter()
        .take(MAX_FILES_PER_RANGE)
        .map(|f| {
            let n = f.last - f.first + 1;
            if first <= f.first && f.last <= last {
                format!("all of {} ({} lines)", f.name, thousands(n))
            } else {
                let from = first.max(f.first) - f.first + 1;
                let to = last.min(f.last) - f.first + 1;
                format!("lines {from}..{to} of {}'s {}", f.name, thousands(n))
            }
        })
        .collect();
    if hit.len() > MAX_FILES_PER_RANGE {
        parts.push(format!(
            "and {} more files",
            hit.len() - MAX_FILES_PER_RANGE
        ));
    }
    parts.join(", ")
}

// ---------------------------------------------------------------------------------------------
// The run and its report.

struct Report {
    version: String,
    /// rsyslogd's own messages (its stderr).
    said: String,
    writer: Writer,
    delivery: Delivery,
    stopped: Stopped,
    files: FilesCheck,
    delivered: DeliveryCheck,
}

/// Writes the config, starts rsyslogd, writes the logs, waits for the delivery, stops rsyslogd,
/// checks. rsyslogd is stopped on every path out (see [`Rsyslogd`]'s `Drop`).
fn trial(rsyslogd: &Path, bin: &Path, paths: &Paths, opts: &Opts) -> Result<Report, String> {
    let conf = rsyslog_conf(paths)?;
    fs::write(&paths.conf, conf)
        .map_err(|e| format!("cannot write {}: {e}", paths.conf.display()))?;
    let validate = Command::new(rsyslogd)
        .arg("-N1")
        .arg("-f")
        .arg(&paths.conf)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", rsyslogd.display()))?;
    if !validate.status.success() {
        return Err(format!(
            "rsyslogd -N1 rejects {}: {}{}",
            paths.conf.display(),
            String::from_utf8_lossy(&validate.stdout).trim(),
            String::from_utf8_lossy(&validate.stderr).trim()
        ));
    }
    let version = rsyslogd_version(rsyslogd);
    let mut daemon = Rsyslogd::start(rsyslogd, paths)?;
    daemon.wait_ready(&paths.logs, &paths.console)?;
    eprintln!(
        "xtask shipper: {version} (pid {}) follows {}; writing {} lines {}",
        daemon.id(),
        paths.live().display(),
        thousands(opts.lines),
        opts.rate.map_or_else(
            || "as fast as the pipe takes them".into(),
            |r| format!("at {} lines/s", thousands(r))
        )
    );
    let writer = write_logs(bin, paths, opts)?;
    let writer_done = Instant::now();
    eprintln!("{}", writer.said);
    let delivery = await_delivery(&mut daemon, paths, opts.lines, writer_done)?;
    let stopped = daemon.stop()?;
    drop(daemon);
    let files = check_files(bin, paths, opts.lines);
    let delivered = check_delivery(paths, opts.lines)?;
    let said = fs::read_to_string(&paths.console).unwrap_or_default();
    Ok(Report {
        version,
        said,
        writer,
        delivery,
        stopped,
        files,
        delivered,
    })
}

impl Report {
    fn passed(&self) -> bool {
        self.files.errors.count == 0 && self.delivered.passed()
    }

    fn print(&self, opts: &Opts, total: Duration) {
        let secs = |d: Duration| d.as_secs_f64();
        let d = &self.delivered;
        println!(
            "xtask shipper: {} lines through bunctl-log pipe --max-size {}, shipped by {} (imfile, inotify)",
            thousands(opts.lines),
            opts.max_size,
            self.version
        );
        println!(
            "  writer      {:.2} s ({:.0} lines/s{}), exit 0; {} rotations (archives)",
            secs(self.writer.time),
            opts.lines as f64 / secs(self.writer.time).max(1e-9),
            opts.rate.map_or_else(
                || ", as fast as the pipe took them".into(),
                |r| format!(", fed at {} lines/s", thousands(r))
            ),
            thousands(self.files.archives as u64)
        );
        if self.files.errors.count == 0 {
            println!(
                "  files       every line once, in order, in {} files (the contract held)",
                self.files.archives + 1
            );
        } else {
            println!(
                "  files       {} violation(s) in the files themselves: the writer broke its contract",
                self.files.errors.count
            );
        }
        println!(
            "  delivered   {} lines: {} missing, {} duplicated, {} after a higher seq, {} altered",
            thousands(d.lines),
            thousands(d.missing()),
            thousands(d.duplicates()),
            thousands(d.backward),
            thousands(d.altered)
        );
        println!(
            "  lag         {:.2} s from the writer's exit to the last delivered line ({})",
            secs(self.delivery.lag),
            self.delivery.end
        );
        println!(
            "  rsyslogd    {}{}",
            if self.stopped.early {
                "had exited by itself before the end"
            } else if self.stopped.killed {
                "ignored SIGTERM and was killed"
            } else {
                "stopped on SIGTERM"
            },
            format_args!(" ({})", self.stopped.status)
        );
        for e in &self.files.errors.shown {
            eprintln!("xtask shipper: files: {e}");
        }
        if let Some((never, part, twice)) = self.by_file() {
            println!(
                "  by file     {never} never read, {part} partly missed, {twice} with lines delivered more than once (of {} files)",
                self.files.ranges.len()
            );
        }
        println!("  time        {:.1} s (build excluded)", secs(total));
        for e in &self.files.errors.shown {
            eprintln!("xtask shipper: files: {e}");
        }
        if let Some(first) = &d.first {
            eprintln!("xtask shipper: first violation: {first}");
        }
        let ranges = |what: &str, list: Vec<(u64, u64)>| {
            for (i, &(a, b)) in list.iter().enumerate().take(MAX_REPORTED) {
                if i == 0 {
                    eprintln!(
                        "xtask shipper: {what}, in {} range(s):",
                        thousands(list.len() as u64)
                    );
                }
                eprintln!("  {}: {}", span(a, b), locate(a, b, &self.files.ranges));
            }
            if list.len() > MAX_REPORTED {
                eprintln!("  ... and {} more ranges", list.len() - MAX_REPORTED);
            }
        };
        ranges("missing", d.ranges(|t| t == 0));
        ranges("delivered more than once", d.ranges(|t| t > 1));
        let said: Vec<&str> = self.said.lines().filter(|l| !l.trim().is_empty()).collect();
        if !self.passed() && !said.is_empty() {
            eprintln!("xtask shipper: rsyslogd said ({} lines):", said.len());
            for l in said.iter().take(MAX_REPORTED) {
                eprintln!("  {l}");
            }
            if said.len() > MAX_REPORTED {
                eprintln!("  ... and {} more lines", said.len() - MAX_REPORTED);
            }
        }
        if d.others.count > 0 {
            eprintln!("xtask shipper: duplicates, late and altered lines, in delivery order:");
            for e in &d.others.shown {
                eprintln!("  {e}");
            }
            if d.others.count > d.others.shown.len() {
                eprintln!(
                    "  ... and {} more",
                    thousands((d.others.count - d.others.shown.len()) as u64)
                );
            }
        }
    }

    /// Files none of whose lines were delivered, files some of whose lines were missed, files
    /// some of whose lines were delivered more than once; `None` if the files could not be read.
    fn by_file(&self) -> Option<(usize, usize, usize)> {
        if self.files.ranges.is_empty() {
            return None;
        }
        let (mut never, mut part, mut twice) = (0, 0, 0);
        for f in &self.files.ranges {
            let times = self
                .delivered
                .times
                .get(usize::try_from(f.first).ok()?..=usize::try_from(f.last).ok()?)?;
            if times.iter().all(|&t| t == 0) {
                never += 1;
            } else if times.contains(&0) {
                part += 1;
            }
            if times.iter().any(|&t| t > 1) {
                twice += 1;
            }
        }
        Some((never, part, twice))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: u64) -> Vec<u8> {
        let mut v = Vec::new();
        data_line(seq, &mut v);
        v
    }

    fn deliver(lines: u64, seqs: &[u64]) -> DeliveryCheck {
        let mut c = DeliveryCheck::new(lines);
        for (i, &s) in seqs.iter().enumerate() {
            c.line(&line(s), i as u64 + 1);
        }
        c.end_run();
        c
    }

    #[test]
    fn lines_round_trip() {
        assert_eq!(parse_line(&line(123_456), 300_000), Some(123_456));
        assert_eq!(parse_line(&line(123_456), 100), None, "beyond --lines");
        assert!(line(7).starts_with(b"ship 000000007 "));
        let mut l = line(7);
        l.push(b'x');
        assert_eq!(parse_line(&l, 10), None);
    }

    #[test]
    fn in_order_once_passes() {
        let c = deliver(5, &[0, 1, 2, 3, 4]);
        assert!(c.passed());
        assert_eq!((c.missing(), c.duplicates(), c.backward), (0, 0, 0));
    }

    #[test]
    fn gaps_duplicates_and_reordering_are_found() {
        let c = deliver(6, &[0, 3, 4, 3, 1, 5]);
        assert!(!c.passed());
        assert_eq!(c.missing(), 1); // seq 2
        assert_eq!(c.duplicates(), 1); // seq 3
        assert_eq!(c.backward, 2); // the second 3, and 1
        assert_eq!(c.ranges(|t| t == 0), [(2, 2)]);
        let first = c.first.as_deref().unwrap();
        assert!(
            first.contains("line 2: seq 3 follows seq 0: seqs 1..2"),
            "{first}"
        );
        assert!(c.others.shown[0].contains("line 4: seq 3 delivered again"));
        assert!(c.others.shown[1].contains("line 5: seq 1 delivered late, after seq 4"));
        assert_eq!(c.others.count, 2, "skips are told by the missing ranges");
        // Consecutive duplicates are one entry.
        let c = deliver(4, &[0, 1, 2, 3, 1, 2, 3]);
        assert_eq!(c.duplicates(), 3);
        assert_eq!(c.others.count, 1);
        assert_eq!(
            c.first.as_deref(),
            Some("delivered.log line 5: seq 1 delivered again")
        );
        assert_eq!(
            c.others.shown[0],
            "delivered.log lines 5..7: seqs 1..3 (3 lines) delivered again"
        );
        assert!(!deliver(3, &[0, 1]).passed(), "a missing tail");
    }

    #[test]
    fn altered_bytes_are_described() {
        let mut spaced = b" ".to_vec();
        spaced.extend(line(4));
        assert!(altered(&spaced, 10).contains("white space added"));
        let mut changed = line(4);
        let n = changed.len();
        changed[n - 1] = b'#';
        assert!(altered(&changed, 10).contains(&format!("seq 4 altered from byte {}", n - 1)));
        assert!(altered(b"hello", 10).contains("not a line"));
        let mut c = DeliveryCheck::new(2);
        c.line(&changed[..], 1);
        assert_eq!(c.altered, 1);
    }

    #[test]
    fn ranges_are_located_in_files() {
        let files = [
            FileRange {
                name: "a".into(),
                first: 0,
                last: 9,
            },
            FileRange {
                name: "b".into(),
                first: 10,
                last: 19,
            },
            FileRange {
                name: "c".into(),
                first: 20,
                last: 29,
            },
        ];
        assert_eq!(locate(10, 19, &files), "all of b (10 lines)");
        assert_eq!(
            locate(5, 19, &files),
            "lines 6..10 of a's 10, all of b (10 lines)"
        );
        assert_eq!(locate(22, 23, &files), "lines 3..4 of c's 10");
        assert_eq!(locate(40, 41, &files), "in no file");
    }

    #[test]
    fn the_config_refuses_unquotable_paths() {
        let ok = Paths::new(Path::new("/tmp/x"));
        let conf = rsyslog_conf(&ok).unwrap();
        assert!(conf.contains(r#"file="/tmp/x/logs/ship.log""#));
        assert!(!conf.contains("load=\"imuxsock\"") && !conf.contains("load=\"imklog\""));
        let bad = Paths::new(Path::new("/tmp/a\"b"));
        assert!(rsyslog_conf(&bad).is_err());
    }
}
