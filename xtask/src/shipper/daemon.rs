//! The private rsyslogd: started with its own config and pid file, ready once imfile watches the
//! log directory, stopped with SIGTERM (SIGKILL if it ignores it) on every way out.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::config::Paths;

/// Longest wait for rsyslogd to watch the log directory after it started.
pub(super) const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for rsyslogd to exit after SIGTERM before it gets SIGKILL.
pub(super) const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The rsyslogd this run started. Dropping it stops it (SIGTERM, then SIGKILL), so that no
/// rsyslogd of ours outlives the xtask whatever path it leaves by.
pub(super) struct Rsyslogd {
    pub(super) child: Option<Child>,
    pub(super) pid_file: PathBuf,
}

/// How rsyslogd ended.
pub(super) struct Stopped {
    pub(super) status: ExitStatus,
    /// It did not exit within [`STOP_TIMEOUT`] of SIGTERM and got SIGKILL.
    pub(super) killed: bool,
    /// It had already exited before it was asked to.
    pub(super) early: bool,
}

impl Rsyslogd {
    pub(super) fn start(rsyslogd: &Path, paths: &Paths) -> Result<Self, String> {
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

    pub(super) fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// `Some(status)` if it has exited.
    pub(super) fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Waits until its pid file names it and imfile watches `dir`.
    pub(super) fn wait_ready(&mut self, dir: &Path, console: &Path) -> Result<(), String> {
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

    pub(super) fn pid_from_file(&self) -> Option<u32> {
        fs::read_to_string(&self.pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// SIGTERM to the pid in its pid file (which must be the process this run started: no other
    /// is ever signalled), a wait, SIGKILL if it is still there after [`STOP_TIMEOUT`].
    pub(super) fn stop(&mut self) -> Result<Stopped, String> {
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
pub(super) fn watches(pid: u32, dir: &Path) -> Option<bool> {
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
pub(super) fn inode(path: &Path) -> Option<u64> {
    Some(std::os::unix::fs::MetadataExt::ino(
        &fs::metadata(path).ok()?,
    ))
}

#[cfg(not(unix))]
pub(super) fn inode(_: &Path) -> Option<u64> {
    None
}
