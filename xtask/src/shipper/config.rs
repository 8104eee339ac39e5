//! The work directory of one trial and rsyslog's configuration: imfile on the live file, the
//! message text alone to `delivered.log`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::APP;

/// Everything of one run, under `<target>/shipper/<time>-<pid>/`.
pub(super) struct Paths {
    /// `bunctl-log pipe --dir`: `ship.log` and its archives.
    pub(super) logs: PathBuf,
    /// rsyslog's output: `delivered.log`.
    pub(super) out: PathBuf,
    pub(super) delivered: PathBuf,
    /// rsyslog's work directory: imfile's state files.
    pub(super) state: PathBuf,
    pub(super) conf: PathBuf,
    pub(super) pid_file: PathBuf,
    /// rsyslogd's stdout and stderr: its own messages (imfile's errors among them).
    pub(super) console: PathBuf,
}

impl Paths {
    pub(super) fn new(work: &Path) -> Self {
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

    pub(super) fn create(&self) -> io::Result<()> {
        for dir in [&self.logs, &self.out, &self.state] {
            fs::create_dir_all(dir)?;
        }
        Ok(())
    }

    pub(super) fn live(&self) -> PathBuf {
        self.logs.join(format!("{APP}.log"))
    }
}

/// The configuration: imfile on the live file, the message text alone to `delivered.log`.
/// Paths are quoted in rsyslog's syntax: refuse the few characters that would need escaping.
pub(super) fn rsyslog_conf(paths: &Paths) -> Result<String, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
