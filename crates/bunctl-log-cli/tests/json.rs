//! `cat` and `tail` of `--format json` logs print the decoded text, as `docker logs` does;
//! `--raw` the stored objects, `--timestamps` the stored times in front.

use std::process::{Command, Output, Stdio};

fn bunctl_log(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_bunctl-log"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    out
}

fn stdout(args: &[&str]) -> String {
    String::from_utf8(bunctl_log(args).stdout).unwrap()
}

const T1: &str = "2026-11-27T01:23:45.000001Z";
const T2: &str = "2026-11-27T01:23:45.000002Z";
const T3: &str = "2026-11-27T01:23:45.000003Z";

#[test]
fn json_lines_are_decoded_unless_raw_and_timestamps_show_their_times() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("a").join("b");
    std::fs::create_dir_all(&logs).unwrap();
    let d = logs.to_str().unwrap();
    // The writer's lines, a marker in the file's own format, and a line that is no JSON
    // object (printed as stored).
    let stored = format!(
        "{{\"log\":\"say \\\"hi\\\" \\\\ \\u00e9\\n\",\"stream\":\"stdout\",\"time\":\"{T1}\"}}\n\
         {{\"log\":\"[bunctl-log] 3 lines dropped here: the writer was full\\n\",\"stream\":\"bunctl-log\",\"time\":\"{T2}\"}}\n\
         not json\n\
         {{\"log\":\"last\\n\",\"stream\":\"stdout\",\"time\":\"{T3}\"}}\n"
    );
    std::fs::write(logs.join("j.log"), &stored).unwrap();
    let decoded = "say \"hi\" \\ é\n\
                   [bunctl-log] 3 lines dropped here: the writer was full\n\
                   not json\n\
                   last\n";
    assert_eq!(stdout(&["cat", "j", "--dir", d]), decoded);
    assert_eq!(stdout(&["tail", "j", "--dir", d]), decoded);
    assert_eq!(stdout(&["cat", "j", "--dir", d, "--raw"]), stored);
    assert_eq!(
        stdout(&["tail", "j", "--dir", d, "--raw", "-n", "4"]),
        stored
    );
    let stamped = format!(
        "{T1} say \"hi\" \\ é\n\
         {T2} [bunctl-log] 3 lines dropped here: the writer was full\n\
         not json\n\
         {T3} last\n"
    );
    assert_eq!(stdout(&["cat", "j", "--dir", d, "--timestamps"]), stamped);
    assert_eq!(stdout(&["tail", "j", "--dir", d, "-t", "-n", "2"]), {
        let last: Vec<&str> = stamped.lines().skip(2).collect();
        format!("{}\n", last.join("\n"))
    });
    assert_eq!(
        stdout(&["tail", "j", "--dir", d, "--since", T2, "-t"]),
        // A line without a time keeps its place after the line before it.
        format!(
            "{T2} [bunctl-log] 3 lines dropped here: the writer was full\nnot json\n{T3} last\n"
        )
    );
    // The stream's marker line is shown whichever stream is asked for.
    assert_eq!(
        stdout(&["tail", "j", "--dir", d, "--stream", "stdout"]),
        decoded
    );
}

#[test]
fn both_json_streams_are_decoded_and_labelled_by_their_stream() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("a").join("b");
    let d = logs.to_str().unwrap();
    bunctl_log(&[
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
        "echo out; sleep 0.05; echo err >&2",
    ]);
    assert_eq!(
        stdout(&["cat", "s", "--dir", d]),
        "stdout: out\nstderr: err\n"
    );
    assert_eq!(
        stdout(&["tail", "s", "--dir", d, "--stream", "stderr"]),
        "err\n"
    );
    // Merged into one file: the stderr lines say so.
    bunctl_log(&[
        "run",
        "--app",
        "m",
        "--dir",
        d,
        "--merge",
        "--format",
        "json",
        "--",
        "sh",
        "-c",
        "echo out; sleep 0.05; echo err >&2",
    ]);
    assert_eq!(stdout(&["tail", "m", "--dir", d]), "out\nstderr: err\n");
    let raw = stdout(&["cat", "m", "--dir", d, "--raw"]);
    assert!(raw.lines().all(|l| l.starts_with("{\"log\":")), "{raw}");
}
