//! The workloads: how many producers of which kind (threads or tokio tasks) write how many
//! lines, with or without rotation, directly or as `tracing` events; and bunctl's own
//! workloads, many apps in one `LogManager` (`apps1000`) and idle writers.

/// Size rotation of the `rotating` workload.
pub(crate) const ROTATE_BYTES: u64 = 8 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Workload {
    Single,
    Tasks100,
    Threads4,
    Rotating,
    Tracing,
    Apps1000,
    Idle1000,
    Idle10000,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Producers {
    /// Plain OS threads.
    Threads,
    /// Tokio tasks on a 2-worker multi-thread runtime.
    Tasks,
}

impl Workload {
    pub(crate) const ALL: [Workload; 8] = [
        Workload::Single,
        Workload::Tasks100,
        Workload::Threads4,
        Workload::Rotating,
        Workload::Tracing,
        Workload::Apps1000,
        Workload::Idle1000,
        Workload::Idle10000,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Workload::Single => "single",
            Workload::Tasks100 => "tasks100",
            Workload::Threads4 => "threads4",
            Workload::Rotating => "rotating",
            Workload::Tracing => "tracing",
            Workload::Apps1000 => "apps1000",
            Workload::Idle1000 => "idle1000",
            Workload::Idle10000 => "idle10000",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.name() == s)
    }

    pub(crate) fn producers(self) -> usize {
        match self {
            Workload::Single | Workload::Apps1000 => 1,
            Workload::Tasks100 | Workload::Rotating => 100,
            Workload::Threads4 | Workload::Tracing => 4,
            Workload::Idle1000 | Workload::Idle10000 => 0,
        }
    }

    pub(crate) fn kind(self) -> Producers {
        match self {
            Workload::Tasks100 | Workload::Rotating => Producers::Tasks,
            _ => Producers::Threads,
        }
    }

    /// Total lines of a full run.
    pub(crate) fn default_lines(self) -> u64 {
        match self {
            Workload::Single
            | Workload::Tasks100
            | Workload::Threads4
            | Workload::Rotating
            | Workload::Tracing => 2_000_000,
            // The busy app's lines in each of its three phases.
            Workload::Apps1000 => 2_000_000,
            Workload::Idle1000 | Workload::Idle10000 => 0,
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Workload::Single => "1 producer thread",
            Workload::Tasks100 => "100 tokio tasks on a 2-worker runtime",
            Workload::Threads4 => "4 OS threads",
            Workload::Rotating => {
                "100 tokio tasks on a 2-worker runtime, size rotation at 8 MiB, compression on"
            }
            Workload::Tracing => {
                "4 OS threads emitting `tracing::info!` through the same `tracing_subscriber::fmt` \
                 layer (no time, level, target or colour)"
            }
            Workload::Apps1000 => {
                "one LogManager, 1,000 apps at 10 lines/s each and one busy app written by one \
                 thread as fast as it goes, all lossless"
            }
            Workload::Idle1000 => "1,000 idle writers in one LogManager",
            Workload::Idle10000 => "10,000 idle writers in one LogManager",
        }
    }

    /// bunctl's own workloads: measured for bunctl-logging alone, each with a table of its
    /// own (not lines/s against the peers).
    pub(crate) fn bunctl_only(self) -> bool {
        matches!(
            self,
            Workload::Apps1000 | Workload::Idle1000 | Workload::Idle10000
        )
    }

    /// The idle writers of an idle workload in a full or `--quick` run (the smoke run takes
    /// fewer).
    pub(crate) fn idle_writers(self) -> Option<usize> {
        match self {
            Workload::Idle1000 => Some(1_000),
            Workload::Idle10000 => Some(10_000),
            _ => None,
        }
    }

    /// Whether a `--quick` or smoke run has this workload unless it is asked for by name:
    /// all but `idle10000` (10,000 threads take a while to start and to stop).
    pub(crate) fn in_quick(self) -> bool {
        self != Workload::Idle10000
    }
}
