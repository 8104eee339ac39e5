//! The command line, parsed by clap (derive): `--app=x` and `--app x`, `--help` on every
//! subcommand, `--version`, and usage errors that exit with status 2 naming the bad value.
//!
//! Over 500 lines with its tests; the code (one clap struct per subcommand, with its help) is
//! about 400 of them.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use bunctl_logging::AppId;
use clap::builder::{OsStringValueParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};

/// The synopsis shown as the usage of `bunctl-log` itself (`--help`, an unknown subcommand).
const SYNOPSIS: &str = "\
bunctl-log pipe  --app NAME [--dir DIR] [--max-size SIZE] [--keep N] [--no-compress]
                        [--format raw|timestamped|json] [--metrics-addr IP:PORT]
       bunctl-log run   --app NAME [--dir DIR] [--max-size SIZE] [--keep N] [--no-compress]
                        [--format raw|timestamped|json] [--metrics-addr IP:PORT]
                        [--merge] -- COMMAND [ARGS...]
       bunctl-log files [--app] NAME [--dir DIR] [--stream stdout|stderr|all]
       bunctl-log cat   [--app] NAME [--dir DIR] [--stream stdout|stderr|all] [--raw | -t]
       bunctl-log tail  [--app] NAME [--dir DIR] [--stream S] [--raw | -t] [-n [+]LINES] [-f]
       bunctl-log tail  [--app] NAME [--dir DIR] [--stream S] [--raw | -t] [-n LINES] --since TIME
                        [--until TIME]
       bunctl-log completions bash|zsh|fish";

/// Capture output into rotated, compressed per-app logs, and read them back.
#[derive(Debug, Parser)]
#[command(
    name = "bunctl-log",
    version,
    subcommand_required = true,
    // No command is a usage error saying so, not the whole help.
    arg_required_else_help = false,
    override_usage = SYNOPSIS,
    after_help = "Run `bunctl-log COMMAND --help` for the options of each command."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read stdin until EOF into DIR/NAME.log
    #[command(long_about = "\
Read stdin until EOF into DIR/NAME.log, rotating at SIZE and keeping N rotated files (gzipped \
unless --no-compress). Nothing read is lost: when the disk is slower than the input, reading \
stops and the producer waits on its full pipe. Prints a summary on stderr. SIGTERM, SIGINT or \
SIGHUP stop it cleanly (all it read is written first). Exits 0 if every line read was written, \
1 if not (or it cannot start: too few file descriptors, a bad DIR), 2 for bad arguments. What \
fails after every line is written (closing the files, compressing a rotated one) is a warning \
on stderr naming what was left undone, exit 0.")]
    Pipe(PipeArgs),
    /// Run COMMAND, capturing its stdout and stderr
    #[command(long_about = "\
Run COMMAND, capturing its stdout into DIR/NAME.log and its stderr into DIR/NAME.err.log (both \
into NAME.log with --merge, each line tagged [stdout]/[stderr], or in --format json with its \
stream in its \"stream\" field). Forwards SIGTERM, SIGINT and SIGHUP to \
COMMAND's process group (after COMMAND has exited, while processes it left still hold its \
output, such a signal also ends the capture: what was read is written) and exits with COMMAND's exit code (128+N if signal N killed it), 1 if \
it cannot start COMMAND or write its logs, 2 for bad arguments. What fails after every line \
is written (closing the files) is a warning on stderr, with COMMAND's exit code.")]
    Run(RunArgs),
    /// List NAME's log files, oldest first, the live file last
    #[command(long_about = "\
List NAME's log files, oldest first, the live file last: those of its stdout (NAME.log, or \
both streams merged), then those of its stderr (NAME.err.log), as --stream says. Exits 1 if \
NAME has no log file in DIR.")]
    Files(ReadTarget),
    /// Print NAME's logs, oldest first, decompressing rotated files
    #[command(long_about = "\
Print NAME's logs, oldest first, decompressing rotated files: its stdout's (NAME.log, or both \
streams merged) and its stderr's (NAME.err.log), as --stream says. When both streams have \
files and are printed, their lines are interleaved by time if they carry times (--format \
timestamped or json; a line without one keeps its place after the line before it), else all \
of stdout's come first, then stderr's; and each line is prefixed `stdout: ` or `stderr: ` by \
the file it comes from, unless it says its stream itself (a [stdout]/[stderr] tag, a JSON \
stream field). Lines of --format json logs are printed decoded, as their text (as `docker \
logs` prints them; with -t, after their stored time), unless --raw; other lines as stored. \
Exits 1 if NAME has no log file in DIR.")]
    Cat(CatArgs),
    /// Print the last lines across rotated files; with -f, follow the live file
    #[command(long_about = "\
Print the last LINES lines across rotated files (decompressed), or with -n +LINES every line \
from line LINES on (as GNU tail; not with -f, --since or --until); with -f, keep printing new \
lines, following the live file across rotations (like tail -F), or waiting for it if there is \
none. With --since and/or --until, print instead the lines whose time is in that range, \
oldest first, from logs written with --format timestamped or json (with -n, the last LINES of \
them, as `docker logs --since T --tail N` does; with -f, then follow, as `docker logs --since T -f` and `journalctl --since T -f` do, with no line printed twice or skipped in between; --until ends the range, so it cannot follow); rotated files that cannot hold such lines \
(by the times in their names, where the clock did not step back) are not opened. \
--stream says which of NAME's streams: stdout (NAME.log, or both streams merged), stderr \
(NAME.err.log) or all (the default). When both have files and are printed, each line is \
prefixed `stdout: ` or `stderr: ` by the file it comes from, unless it says its stream itself \
(a [stdout]/[stderr] tag, a JSON stream field). If the lines carry times (--format \
timestamped or json), the last LINES are those of the app as a whole, interleaved by time, \
and so are the lines of -n +LINES; raw lines cannot be interleaved: the last LINES of stdout, \
then the last LINES of stderr. --since/--until print stdout's lines in the range, then \
stderr's. With -f each stream is followed on its own, its lines printed as they come. Lines \
of --format json logs are printed decoded, as their text (as `docker logs` prints them; with \
-t, after their stored time), unless --raw; other lines as stored. Exits 1 if NAME has no log \
file in DIR.")]
    Tail(TailArgs),
    /// Print a completion script for a shell
    #[command(long_about = "\
Print a completion script for SHELL on stdout, e.g. \
`bunctl-log completions bash > /etc/bash_completion.d/bunctl-log`.")]
    Completions(CompletionsArgs),
}

/// Which app, where.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// The app: 1 to 128 of A-Z a-z 0-9 . _ -, not starting with . or -
    #[arg(long, value_name = "NAME", value_parser = OsStringValueParser::new().try_map(parse_app))]
    pub app: AppId,
    /// Directory of the log files
    #[arg(long, value_name = "DIR", default_value = "logs")]
    pub dir: PathBuf,
}

/// Which app's logs, where, which streams (`files`, `cat`, `tail`).
#[derive(Debug, Clone, Args)]
pub struct ReadTarget {
    /// The app, as with --app
    #[arg(
        value_name = "NAME",
        value_parser = OsStringValueParser::new().try_map(parse_app),
        required_unless_present = "app"
    )]
    pub app_arg: Option<AppId>,
    /// The app: 1 to 128 of A-Z a-z 0-9 . _ -, not starting with . or -
    #[arg(long, value_name = "NAME", value_parser = OsStringValueParser::new().try_map(parse_app))]
    pub app: Option<AppId>,
    /// Directory of the log files
    #[arg(long, value_name = "DIR", default_value = "logs")]
    pub dir: PathBuf,
    /// Which of the app's streams: stdout (NAME.log, or both merged), stderr (NAME.err.log)
    /// or all
    #[arg(long, value_enum, value_name = "STREAM", default_value_t = StreamChoice::All)]
    pub stream: StreamChoice,
}

impl ReadTarget {
    /// The app and directory.
    ///
    /// # Errors
    /// If the app is given twice, differently (`cat web --app db`).
    pub fn target(&self) -> Result<Target, String> {
        let app = match (&self.app_arg, &self.app) {
            (Some(a), Some(b)) if a != b => {
                return Err(format!(
                    "the app is given twice, as {a} and as --app {b}: give it once"
                ))
            }
            (Some(a), _) | (None, Some(a)) => a.clone(),
            (None, None) => return Err("no app: give NAME or --app NAME".into()),
        };
        Ok(Target {
            app,
            dir: self.dir.clone(),
        })
    }
}

/// How `cat` and `tail` print lines.
#[derive(Debug, Clone, Copy, Args)]
pub struct PrintArgs {
    /// Print the lines as they are stored: JSON lines (--format json) as the JSON objects,
    /// not decoded to their text
    #[arg(long)]
    pub raw: bool,
    /// Put each decoded JSON line's stored time in front of it, as `docker logs -t` does;
    /// timestamped lines have their time in front already and raw lines have none: they are
    /// printed as stored
    #[arg(short = 't', long, conflicts_with = "raw")]
    pub timestamps: bool,
}

impl From<PrintArgs> for crate::print::Print {
    fn from(p: PrintArgs) -> Self {
        Self {
            raw: p.raw,
            timestamps: p.timestamps,
        }
    }
}

/// `cat`'s arguments.
#[derive(Debug, Clone, Args)]
pub struct CatArgs {
    #[command(flatten)]
    pub target: ReadTarget,
    #[command(flatten)]
    pub print: PrintArgs,
}

/// `--stream`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StreamChoice {
    /// The app's stdout (or both streams, merged into one file)
    Stdout,
    /// The app's stderr, kept in files of its own
    Stderr,
    /// Both
    All,
}

/// `tail -n`: the last LINES, or from line LINES on (`+LINES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineCount {
    /// The last this many lines.
    Last(usize),
    /// Every line from this one on, counted from 1 (`+0` is `+1`, as in GNU tail).
    From(usize),
}

/// Parses `-n`: `10` or `+10`.
pub fn parse_line_count(s: &str) -> Result<LineCount, String> {
    let (digits, from) = match s.strip_prefix('+') {
        Some(d) => (d, true),
        None => (s, false),
    };
    let n: usize = digits.parse().map_err(|_| {
        format!(
            "invalid line count {s:?}: use a number N (the last N lines) or +N (from line N on)"
        )
    })?;
    Ok(if from {
        LineCount::From(n.max(1))
    } else {
        LineCount::Last(n)
    })
}

/// How the files are written (`pipe` and `run`).
#[derive(Debug, Clone, Args)]
pub struct WriteArgs {
    /// Rotate before the live file passes SIZE bytes; K, M, G suffixes (powers of 1024)
    #[arg(long, value_name = "SIZE", default_value = "10M", value_parser = parse_size)]
    pub max_size: u64,
    /// Rotated files to keep
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub keep: u32,
    /// Keep rotated files uncompressed
    #[arg(long)]
    pub no_compress: bool,
    /// How each line is written: as it came (raw), after an RFC 3339 UTC time with
    /// microseconds (timestamped), or as a JSON object like Docker's json-file driver (json)
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Raw)]
    pub format: Format,
    /// Serve the writers' metrics in Prometheus text format at http://ADDR/metrics; ADDR is IP:PORT, localhost:PORT or :PORT (every IPv4 interface)
    #[arg(long, value_name = "ADDR", value_parser = crate::metrics::parse_addr)]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The bytes as they came
    Raw,
    /// An RFC 3339 UTC time with microseconds in front of each line
    Timestamped,
    /// One JSON object per line, as Docker's json-file driver writes them
    Json,
}

impl From<Format> for bunctl_logging::LineFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::Raw => Self::Raw,
            Format::Timestamped => Self::Timestamped,
            Format::Json => Self::Json,
        }
    }
}

/// `pipe`'s arguments.
#[derive(Debug, Clone, Args)]
pub struct PipeArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(flatten)]
    pub write: WriteArgs,
}

/// `run`'s arguments.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(flatten)]
    pub write: WriteArgs,
    /// Both streams into `NAME.log`, each line tagged with its stream.
    #[arg(
        long,
        help = "Both streams into NAME.log, each line tagged [stdout] or [stderr]"
    )]
    pub merge: bool,
    /// The command and its arguments, after --
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

/// How many lines `tail` prints without `-n`.
pub const DEFAULT_LINES: usize = 10;

/// `tail`'s arguments.
#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    #[command(flatten)]
    pub target: ReadTarget,
    #[command(flatten)]
    pub print: PrintArgs,
    /// How many lines to print first [default: 10], or +LINES: from line LINES on; with
    /// --since/--until, the last LINES of the lines in the range (all of them by default)
    #[arg(short = 'n', long = "lines", value_name = "LINES", value_parser = parse_line_count)]
    pub lines: Option<LineCount>,
    /// Keep printing new lines, across rotations
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Print the lines from TIME on: RFC 3339; a local date and time (2026-12-02 10:00:00,
    /// 2026-12-02 10:00, 2026-12-02; in the zone after it if any: Z, +01:00); today, yesterday,
    /// now; a Unix time (1640995200, @1640995200); or how long before now (30s, 10m, 2h, 3d,
    /// 1w, 1h30m); for --format timestamped and json logs
    #[arg(
        long,
        value_name = "TIME",
        value_parser = crate::time::parse_time
    )]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Print the lines up to TIME (included), in the same forms as --since; not with -f
    #[arg(
        long,
        value_name = "TIME",
        value_parser = crate::time::parse_time,
        conflicts_with = "follow"
    )]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

/// `completions`' argument.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

/// The shells `completions` writes scripts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    /// GNU bash
    Bash,
    /// Z shell
    Zsh,
    /// fish
    Fish,
}

impl From<Shell> for clap_complete::Shell {
    fn from(s: Shell) -> Self {
        match s {
            Shell::Bash => Self::Bash,
            Shell::Zsh => Self::Zsh,
            Shell::Fish => Self::Fish,
        }
    }
}

/// `--app`: an [`AppId`] whose files the layout keeps apart from every other app's, so that
/// a name that is not one is a usage error naming it.
fn parse_app(value: OsString) -> Result<AppId, String> {
    let text = value
        .into_string()
        .map_err(|v| format!("{:?} is not valid UTF-8", OsStr::new(&v)))?;
    bunctl_logging::check_app_name(&text).map_err(|e| e.to_string())?;
    AppId::new(text).map_err(|e| e.to_string())
}

/// Parses `10M`, `512K`, `1G`, `4096` (also `10MB`, `10MiB`): powers of 1024.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || format!("invalid size {s:?}: use a number with an optional K, M or G suffix");
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (digits, shift) = match t.chars().last() {
        Some('K' | 'k') => (&t[..t.len() - 1], 10),
        Some('M' | 'm') => (&t[..t.len() - 1], 20),
        Some('G' | 'g') => (&t[..t.len() - 1], 30),
        _ => (t, 0),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let size = n
        .checked_shl(shift)
        .filter(|v| v >> shift == n)
        .ok_or_else(bad)?;
    if size == 0 {
        return Err(format!("invalid size {s:?}: must be at least 1 byte"));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use clap::CommandFactory;

    fn parse(s: &str) -> Result<Command, clap::Error> {
        let argv = std::iter::once("bunctl-log").chain(s.split_whitespace());
        Cli::try_parse_from(argv).map(|c| c.command)
    }

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("1K"), Ok(1024));
        assert_eq!(parse_size("10M"), Ok(10 << 20));
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("3KB"), Ok(3072));
        for bad in ["", "M", "1.5M", "-1", "10X", "0", "99999999999999999G"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pipe_with_defaults_and_flags() {
        let Ok(Command::Pipe(o)) = parse("pipe --app demo") else {
            panic!("not pipe")
        };
        assert_eq!(o.target.app.as_ref(), "demo");
        assert_eq!(o.target.dir, PathBuf::from("logs"));
        assert_eq!(o.write.max_size, 10 << 20);
        assert_eq!((o.write.keep, o.write.no_compress), (10, false));
        assert_eq!(o.write.format, Format::Raw);
        let Ok(Command::Pipe(o)) =
            parse("pipe --app=x --dir /tmp/l --max-size=1M --keep 3 --no-compress")
        else {
            panic!("not pipe")
        };
        assert_eq!(o.target.app.as_ref(), "x");
        assert_eq!(o.target.dir, PathBuf::from("/tmp/l"));
        assert_eq!(o.write.max_size, 1 << 20);
        assert_eq!((o.write.keep, o.write.no_compress), (3, true));
        for (flag, format) in [
            ("--format=json", Format::Json),
            ("--format timestamped", Format::Timestamped),
        ] {
            let Ok(Command::Run(o)) = parse(&format!("run --app x {flag} -- true")) else {
                panic!("not run")
            };
            assert_eq!(o.write.format, format);
        }
    }

    #[test]
    fn usage_errors() {
        for bad in [
            "",
            "frobnicate --app x",
            "pipe",
            "pipe --app",
            "pipe --app x --keep many",
            "pipe --app x --max-size 10X",
            "pipe --app x --verbose",
            "pipe --app ../x",
            "pipe --app a.err",
            "run --app x",
            "pipe --app x --merge",
            "cat --app x -f",
            "tail --app x -n ten",
            "completions tcsh",
            "pipe --app x --format xml",
            "tail --app x --format json",
        ] {
            let e = parse(bad).expect_err(bad);
            assert_eq!(e.exit_code(), 2, "{bad}");
        }
        let e = parse("pipe --app a.err").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ValueValidation);
        assert!(e.to_string().contains("invalid app id \"a.err\""), "{e}");
        assert!(parse("pipe --app web.v2").is_ok());
        assert_eq!(parse("--help").unwrap_err().kind(), ErrorKind::DisplayHelp);
        assert_eq!(
            parse("--version").unwrap_err().kind(),
            ErrorKind::DisplayVersion
        );
        let Ok(Command::Tail(o)) = parse("tail --app x -n 3 -f") else {
            panic!("not tail")
        };
        assert_eq!((o.lines, o.follow), (Some(LineCount::Last(3)), true));
        assert_eq!((o.since, o.until), (None, None));
        let Ok(Command::Tail(o)) = parse("tail --app x --since 2h --until=2026-11-27T01:00:00Z")
        else {
            panic!("not tail")
        };
        assert!(o.since.is_some() && o.until.is_some());
        let Ok(Command::Tail(o)) = parse("tail --app x -n 5 --since 2h") else {
            panic!("not tail")
        };
        assert_eq!(o.lines, Some(LineCount::Last(5)));
        assert!(o.since.is_some());
        assert!(parse("tail --app x --until 2h -n 3").is_ok());
        let Ok(Command::Tail(o)) = parse("tail --app x --since 1h -f -n 2") else {
            panic!("not tail")
        };
        assert!(o.since.is_some() && o.follow);
        for bad in [
            "tail --app x --until 2h -f -n 3",
            "tail --app x --since tomorrow",
            "cat --app x --since 2h",
        ] {
            assert_eq!(parse(bad).expect_err(bad).exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn run_takes_the_command_after_the_dashes() {
        let Ok(Command::Run(o)) = parse("run --app x --merge -- sh -c --app") else {
            panic!("not run")
        };
        assert!(o.merge);
        assert_eq!(o.command, ["sh", "-c", "--app"]);
        // Without the dashes, the command is not taken for arguments of run.
        assert!(parse("run --app x sh").is_err());
    }
}
