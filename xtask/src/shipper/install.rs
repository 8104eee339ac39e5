//! rsyslogd: found in `PATH` or the sbin directories, or installed from the OS packages; its
//! version.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run;

/// `name` in `PATH` or in the sbin directories (often not in a user's `PATH`).
pub(super) fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

pub(super) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.trim_ascii() == b"0")
}

/// The path of `rsyslogd`, installing the `rsyslog` package with apt-get if it is missing.
pub(super) fn ensure_rsyslogd() -> Result<PathBuf, i32> {
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
pub(super) fn rsyslogd_version(rsyslogd: &Path) -> String {
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
