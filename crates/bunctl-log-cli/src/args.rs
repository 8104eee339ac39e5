//! Command-line parsing, by hand: a few flags do not need a parser crate.

use std::path::PathBuf;

/// The usage text printed on `--help` and after a usage error.
pub const USAGE: &str = "\
usage:
  bunctl-log pipe  --app NAME [--dir DIR] [--max-size SIZE] [--keep N] [--no-compress]
  bunctl-log run   --app NAME [--dir DIR] [--max-size SIZE] [--keep N] [--no-compress]
                   [--merge] -- COMMAND [ARGS...]
  bunctl-log files --app NAME [--dir DIR]
  bunctl-log cat   --app NAME [--dir DIR]
  bunctl-log tail  --app NAME [--dir DIR] [-n LINES] [-f]

  pipe   read stdin until EOF into DIR/NAME.log, rotating at SIZE and keeping N rotated
         files (gzipped unless --no-compress); nothing read is lost; prints a summary on
         stderr; SIGTERM, SIGINT or SIGHUP stop it cleanly (all it read is written first);
         exits 0 if every line read was written, 1 if not
  run    run COMMAND, capturing its stdout into DIR/NAME.log and its stderr into
         DIR/NAME.err.log (both into NAME.log, tagged [stdout]/[stderr], with --merge);
         forwards SIGTERM, SIGINT and SIGHUP to COMMAND's process group and exits with
         COMMAND's exit code (128+N if signal N killed it)
  files  list NAME's log files, oldest first, the live file last
  cat    print NAME's logs, oldest first, decompressing rotated files
  tail   print the last LINES lines (default 10) across rotated files (decompressed);
         with -f, keep printing new lines, following the live file across rotations (like
         tail -F), or waiting for it if there is none

  --dir DIR        directory of the log files (default ./logs)
  --max-size SIZE  rotate before the live file passes SIZE bytes; K, M, G suffixes
                   (powers of 1024) (default 10M)
  --keep N         rotated files to keep (default 10)
  --no-compress    keep rotated files uncompressed";

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Capture stdin.
    Pipe(Options),
    /// Run a command and capture its output.
    Run(Options),
    /// List the files.
    Files(Options),
    /// Print the logs.
    Cat(Options),
    /// Print the last lines, and follow.
    Tail(Options),
    /// Print the usage.
    Help,
}

/// The flags shared by the commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub app: String,
    pub dir: PathBuf,
    pub max_size: u64,
    pub keep: usize,
    pub compress: bool,
    /// `run`: stdout and stderr into one file, tagged.
    pub merge: bool,
    /// `run`: the command and its arguments.
    pub command: Vec<String>,
    /// `tail`: how many lines to print first.
    pub lines: usize,
    /// `tail`: keep following the live file.
    pub follow: bool,
}

/// Parses `args` (without the program name).
pub fn parse(args: &[String]) -> Result<Command, String> {
    let Some((command, rest)) = args.split_first() else {
        return Err("no command given".into());
    };
    let make: fn(Options) -> Command = match command.as_str() {
        "pipe" => Command::Pipe,
        "run" => Command::Run,
        "files" => Command::Files,
        "cat" => Command::Cat,
        "tail" => Command::Tail,
        "-h" | "--help" | "help" => return Ok(Command::Help),
        other => return Err(format!("unknown command {other:?}")),
    };
    let mut app = None;
    let mut opts = Options {
        app: String::new(),
        dir: PathBuf::from("logs"),
        max_size: 10 << 20,
        keep: 10,
        compress: true,
        merge: false,
        command: Vec::new(),
        lines: 10,
        follow: false,
    };
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--app" => app = Some(value()?),
            "--dir" => opts.dir = PathBuf::from(value()?),
            "--max-size" => opts.max_size = parse_size(&value()?)?,
            "--keep" => {
                let v = value()?;
                opts.keep = v
                    .parse()
                    .map_err(|_| format!("--keep takes a whole number, not {v:?}"))?;
            }
            "--no-compress" => opts.compress = false,
            "--merge" => opts.merge = true,
            "-n" | "--lines" => {
                let v = value()?;
                opts.lines = v
                    .parse()
                    .map_err(|_| format!("-n takes a whole number, not {v:?}"))?;
            }
            "-f" | "--follow" => opts.follow = true,
            "--" => {
                opts.command = it.by_ref().cloned().collect();
                break;
            }
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    opts.app = app.ok_or("--app NAME is required")?;
    let command = make(opts);
    match &command {
        Command::Run(o) if o.command.is_empty() => Err("run needs a command after --".into()),
        Command::Pipe(o) | Command::Files(o) | Command::Cat(o) | Command::Tail(o)
            if o.merge || !o.command.is_empty() =>
        {
            Err("--merge and -- COMMAND go with run only".into())
        }
        Command::Pipe(o) | Command::Run(o) | Command::Files(o) | Command::Cat(o)
            if o.follow || o.lines != 10 =>
        {
            Err("-n and -f go with tail only".into())
        }
        _ => Ok(command),
    }
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

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
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
        let Command::Pipe(o) = parse(&args("pipe --app demo")).unwrap() else {
            panic!("not pipe")
        };
        assert_eq!(o.app, "demo");
        assert_eq!(o.dir, PathBuf::from("logs"));
        assert_eq!(o.max_size, 10 << 20);
        assert_eq!((o.keep, o.compress), (10, true));
        let c = parse(&args(
            "pipe --app x --dir /tmp/l --max-size 1M --keep 3 --no-compress",
        ))
        .unwrap();
        assert_eq!(
            c,
            Command::Pipe(Options {
                app: "x".into(),
                dir: "/tmp/l".into(),
                max_size: 1 << 20,
                keep: 3,
                compress: false,
                merge: false,
                command: vec![],
                lines: 10,
                follow: false,
            })
        );
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
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad}");
        }
        assert_eq!(parse(&args("--help")), Ok(Command::Help));
        assert!(parse(&args("run --app x")).is_err());
        assert!(parse(&args("pipe --app x --merge")).is_err());
        assert!(parse(&args("cat --app x -f")).is_err());
        assert!(parse(&args("tail --app x -n ten")).is_err());
        let Command::Tail(o) = parse(&args("tail --app x -n 3 -f")).unwrap() else {
            panic!("not tail")
        };
        assert_eq!((o.lines, o.follow), (3, true));
    }

    #[test]
    fn run_takes_the_command_after_the_dashes() {
        let Command::Run(o) = parse(&args("run --app x --merge -- sh -c --app")).unwrap() else {
            panic!("not run")
        };
        assert!(o.merge);
        assert_eq!(o.command, ["sh", "-c", "--app"]);
    }
}
