//! `files`, `cat` and `tail`: from their flags to the logs found and printed by `read`.

use crate::args::{self, ReadTarget, StreamChoice, TailArgs};
use crate::config::{check_dir, log_config};
use crate::{read, CliResult};

/// The files `files`, `cat` and `tail` read, and how their lines are printed.
fn logs(
    t: &ReadTarget,
    print: crate::print::Print,
) -> Result<read::Logs, Box<dyn std::error::Error>> {
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
fn buffered_stdout() -> std::io::BufWriter<std::io::StdoutLock<'static>> {
    std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock())
}

/// `files`: the app's log files on stdout, oldest first.
pub(crate) fn files(t: &ReadTarget) -> CliResult {
    read::files(
        &logs(t, crate::print::Print::default())?,
        &mut std::io::stdout().lock(),
    )?;
    Ok(())
}

/// `cat`: the app's lines on stdout, oldest first.
pub(crate) fn cat(a: &args::CatArgs) -> CliResult {
    read::cat(&logs(&a.target, a.print.into())?, &mut buffered_stdout())?;
    Ok(())
}

/// `tail`: the last lines (`-n N`), those from line N on (`-n +N`), a time window
/// (`--since`, `--until`), or the last lines and what comes next (`-f`).
pub(crate) fn tail(a: &TailArgs) -> CliResult {
    let logs = logs(&a.target, a.print.into())?;
    let lines = a
        .lines
        .unwrap_or(args::LineCount::Last(args::DEFAULT_LINES));
    if let (Some(since), true) = (a.since, a.follow) {
        let n = match a.lines {
            Some(args::LineCount::Last(n)) => Some(n),
            // -n +N is refused before reading (`usage_conflict` in main).
            _ => None,
        };
        return read::follow_since(&logs, since, n);
    }
    if a.since.is_some() || a.until.is_some() {
        let window = bunctl_log_read::Window {
            since: a.since,
            until: a.until,
        };
        let n = match lines {
            _ if a.lines.is_none() => None,
            args::LineCount::Last(n) => Some(n),
            // Refused before reading (`usage_conflict` in main).
            args::LineCount::From(_) => None,
        };
        return read::window(&logs, &window, n, &mut buffered_stdout());
    }
    match lines {
        args::LineCount::From(first) => {
            let mut out = crate::print::SkipLines::new(buffered_stdout(), first - 1);
            read::cat(&logs, &mut out)?;
        }
        args::LineCount::Last(n) if a.follow => read::follow(&logs, n)?,
        args::LineCount::Last(n) => read::tail(&logs, n, &mut buffered_stdout())?,
    }
    Ok(())
}
