//! The `bunctl-log` binary end to end: what a shell user runs.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn bunctl_log(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bunctl-log"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        // The child may exit early (usage error): a broken pipe is fine then.
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

#[test]
fn pipe_rotates_compresses_and_cat_reads_everything_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let input: String = (1..=50_000).map(|i| format!("{i}\n")).collect();
    let mut with_partial = input.clone().into_bytes();
    with_partial.extend_from_slice(b"no newline at the end");
    let out = bunctl_log(
        &[
            "pipe",
            "--app",
            "demo",
            "--dir",
            d,
            "--max-size",
            "16K",
            "--keep",
            "1000",
        ],
        &with_partial,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("50001 lines"), "{summary}");
    assert!(summary.contains("0 dropped"), "{summary}");

    let files = bunctl_log(&["files", "--app", "demo", "--dir", d], b"");
    let listed = String::from_utf8(files.stdout).unwrap();
    let listed: Vec<&str> = listed.lines().collect();
    assert!(listed.len() > 10, "{listed:?}");
    assert!(listed[..listed.len() - 1]
        .iter()
        .all(|f| f.ends_with(".log.gz")));
    assert!(listed.last().unwrap().ends_with("demo.log"));

    let cat = bunctl_log(&["cat", "--app", "demo", "--dir", d], b"");
    assert!(cat.status.success());
    let mut expected = input.into_bytes();
    expected.extend_from_slice(b"no newline at the end\n");
    assert_eq!(cat.stdout, expected);
}

#[test]
fn usage_errors_exit_with_2_and_say_what_is_wrong() {
    for (args, says) in [
        (&["pipe"][..], "--app"),
        (
            &["pipe", "--app", "x", "--max-size", "10X"][..],
            "invalid size \"10X\"",
        ),
        (&["pipe", "--app=x", "--keep=many"][..], "'many'"),
        (&["frobnicate"][..], "unrecognized subcommand 'frobnicate'"),
        (&[][..], "requires a subcommand"),
        (&["run", "--app", "x"][..], "<COMMAND>"),
        (&["cat", "--app", "x", "-f"][..], "'-f'"),
    ] {
        let out = bunctl_log(args, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        // With the usage, or where to find it.
        assert!(
            err.contains(says) && (err.contains("Usage:") || err.contains("--help")),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn help_and_version() {
    for args in [
        &["--help"][..],
        &["pipe", "--help"],
        &["run", "--help"],
        &["files", "--help"],
        &["cat", "--help"],
        &["tail", "--help"],
        &["completions", "--help"],
    ] {
        let out = bunctl_log(args, b"");
        assert!(out.status.success(), "{args:?}");
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(help.contains("Usage:"), "{args:?}: {help}");
    }
    let pipe = bunctl_log(&["pipe", "--help"], b"");
    let help = String::from_utf8(pipe.stdout).unwrap();
    for flag in ["--app", "--dir", "--max-size", "--keep", "--no-compress"] {
        assert!(help.contains(flag), "{flag}: {help}");
    }
    let out = bunctl_log(&["--version"], b"");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("bunctl-log {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let out = bunctl_log(&["completions", shell], b"");
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        // fish spells a long option `-l max-size`.
        for word in ["bunctl-log", "pipe", "tail", "max-size", "merge", "follow"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
        assert!(!script.contains("__exec"), "{shell}");
    }
    let out = bunctl_log(&["completions", "tcsh"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'tcsh'"));
}

#[test]
fn options_take_their_value_after_an_equals_sign_too() {
    let dir = tempfile::tempdir().unwrap();
    let d = format!("--dir={}", dir.path().display());
    let out = bunctl_log(&["pipe", "--app=eq", &d, "--max-size=1K"], b"one\ntwo\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tail = bunctl_log(&["tail", "--app=eq", &d, "--lines=1"], b"");
    assert_eq!(tail.stdout, b"two\n");
}

#[cfg(unix)]
#[test]
fn an_argument_that_is_not_utf8_is_a_usage_error_not_a_panic() {
    use std::os::unix::ffi::OsStrExt;
    let out = Command::new(env!("CARGO_BIN_EXE_bunctl-log"))
        .args(["pipe", "--app"])
        .arg(std::ffi::OsStr::from_bytes(b"caf\xe9"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not valid UTF-8") && err.contains("--app"),
        "{err}"
    );
}

#[test]
fn the_usage_text_does_not_show_the_internal_exec_helper() {
    let out = bunctl_log(&["--help"], b"");
    assert!(out.status.success());
    let usage = String::from_utf8(out.stdout).unwrap();
    assert!(usage.contains("bunctl-log run") && !usage.contains("__exec"));
}

#[test]
fn an_invalid_app_id_is_a_usage_error_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["../escape", "a.err", "-x", ""] {
        let app = format!("--app={bad}");
        for command in ["pipe", "tail", "files"] {
            let out = bunctl_log(
                &[command, &app, "--dir", dir.path().to_str().unwrap()],
                b"x\n",
            );
            assert_eq!(out.status.code(), Some(2), "{command} {bad}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(&format!("invalid app id {bad:?}")),
                "{command} {bad}: {err}"
            );
        }
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

#[test]
fn run_captures_both_streams_and_passes_the_exit_code_through() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = bunctl_log(
        &[
            "run",
            "--app",
            "job",
            "--dir",
            d,
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 7",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(std::fs::read(dir.path().join("job.log")).unwrap(), b"out\n");
    assert_eq!(
        std::fs::read(dir.path().join("job.err.log")).unwrap(),
        b"err\n"
    );

    let merged = bunctl_log(
        &[
            "run",
            "--app",
            "m",
            "--dir",
            d,
            "--merge",
            "--",
            "sh",
            "-c",
            "echo a; echo b >&2",
        ],
        b"",
    );
    assert!(merged.status.success());
    let text = std::fs::read_to_string(dir.path().join("m.log")).unwrap();
    assert!(
        text.contains("[stdout] a\n") && text.contains("[stderr] b\n"),
        "{text}"
    );
}

#[test]
fn tail_prints_the_last_lines_across_rotated_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let input: String = (1..=5_000).map(|i| format!("line {i}\n")).collect();
    let out = bunctl_log(
        &[
            "pipe",
            "--app",
            "t",
            "--dir",
            d,
            "--max-size",
            "4K",
            "--keep",
            "1000",
        ],
        input.as_bytes(),
    );
    assert!(out.status.success());
    let tail = |n: &str| {
        let out = bunctl_log(&["tail", "--app", "t", "--dir", d, "-n", n], b"");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(tail("3"), "line 4998\nline 4999\nline 5000\n");
    // 2,000 lines span many 4 KiB files, most of them gzipped.
    let expected: String = (3_001..=5_000).map(|i| format!("line {i}\n")).collect();
    assert_eq!(tail("2000"), expected);
    assert_eq!(tail("999999"), input);
    assert_eq!(tail("0"), "");
}

#[tokio::test]
async fn tail_follow_keeps_printing_across_rotations() {
    use bunctl_logging::{AppId, LogConfig, LogManager};
    use std::io::BufRead;

    let dir = tempfile::tempdir().unwrap();
    let manager = LogManager::new(LogConfig {
        base_dir: dir.path().to_path_buf(),
        max_file_size: 16 << 10,
        max_files: 1000,
        ..LogConfig::default()
    });
    let writer = manager.get_writer(&AppId::new("f").unwrap()).await.unwrap();
    writer.write_line_async("before").await.unwrap();
    writer.flush().await.unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_bunctl-log"))
        .args(["tail", "--app", "f", "--dir", dir.path().to_str().unwrap()])
        .args(["-n", "1", "-f"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    assert_eq!(
        rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap(),
        "before"
    );
    // 10 batches of ~10 KiB, 300 ms apart: a rotation at most once per batch, each seen as it
    // happens (tests/follow.rs has rotations faster than tail can look).
    let mut n = 0;
    for _ in 0..10 {
        for _ in 0..200 {
            n += 1;
            writer
                .write_line_async(format!(
                    "follow {n:05} ...................................."
                ))
                .await
                .unwrap();
        }
        writer.flush().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    manager.close_all().await.unwrap();
    for i in 1..=n {
        let got = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(
            got,
            format!("follow {i:05} ....................................")
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(writer.get_metrics().await.rotation_count >= 5);
}

#[test]
fn run_says_on_stderr_when_the_command_cannot_be_found() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for missing in ["bunctl-log-no-such-program", "./no/such/program"] {
        let out = bunctl_log(&["run", "--app", "x", "--dir", d, "--", missing], b"");
        assert_eq!(out.status.code(), Some(127), "{missing}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cannot run") && err.contains(missing), "{err}");
        assert!(err.contains("not found"), "{err}");
    }
}

/// Rotated, gzipped logs of `app` in `dir` whose live file the operator then removed; returns
/// what is left, as `cat` prints it.
fn archives_without_live_file(dir: &std::path::Path, app: &str) -> String {
    let d = dir.to_str().unwrap();
    let input: String = (1..=5_000).map(|i| format!("line {i}\n")).collect();
    let out = bunctl_log(
        &["pipe", "--app", app, "--dir", d, "--max-size", "4K"],
        input.as_bytes(),
    );
    assert!(out.status.success());
    std::fs::remove_file(dir.join(format!("{app}.log"))).unwrap();
    let files = bunctl_log(&["files", "--app", app, "--dir", d], b"");
    let listed = String::from_utf8(files.stdout).unwrap();
    assert!(
        listed.lines().count() > 1 && listed.lines().all(|f| f.ends_with(".log.gz")),
        "{listed}"
    );
    let cat = bunctl_log(&["cat", "--app", app, "--dir", d], b"");
    let text = String::from_utf8(cat.stdout).unwrap();
    assert!(text.ends_with('\n') && text.len() > 1000, "{text}");
    text
}

#[test]
fn tail_without_the_live_file_prints_the_archives_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let left = archives_without_live_file(dir.path(), "g");
    let tail = |n: &str| {
        let out = bunctl_log(&["tail", "--app", "g", "--dir", d, "-n", n], b"");
        assert!(out.status.success());
        // Text, not gzip bytes.
        String::from_utf8(out.stdout).unwrap()
    };
    let lines: Vec<&str> = left.split_inclusive('\n').collect();
    assert_eq!(tail("3"), lines[lines.len() - 3..].concat());
    assert_eq!(tail("999999"), left);
}

#[test]
fn tail_follow_without_the_live_file_waits_for_it() {
    use bunctl_logging::{AppId, LogConfig, LogManager};
    use std::io::BufRead;

    let dir = tempfile::tempdir().unwrap();
    let left = archives_without_live_file(dir.path(), "h");
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_bunctl-log"))
            .args(["tail", "--app", "h", "--dir", dir.path().to_str().unwrap()])
            .args(["-n", "2", "-f"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = || {
        rx.recv_timeout(std::time::Duration::from_secs(20))
            .unwrap()
            .unwrap()
    };
    let last: Vec<&str> = left.lines().collect();
    assert_eq!(next(), last[last.len() - 2]);
    assert_eq!(next(), last[last.len() - 1]);

    // The writer comes back and creates the live file: tail -f follows it from its start.
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let manager = LogManager::new(LogConfig {
            base_dir: dir.path().to_path_buf(),
            max_files: 1000,
            ..LogConfig::default()
        });
        let writer = manager.get_writer(&AppId::new("h").unwrap()).await.unwrap();
        writer.write_line_async("back 1").await.unwrap();
        writer.write_line_async("back 2").await.unwrap();
        manager.close_all().await.unwrap();
    });
    assert_eq!(next(), "back 1");
    assert_eq!(next(), "back 2");
}

/// `tail -f` runs until killed: kill it even when the test fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `cat` lists the files, then reads them: meanwhile the writer may have compressed a listed
/// plain archive and removed it. `cat` then reads its `.gz`; before, it failed with "No such
/// file or directory".
#[test]
fn cat_while_pipe_rotates_and_compresses_succeeds_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let mut pipe = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_bunctl-log"))
            .args(["pipe", "--app", "c", "--dir", d, "--max-size", "4K"])
            .args(["--keep", "100000"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut input = pipe.0.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        for chunk in 0..200 {
            let text: String = (chunk * 200..(chunk + 1) * 200)
                .map(|i| format!("{i:08} ........................................\n"))
                .collect();
            input.write_all(text.as_bytes()).unwrap();
        }
    });
    // Before its first file, the app has no logs: `cat` says so and exits 1.
    let started = std::time::Instant::now();
    while !dir.path().join("c.log").exists() && started.elapsed().as_secs() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let mut reads = 0;
    while pipe.0.try_wait().unwrap().is_none() || reads < 5 {
        let out = bunctl_log(&["cat", "--app", "c", "--dir", d], b"");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{}: {err}", out.status);
        // In order and never twice (rotations between the listing and the reading of the
        // live file can leave gaps); the last line may be one being written.
        let text = String::from_utf8(out.stdout).unwrap();
        let mut last = None;
        for line in text.lines().filter(|l| l.len() == 49) {
            let n: u64 = line[..8].parse().unwrap();
            assert!(last.is_none_or(|l| n > l), "{n} after {last:?}");
            last = Some(n);
        }
        reads += 1;
        if reads > 2_000 {
            break;
        }
    }
    feeder.join().unwrap();
    assert!(pipe.0.wait().unwrap().success());
    let all = bunctl_log(&["cat", "--app", "c", "--dir", d], b"");
    assert_eq!(all.stdout.iter().filter(|&&b| b == b'\n').count(), 40_000);
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

#[test]
fn pipe_writes_each_format() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let input = "plain\nwith \"quotes\" and \\ and a\ttab\n\nlast, no newline";
    let expected: Vec<&str> = input.lines().collect();
    let run = |format: &str| {
        let app = format!("f-{format}");
        let out = bunctl_log(
            &["pipe", "--app", &app, "--dir", d, "--format", format],
            input.as_bytes(),
        );
        assert!(out.status.success(), "{format}");
        std::fs::read_to_string(dir.path().join(format!("{app}.log"))).unwrap()
    };
    assert_eq!(run("raw"), format!("{input}\n"));
    let stamped = run("timestamped");
    let bodies: Vec<&str> = stamped
        .lines()
        .map(|l| {
            let (time, body) = l.split_at(27);
            assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{l}");
            body.strip_prefix(' ').unwrap()
        })
        .collect();
    assert_eq!(bodies, expected);
    let objects: Vec<serde_json::Value> = run("json").lines().map(json).collect();
    assert_eq!(objects.len(), expected.len());
    for (v, line) in objects.iter().zip(&expected) {
        assert_eq!(v["log"], format!("{line}\n"));
        assert_eq!(v["stream"], "stdout");
        assert_eq!(v["time"].as_str().unwrap().len(), 27);
    }
}

#[test]
fn run_merge_json_puts_the_stream_in_its_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = bunctl_log(
        &[
            "run", "--app", "j", "--dir", d, "--merge", "--format", "json",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "no command: a usage error");
    let out = bunctl_log(
        &[
            "run",
            "--app",
            "j",
            "--dir",
            d,
            "--merge",
            "--format",
            "json",
            "--",
            "sh",
            "-c",
            "echo a; echo b >&2; echo c",
        ],
        b"",
    );
    assert!(out.status.success());
    let text = std::fs::read_to_string(dir.path().join("j.log")).unwrap();
    assert!(
        !text.contains("[stdout]") && !text.contains("[stderr]"),
        "{text}"
    );
    // Two pumps share the file: order within each stream only.
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    for v in text.lines().map(json) {
        let log = v["log"].as_str().unwrap().to_owned();
        match v["stream"].as_str() {
            Some("stdout") => stdout.push(log),
            Some("stderr") => stderr.push(log),
            other => panic!("stream {other:?}"),
        }
    }
    assert_eq!(
        (stdout, stderr),
        (
            vec!["a\n".to_owned(), "c\n".to_owned()],
            vec!["b\n".to_owned()]
        )
    );
    assert!(!dir.path().join("j.err.log").exists());

    // Separate files: the .err.log's lines say stderr.
    let out = bunctl_log(
        &[
            "run",
            "--app",
            "s",
            "--dir",
            d,
            "--format",
            "json",
            "--",
            "sh",
            "-c",
            "echo a; echo b >&2",
        ],
        b"",
    );
    assert!(out.status.success());
    for (file, log, stream) in [("s.log", "a\n", "stdout"), ("s.err.log", "b\n", "stderr")] {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        let v = json(text.trim_end());
        assert_eq!(
            (v["log"].as_str(), v["stream"].as_str()),
            (Some(log), Some(stream))
        );
    }
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn reading_an_app_without_logs_says_so_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("a").join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let d = logs.to_str().unwrap();
    // Another app's logs do not count.
    let out = bunctl_log(&["pipe", "--app", "other", "--dir", d], b"x\n");
    assert!(out.status.success());
    let missing_dir = logs.join("nonexistent");
    for dir in [d, missing_dir.to_str().unwrap()] {
        for cmd in ["cat", "tail", "files"] {
            let out = bunctl_log(&[cmd, "--app", "nosuch", "--dir", dir], b"");
            let (stdout, stderr) = text(&out);
            assert_eq!(out.status.code(), Some(1), "{cmd} {dir}: {stderr}");
            assert!(stdout.is_empty(), "{stdout}");
            assert!(
                stderr.contains(&format!("no logs for app 'nosuch' in {dir}")),
                "{cmd} {dir}: {stderr}"
            );
        }
    }
}

#[test]
fn the_app_may_be_given_as_an_argument() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("x").join("logs");
    let d = d.to_str().unwrap();
    assert!(
        bunctl_log(&["pipe", "--app", "demo", "--dir", d], b"1\n2\n3\n")
            .status
            .success()
    );
    let run = |args: &[&str]| {
        let out = bunctl_log(args, b"");
        assert!(out.status.success(), "{args:?}: {}", text(&out).1);
        text(&out).0
    };
    assert_eq!(run(&["tail", "demo", "--dir", d, "-n", "2"]), "2\n3\n");
    assert_eq!(run(&["cat", "demo", "--dir", d]), "1\n2\n3\n");
    assert_eq!(
        run(&["cat", "--dir", d, "demo", "--app", "demo"]),
        "1\n2\n3\n"
    );
    assert!(run(&["files", "demo", "--dir", d]).ends_with("demo.log\n"));
    let out = bunctl_log(&["cat", "demo", "--dir", d, "--app", "other"], b"");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out).1;
    assert!(
        err.contains("given twice") && err.contains("other"),
        "{err}"
    );
    let out = bunctl_log(&["cat", "--dir", d], b"");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn tail_plus_n_prints_from_line_n_on_across_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("x").join("logs");
    let d = d.to_str().unwrap();
    let input: String = (1..=3_000).map(|i| format!("{i}\n")).collect();
    let out = bunctl_log(
        &[
            "pipe",
            "--app",
            "p",
            "--dir",
            d,
            "--max-size",
            "2K",
            "--keep",
            "100",
        ],
        input.as_bytes(),
    );
    assert!(out.status.success());
    let tail = |n: &str| {
        let out = bunctl_log(&["tail", "p", "--dir", d, "-n", n], b"");
        assert!(out.status.success(), "{n}: {}", text(&out).1);
        text(&out).0
    };
    let from = |k: usize| -> String { (k..=3_000).map(|i| format!("{i}\n")).collect() };
    assert_eq!(tail("+5"), from(5));
    assert_eq!(tail("+2999"), from(2999));
    assert_eq!(tail("+1"), input);
    assert_eq!(tail("+0"), input);
    assert_eq!(tail("+4000"), "");
    assert_eq!(tail("3"), from(2998));
    for bad in [
        &["-n", "+5", "-f"][..],
        &["-n", "+5", "--since", "1h"],
        &["-n", "+x"],
    ] {
        let out = bunctl_log(&[&["tail", "p", "--dir", d][..], bad].concat(), b"");
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(text(&out).1.contains("+"), "{bad:?}: {}", text(&out).1);
    }
}

#[test]
fn stream_picks_stdout_stderr_or_both_labelled() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("x").join("logs");
    let d = d.to_str().unwrap();
    let script = "echo out1; echo err1 >&2; echo out2; echo err2 >&2";
    let out = bunctl_log(
        &["run", "--app", "s", "--dir", d, "--", "sh", "-c", script],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out).1);
    let read = |args: &[&str]| {
        let out = bunctl_log(&[args, &["--dir", d]].concat(), b"");
        assert!(out.status.success(), "{args:?}: {}", text(&out).1);
        text(&out).0
    };
    let both = "stdout: out1\nstdout: out2\nstderr: err1\nstderr: err2\n";
    assert_eq!(read(&["cat", "s"]), both);
    assert_eq!(read(&["cat", "s", "--stream", "all"]), both);
    assert_eq!(read(&["cat", "s", "--stream", "stdout"]), "out1\nout2\n");
    assert_eq!(read(&["cat", "s", "--stream=stderr"]), "err1\nerr2\n");
    assert_eq!(read(&["tail", "s"]), both);
    // Raw lines have no times: the last line of each stream.
    assert_eq!(
        read(&["tail", "s", "-n", "1"]),
        "stdout: out2\nstderr: err2\n"
    );
    assert_eq!(
        read(&["tail", "s", "-n", "1", "--stream", "stderr"]),
        "err2\n"
    );
    assert_eq!(read(&["tail", "s", "-n", "+2"]), &both[13..]);
    let files = read(&["files", "s"]);
    let files: Vec<&str> = files.lines().collect();
    assert!(
        files.len() == 2 && files[0].ends_with("/s.log") && files[1].ends_with("/s.err.log"),
        "{files:?}"
    );
    let files = read(&["files", "s", "--stream", "stderr"]);
    assert!(files.trim_end().ends_with("/s.err.log") && files.lines().count() == 1);
    // Merged: one file whose lines say their stream; nothing is added.
    let out = bunctl_log(
        &[
            "run", "--app", "m", "--dir", d, "--merge", "--", "sh", "-c", script,
        ],
        b"",
    );
    assert!(out.status.success());
    let merged = read(&["cat", "m"]);
    assert_eq!(merged.lines().count(), 4, "{merged}");
    assert!(merged.lines().all(|l| l.starts_with("[std")), "{merged}");
    // A bad value is a usage error.
    let out = bunctl_log(&["cat", "s", "--dir", d, "--stream", "both"], b"");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn summaries_say_1_line_not_1_lines() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("x").join("logs");
    let d = d.to_str().unwrap();
    let out = bunctl_log(&["pipe", "--app", "one", "--dir", d], b"only\n");
    let err = text(&out).1;
    assert!(
        err.contains(" 1 line, ") && err.contains("0 rotations"),
        "{err}"
    );
    let out = bunctl_log(&["run", "--app", "r", "--dir", d, "--", "echo", "hi"], b"");
    let err = text(&out).1;
    assert!(err.contains("1 stdout line and 0 stderr lines"), "{err}");
}

#[test]
fn run_exits_126_for_a_file_that_is_not_executable_and_127_for_none() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("x").join("logs");
    std::fs::create_dir_all(&d).unwrap();
    let plain = dir.path().join("x").join("plain.txt");
    std::fs::write(&plain, "not a program\n").unwrap();
    let d = d.to_str().unwrap();
    for (program, code, says) in [
        (plain.to_str().unwrap(), 126, "not executable"),
        ("/etc/passwd", 126, "not executable"),
        ("/no/such/cmd", 127, "not found"),
    ] {
        let out = bunctl_log(&["run", "--app", "r", "--dir", d, "--", program], b"");
        let err = text(&out).1;
        assert_eq!(out.status.code(), Some(code), "{program}: {err}");
        assert!(
            err.contains(says) && err.contains(program),
            "{program}: {err}"
        );
    }
}

#[test]
fn a_dir_that_is_a_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let afile = dir.path().join("x").join("afile");
    std::fs::create_dir_all(afile.parent().unwrap()).unwrap();
    std::fs::write(&afile, "").unwrap();
    let a = afile.to_str().unwrap();
    for args in [
        &["cat", "p", "--dir", a][..],
        &["files", "p", "--dir", a][..],
        &["pipe", "--app", "p", "--dir", a][..],
        &["run", "--app", "p", "--dir", a, "--", "true"],
    ] {
        let out = bunctl_log(args, b"x\n");
        let err = text(&out).1;
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(&format!("{a} is not a directory")),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn both_timestamped_streams_are_interleaved_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("x").join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let t = |s: u32| format!("2022-01-01T00:00:{s:02}.000000Z");
    let (t1, t2, t3, t4) = (t(1), t(2), t(3), t(4));
    std::fs::write(logs.join("s.log"), format!("{t1} o1\n{t3} o3\n")).unwrap();
    std::fs::write(logs.join("s.err.log"), format!("{t2} e2\n{t4} e4\n")).unwrap();
    let d = logs.to_str().unwrap();
    let out = bunctl_log(&["tail", "s", "--dir", d, "-n", "2"], b"");
    assert!(out.status.success(), "{}", text(&out).1);
    // The last 2 of the app are o3 and e4, not the last 2 of each stream.
    assert_eq!(text(&out).0, format!("stdout: {t3} o3\nstderr: {t4} e4\n"));
    let out = bunctl_log(&["tail", "s", "--dir", d, "-n", "3"], b"");
    assert_eq!(
        text(&out).0,
        format!("stderr: {t2} e2\nstdout: {t3} o3\nstderr: {t4} e4\n")
    );
    // cat interleaves them by time.
    let out = bunctl_log(&["cat", "s", "--dir", d], b"");
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(
        text(&out).0,
        format!("stdout: {t1} o1\nstderr: {t2} e2\nstdout: {t3} o3\nstderr: {t4} e4\n")
    );
}
