//! `read_logs` on a big live file: the last 100 lines of an app whose live file is 1 GiB
//! (`--size MiB` to change it), timed over 20 calls, with the process's peak resident memory
//! before and after (from `/proc/self/status`, Linux). The file is written once, outside the
//! timing, in a temporary directory.
//!
//! ```sh
//! cargo bench -p bunctl-log-benches --bench read            # 1 GiB
//! cargo bench -p bunctl-log-benches --bench read -- --size 64
//! ```

use std::io::Write;
use std::time::Instant;

use bunctl_logging::{AppId, LogConfig, LogManager};

/// Peak resident set size of this process in KiB (`VmHWM`), where the platform says.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let mib: u64 = args
        .iter()
        .position(|a| a == "--size")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(1024), |s| s.parse())?;
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("logs");
    std::fs::create_dir_all(&dir)?;
    let live = dir.join("big.log");
    {
        let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&live)?);
        let line = format!("{}\n", "x".repeat(99));
        let lines = mib * (1 << 20) / line.len() as u64;
        for i in 0..lines {
            write!(f, "{i:012} ")?;
            f.write_all(&line.as_bytes()[13..])?;
        }
        f.flush()?;
    }
    let size = std::fs::metadata(&live)?.len();
    let rt = tokio::runtime::Runtime::new()?;
    let manager = LogManager::new(LogConfig {
        base_dir: dir.clone(),
        ..LogConfig::default()
    });
    let app = AppId::new("big")?;
    let before = peak_rss_kib();
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let got = rt.block_on(manager.read_logs(&app, 100))?;
        times.push(t.elapsed());
        assert_eq!(got.len(), 100);
    }
    let after = peak_rss_kib();
    times.sort();
    println!(
        "read_logs(last 100) of a {:.0} MiB live file: median {:?}, max {:?}; peak RSS {} KiB before, {} KiB after",
        size as f64 / f64::from(1 << 20),
        times[times.len() / 2],
        times[times.len() - 1],
        before.map_or("?".into(), |k| k.to_string()),
        after.map_or("?".into(), |k| k.to_string()),
    );
    Ok(())
}
