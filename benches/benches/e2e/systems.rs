//! The systems under test and their setup: bunctl-logging (lossless and lossy; lossless with
//! timestamped and JSON lines), tracing-appender's non-blocking writer, spdlog-rs's async pool
//! sink, fast_log and ftlog (through the `log` facade, [`crate::log_facade`]) and the
//! `BufWriter` ceiling, each opened in a directory ([`setup`]), handing out producers
//! ([`Backend::producer`]) or a `tracing` subscriber ([`Backend::dispatch`]), flushed until every line is in the OS page cache
//! ([`Backend::flush`]: where the clock stops, the same point for every system) and then
//! closed ([`Backend::close`]: bunctl's `shutdown()`, timed on its own).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bunctl_logging::{
    AsyncLogWriter, LineFormat, LogWriterConfig, RotationConfig, RotationStrategy, WriterOptions,
};

use crate::log_facade;
use crate::procfs::thread_alive;
use crate::producer::Producer;
use crate::readback::files_in;
use crate::shape::Shape;
use crate::tracing_fmt::{self, CeilingMakeWriter};
use crate::workload::{Workload, ROTATE_BYTES};
use crate::Res;

/// Name of tracing-appender's worker thread, watched to know when it has written everything.
const TA_THREAD: &str = "ta-e2e-worker";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum System {
    BunctlLossless,
    BunctlLossy,
    /// bunctl-lossless with `LineFormat::Timestamped`.
    BunctlLosslessTs,
    /// bunctl-lossless with `LineFormat::Json`.
    BunctlLosslessJson,
    TaLossless,
    TaLossy,
    SpdlogBlock,
    SpdlogDrop,
    FastLog,
    FtlogBlock,
    FtlogDrop,
    Ceiling,
}

impl System {
    pub(crate) const ALL: [System; 12] = [
        System::BunctlLossless,
        System::BunctlLossy,
        System::BunctlLosslessTs,
        System::BunctlLosslessJson,
        System::TaLossless,
        System::TaLossy,
        System::SpdlogBlock,
        System::SpdlogDrop,
        System::FastLog,
        System::FtlogBlock,
        System::FtlogDrop,
        System::Ceiling,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            System::BunctlLossless => "bunctl-lossless",
            System::BunctlLossy => "bunctl-lossy",
            System::BunctlLosslessTs => "bunctl-lossless-ts",
            System::BunctlLosslessJson => "bunctl-lossless-json",
            System::TaLossless => "tracing-appender-lossless",
            System::TaLossy => "tracing-appender-lossy",
            System::SpdlogBlock => "spdlog-block",
            System::SpdlogDrop => "spdlog-drop",
            System::FastLog => "fast_log",
            System::FtlogBlock => "ftlog-block",
            System::FtlogDrop => "ftlog-drop",
            System::Ceiling => "ceiling",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.name() == s)
    }

    pub(crate) fn lossless(self) -> bool {
        !matches!(
            self,
            System::BunctlLossy | System::TaLossy | System::SpdlogDrop | System::FtlogDrop
        )
    }

    pub(crate) fn mode(self) -> &'static str {
        if self.lossless() {
            "lossless"
        } else {
            "lossy"
        }
    }

    /// Whether the system runs `workload` (tracing-appender has no size rotation, ftlog
    /// rotates by time only, fast_log's size rotation is not set up here; the `tracing`
    /// workload needs a `MakeWriter`: bunctl-log-tracing's, tracing-appender's, the ceiling's).
    pub(crate) fn supports(self, workload: Workload) -> bool {
        let no_size_rotation = matches!(
            self,
            System::TaLossless
                | System::TaLossy
                | System::FastLog
                | System::FtlogBlock
                | System::FtlogDrop
        );
        let tracing_writer = matches!(
            self,
            System::BunctlLossless
                | System::BunctlLossy
                | System::TaLossless
                | System::TaLossy
                | System::Ceiling
        );
        if self.line_format() != LineFormat::Raw {
            // The cost of a line format is measured where it shows most: one producer.
            return workload == Workload::Single;
        }
        match workload {
            Workload::Rotating => !no_size_rotation,
            Workload::Tracing => tracing_writer,
            Workload::Apps1000 | Workload::Idle1000 | Workload::Idle10000 => false,
            _ => true,
        }
    }

    /// What the system writes around each line.
    pub(crate) fn shape(self) -> Shape {
        match self {
            System::FtlogBlock | System::FtlogDrop => Shape::Ftlog,
            System::BunctlLosslessTs => Shape::Timestamped,
            System::BunctlLosslessJson => Shape::DockerJson,
            _ => Shape::Raw,
        }
    }

    /// bunctl's line format (`WriterOptions::format`); `Raw` for every other system.
    pub(crate) fn line_format(self) -> LineFormat {
        match self {
            System::BunctlLosslessTs => LineFormat::Timestamped,
            System::BunctlLosslessJson => LineFormat::Json,
            _ => LineFormat::Raw,
        }
    }

    /// Whether this is bunctl-logging (any mode or format).
    pub(crate) fn is_bunctl(self) -> bool {
        matches!(
            self,
            System::BunctlLossless
                | System::BunctlLossy
                | System::BunctlLosslessTs
                | System::BunctlLosslessJson
        )
    }

    pub(crate) fn peer_ta(self) -> System {
        if self.lossless() {
            System::TaLossless
        } else {
            System::TaLossy
        }
    }

    /// Where the clock stops for this system: the first point at which every line is in the
    /// OS page cache, whatever the system calls it.
    pub(crate) fn clock_stop(self) -> &'static str {
        match self {
            System::BunctlLossless
            | System::BunctlLossy
            | System::BunctlLosslessTs
            | System::BunctlLosslessJson => {
                "all producers done, then one `flush().await` returned (lines in the page \
                 cache; no fsync, no wait for compression)"
            }
            System::TaLossless | System::TaLossy => {
                "all producers done, the `NonBlocking` handles and the `WorkerGuard` dropped, \
                 and the worker thread ended (it writes what is queued and flushes before it \
                 exits; tracing-appender has no flush that waits)"
            }
            System::SpdlogBlock | System::SpdlogDrop => {
                "all producers done, `Logger::flush()`, the last `ThreadPool` handle dropped \
                 (it runs every queued task and joins its thread) and the `FileSink` flushed \
                 (the async sink's flush does not wait)"
            }
            System::FastLog => {
                "all producers done, then `log::logger().flush()` returned (fast_log sends a \
                 flush command down its channel and waits until its appender thread has \
                 written the batch that holds it)"
            }
            System::FtlogBlock | System::FtlogDrop => {
                "all producers done, then `log::logger().flush()` returned (ftlog's thread \
                 writes every message queued before the flush command, flushes its \
                 `BufWriter` and answers)"
            }
            System::Ceiling => {
                "each producer's `BufWriter` flushed (one per producer thread; behind a \
                 `Mutex`, flushed once after the producers, when several share one)"
            }
        }
    }

    /// Whether the system has a close step after the clock stopped that is worth timing
    /// (bunctl's `shutdown()`: fsync, compression, join); the peers' clock stops at their
    /// end already.
    pub(crate) fn has_shutdown(self) -> bool {
        self.is_bunctl()
    }

    pub(crate) fn peer_spdlog(self) -> System {
        if self.lossless() {
            System::SpdlogBlock
        } else {
            System::SpdlogDrop
        }
    }
}

/// The system under test, set up in a directory.
pub(crate) enum Backend {
    Bunctl {
        writer: Arc<AsyncLogWriter>,
        lossless: bool,
    },
    Ta {
        writer: Option<tracing_appender::non_blocking::NonBlocking>,
        guard: Option<tracing_appender::non_blocking::WorkerGuard>,
    },
    Spdlog {
        logger: Option<Arc<spdlog::Logger>>,
        file_sink: Arc<dyn spdlog::sink::Sink>,
        pool: Option<Arc<spdlog::ThreadPool>>,
        drops: Arc<AtomicU64>,
    },
    /// fast_log, the process's global `log` logger.
    FastLog { file: PathBuf },
    /// ftlog, the process's global `log` logger; dropping the guard flushes.
    Ftlog {
        file: PathBuf,
        guard: Option<ftlog::LoggerGuard>,
    },
    Ceiling {
        owned: Option<BufWriter<File>>,
        shared: Option<Arc<Mutex<BufWriter<File>>>>,
    },
}

pub(crate) fn setup(
    system: System,
    workload: Workload,
    dir: &Path,
    rt: &tokio::runtime::Runtime,
) -> Res<Backend> {
    let rotating = workload == Workload::Rotating;
    let file = dir.join("e2e.log");
    Ok(match system {
        System::BunctlLossless
        | System::BunctlLossy
        | System::BunctlLosslessTs
        | System::BunctlLosslessJson => {
            let config = LogWriterConfig {
                path: file,
                rotation: RotationConfig {
                    strategy: if rotating {
                        RotationStrategy::Size(ROTATE_BYTES)
                    } else {
                        RotationStrategy::Never
                    },
                    max_files: 1000,
                    compression: rotating,
                },
                ..Default::default()
            };
            let mut options = WriterOptions::default();
            options.format = system.line_format();
            let writer = rt.block_on(AsyncLogWriter::with_options(config, options))?;
            Backend::Bunctl {
                writer: Arc::new(writer),
                lossless: system.lossless(),
            }
        }
        System::TaLossless | System::TaLossy => {
            let appender = tracing_appender::rolling::never(dir, "e2e.log");
            let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .lossy(system == System::TaLossy)
                .thread_name(TA_THREAD)
                .finish(appender);
            Backend::Ta {
                writer: Some(writer),
                guard: Some(guard),
            }
        }
        System::SpdlogBlock | System::SpdlogDrop => {
            use spdlog::formatter::{pattern, PatternFormatter};
            use spdlog::sink::{
                AsyncPoolSink, FileSink, OverflowPolicy, RotatingFileSink, RotationPolicy,
            };
            let file_sink: Arc<dyn spdlog::sink::Sink> = if rotating {
                RotatingFileSink::builder()
                    .base_path(&file)
                    .rotation_policy(RotationPolicy::FileSize(ROTATE_BYTES))
                    // Not 0 ("no limit"): in spdlog-rs 0.5 size rotation with max_files 0
                    // renames nothing and truncates the live file, losing every line before
                    // each rotation. 1000 matches bunctl's max_files.
                    .max_files(1000)
                    .formatter(PatternFormatter::new(pattern!("{payload}{eol}")))
                    .build_arc()?
            } else {
                FileSink::builder()
                    .path(&file)
                    .truncate(true)
                    .formatter(PatternFormatter::new(pattern!("{payload}{eol}")))
                    .build_arc()?
            };
            // The crate's defaults (queue of 8192 tasks, one thread), in a pool of our own so
            // that dropping it waits for every queued record.
            let pool = spdlog::ThreadPool::builder().build_arc()?;
            let policy = if system == System::SpdlogBlock {
                OverflowPolicy::Block
            } else {
                OverflowPolicy::DropIncoming
            };
            let drops = Arc::new(AtomicU64::new(0));
            let counter = drops.clone();
            let async_sink = AsyncPoolSink::builder()
                .sink(file_sink.clone())
                .overflow_policy(policy)
                .thread_pool(pool.clone())
                .error_handler(move |_| {
                    counter.fetch_add(1, Ordering::Relaxed);
                })
                .build_arc()?;
            let logger = spdlog::Logger::builder().sink(async_sink).build_arc()?;
            let counter = drops.clone();
            logger.set_error_handler(move |_| {
                counter.fetch_add(1, Ordering::Relaxed);
            });
            Backend::Spdlog {
                logger: Some(logger),
                file_sink,
                pool: Some(pool),
                drops,
            }
        }
        System::FastLog => {
            log_facade::init_fast_log(&file)?;
            Backend::FastLog { file }
        }
        System::FtlogBlock | System::FtlogDrop => {
            let guard = log_facade::init_ftlog(&file, system == System::FtlogBlock)?;
            Backend::Ftlog {
                file,
                guard: Some(guard),
            }
        }
        System::Ceiling => {
            let open = || -> Res<BufWriter<File>> {
                Ok(BufWriter::with_capacity(64 << 10, File::create(&file)?))
            };
            if workload.producers() == 1 {
                Backend::Ceiling {
                    owned: Some(open()?),
                    shared: None,
                }
            } else {
                Backend::Ceiling {
                    owned: None,
                    shared: Some(Arc::new(Mutex::new(open()?))),
                }
            }
        }
    })
}

impl Backend {
    pub(crate) fn producer(&mut self) -> Res<Producer> {
        Ok(match self {
            Backend::Bunctl { writer, lossless } => {
                if *lossless {
                    Producer::BunctlLossless(writer.clone())
                } else {
                    Producer::BunctlLossy(writer.clone())
                }
            }
            Backend::Ta { writer, .. } => Producer::Ta(writer.clone().ok_or("closed")?),
            Backend::Spdlog { logger, .. } => Producer::Spdlog(logger.clone().ok_or("closed")?),
            Backend::FastLog { .. } | Backend::Ftlog { .. } => Producer::LogFacade,
            Backend::Ceiling { owned, shared } => match (owned.take(), shared) {
                (Some(w), _) => Producer::CeilingOwned(w),
                (None, Some(shared)) => Producer::CeilingShared(shared.clone()),
                (None, None) => return Err("the single-producer ceiling has one producer".into()),
            },
        })
    }

    /// The `tracing` workload's subscriber over this system's writer ([`crate::tracing_fmt`]):
    /// bunctl through bunctl-log-tracing's `LogMakeWriter` in the system's mode,
    /// tracing-appender through its `NonBlocking`, the ceiling through its shared `BufWriter`.
    pub(crate) fn dispatch(&self) -> Res<tracing::Dispatch> {
        Ok(match self {
            Backend::Bunctl { writer, lossless } => tracing_fmt::dispatch(if *lossless {
                bunctl_log_tracing::LogMakeWriter::lossless(writer.clone())
            } else {
                bunctl_log_tracing::LogMakeWriter::lossy(writer.clone())
            }),
            Backend::Ta { writer, .. } => tracing_fmt::dispatch(writer.clone().ok_or("closed")?),
            Backend::Ceiling {
                shared: Some(shared),
                ..
            } => tracing_fmt::dispatch(CeilingMakeWriter(shared.clone())),
            _ => return Err("this system has no tracing writer here".into()),
        })
    }

    /// Brings every accepted line to the OS page cache, after the producers are done: where
    /// the clock stops (see [`System::clock_stop`]). Peers that can only do that by ending
    /// end here; bunctl's writer stays open until [`Backend::close`].
    pub(crate) fn flush(&mut self, rt: &tokio::runtime::Runtime) -> Res<()> {
        match self {
            Backend::Bunctl { writer, .. } => Ok(rt.block_on(writer.flush())?),
            Backend::Ta { writer, guard } => {
                drop(writer.take());
                // Dropping the guard waits at most ~1.1 s for the worker; wait for the worker
                // thread itself to end (it writes all that is queued, then flushes and exits).
                drop(guard.take());
                let deadline = Instant::now() + Duration::from_secs(120);
                while thread_alive(TA_THREAD) {
                    if Instant::now() > deadline {
                        return Err("tracing-appender's worker did not finish in 120 s".into());
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
                Ok(())
            }
            Backend::Spdlog {
                logger,
                file_sink,
                pool,
                ..
            } => {
                if let Some(logger) = logger.take() {
                    logger.flush();
                }
                // The last reference to the pool: dropping it processes every queued task and
                // joins the pool's thread.
                drop(pool.take());
                Ok(file_sink.flush()?)
            }
            Backend::FastLog { .. } | Backend::Ftlog { .. } => {
                log_facade::flush();
                Ok(())
            }
            Backend::Ceiling { shared, .. } => {
                // The single producer flushed its own `BufWriter` before it returned.
                if let Some(shared) = shared {
                    shared.lock().map_err(|_| "poisoned")?.flush()?;
                }
                Ok(())
            }
        }
    }

    /// Closes the system after [`Backend::flush`] (bunctl: `shutdown()`, which fsyncs, waits
    /// for compression and joins its thread); returns the files to read back, in order, and
    /// the drops the system itself counted.
    pub(crate) fn close(
        self,
        dir: &Path,
        rt: &tokio::runtime::Runtime,
    ) -> Res<(Vec<PathBuf>, u64)> {
        match self {
            Backend::Bunctl { writer, .. } => {
                rt.block_on(writer.shutdown())?;
                let dropped = writer.metrics_snapshot().dropped_messages;
                Ok((writer.log_files()?, dropped))
            }
            Backend::Ta { .. } => Ok((files_in(dir)?, 0)),
            Backend::Spdlog {
                file_sink, drops, ..
            } => {
                drop(file_sink);
                Ok((files_in(dir)?, drops.load(Ordering::Relaxed)))
            }
            Backend::FastLog { file } => {
                log_facade::exit_fast_log();
                Ok((vec![file], 0))
            }
            Backend::Ftlog { file, guard } => {
                drop(guard);
                Ok((vec![file], 0))
            }
            Backend::Ceiling { .. } => Ok((vec![dir.join("e2e.log")], 0)),
        }
    }
}
