//! Shared test helpers: a scripted [`Sink`], and readers for a rotating sink's files. Faults are
//! injected with `bunctl_log_fs::FaultFs`.
#![allow(dead_code)] // each test crate uses a different part of this module

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[allow(unused_imports)] // not every test crate uses all of them
pub use bunctl_log_fs::{FaultFs, Faults, Op};
use bunctl_log_sink::Sink;

/// The content of one log file, gunzipped if its name ends in `.gz`.
pub fn read_log_file(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("{} is not valid gzip: {e}", path.display()));
        out
    } else {
        raw
    }
}

/// The contents of `files`, in order.
pub fn read_all(files: &[PathBuf]) -> Vec<Vec<u8>> {
    files.iter().map(|p| read_log_file(p)).collect()
}

/// The names of the entries of `dir`, sorted, but for hidden ones (the writer's lock file).
pub fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// One scripted result of a [`ScriptedSink`] write.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// Fail with this kind.
    Fail(io::ErrorKind),
    /// Take the whole batch.
    Ok,
}

/// A sink whose writes follow a script (then succeed), counting calls; what it took is kept.
#[derive(Debug, Default)]
pub struct ScriptedSink {
    /// Results of the next writes, front first; empty means success.
    pub script: Arc<Mutex<std::collections::VecDeque<Step>>>,
    /// Calls of `write`.
    pub calls: Arc<Mutex<u64>>,
    /// Bytes taken.
    pub data: Vec<u8>,
}

impl ScriptedSink {
    /// Appends `n` failures of `kind` to the script.
    pub fn push_failures(&self, kind: io::ErrorKind, n: usize) {
        let mut s = self.script.lock().unwrap();
        for _ in 0..n {
            s.push_back(Step::Fail(kind));
        }
    }
}

impl Sink for ScriptedSink {
    fn write(&mut self, batch: &[u8]) -> io::Result<usize> {
        *self.calls.lock().unwrap() += 1;
        match self.script.lock().unwrap().pop_front() {
            Some(Step::Fail(kind)) => Err(io::Error::new(kind, "scripted failure")),
            Some(Step::Ok) | None => {
                self.data.extend_from_slice(batch);
                Ok(batch.len())
            }
        }
    }
}
