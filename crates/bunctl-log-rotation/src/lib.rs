//! When a live log file rotates, what its archives are named, which of them expire, and gzip
//! off the writer's thread.
//!
//! This crate decides and names; it does not write log lines. The sink that owns a live file
//! asks a [`RotationPolicy`] before each batch whether to rotate ([`max_size`] against the file
//! size, [`is_due`] against its [`Clock`]). To rotate, it flushes and fsyncs the live file,
//! renames it to [`ArchiveNaming::archive_path`], opens a new live file, fsyncs the directory,
//! then hands the archive to a [`Compressor`] (or, without compression, calls
//! [`Retention::apply`]).
//!
//! * **When**: [`SizePolicy`], [`DailyPolicy`], [`HourlyPolicy`] (UTC calendar days and hours),
//!   [`NeverPolicy`] and [`AnyOf`] to combine them. Time comes from a [`Clock`]
//!   ([`SystemClock`], or [`ManualClock`] in tests). A clock going backwards never rotates.
//! * **What**: `app.log` rotates to `app.<started>-<seq>.log` (`app.20261125T163918Z-000042.log`),
//!   compressed to `...log.gz` via a temp file `...log.gz.tmp`. The timestamp is when the
//!   archive's content started, the seq never repeats, so names sort oldest first and a
//!   [`scan`](ArchiveNaming::scan) lists an app's archives in order without guessing. Parsing is
//!   strict: another app's files (`app.err.…`, `app2.…`) are never taken for this one's.
//! * **Which to delete**: [`Retention`] keeps at most `max_files` archives and optionally at
//!   most `max_total_bytes`, deleting the oldest first.
//! * **Crash safety**: compression writes `.gz.tmp`, fsyncs it and renames it to `.gz` (the
//!   commit point) before removing the plain archive, so no archive is ever lost or
//!   half-written under its final name. The sink's crash recovery, when a writer opens its
//!   live file, removes `.gz.tmp` leftovers and plain files already compressed, and hands
//!   the plain archives still to compress to the [`Compressor`].
//!
//! Every file operation goes through [`bunctl_log_fs::Filesystem`], so tests inject real
//! error kinds at any step. Nothing here panics on I/O errors: they are returned or, in the
//! background [`Compressor`], logged, counted and reported by [`Compressor::wait_idle`].
//!
//! ```
//! use bunctl_log_fs::{Filesystem, StdFs};
//! use bunctl_log_rotation::{
//!     ArchiveNaming, Clock, Compressor, ManualClock, Retention, RotationPolicy,
//!     AnyOf, DailyPolicy, SizePolicy,
//! };
//! use chrono::{TimeZone, Utc};
//! use std::time::Duration;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let live = dir.path().join("app.log");
//! let fs = StdFs::shared();
//! let naming = ArchiveNaming::new(&live).unwrap();
//!
//! let policy = AnyOf(vec![Box::new(SizePolicy(1 << 20)), Box::new(DailyPolicy)]);
//! let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 23, 0, 0).unwrap());
//! let opened_at = clock.now();
//! std::fs::write(&live, b"a line\n").unwrap();
//! assert!(!policy.is_due(opened_at, clock.now()));
//! clock.advance(Duration::from_secs(3600)); // midnight UTC
//! assert!(policy.is_due(opened_at, clock.now()));
//!
//! // the sink's rotation: rename the live file to its archive name, then compress it
//! let archive = naming.archive_path(opened_at, naming.next_seq(&*fs).unwrap());
//! fs.rename(&live, &archive).unwrap();
//! let compressor = Compressor::new(fs.clone(), naming.clone(),
//!                                  Some(Retention::max_files(10)), flate2::Compression::default());
//! compressor.submit(archive);
//! compressor.wait_idle().unwrap();
//!
//! let scan = naming.scan(&*fs).unwrap();
//! assert_eq!(scan.archives.len(), 1);
//! assert!(scan.archives[0].compressed);
//! assert!(scan.archives[0].path.to_str().unwrap().ends_with("app.20261125T230000Z-000001.log.gz"));
//! ```
//!
//! [`max_size`]: RotationPolicy::max_size
//! [`is_due`]: RotationPolicy::is_due
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod app_names;
mod clock;
mod compress;
mod listing;
mod naming;
mod policy;
mod retention;

pub use app_names::{
    app_of_file, check_app_name, live_file_name, stderr_file_name, AppFile, AppNameError,
    LOG_EXTENSION, MAX_APP_NAME_LEN, STDERR_TAG,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use compress::{compress_file, Compressor};
pub use listing::{SharedListing, DEFAULT_LISTING_MAX_AGE};
pub use naming::{
    Archive, ArchiveFile, ArchiveForm, ArchiveNaming, Scan, GZ_SUFFIX, LOCK_SUFFIX, NEXT_SUFFIX,
    OPEN_SUFFIX, SEQ_MIN_DIGITS, TIMESTAMP_FORMAT, TMP_SUFFIX,
};
pub use policy::{
    AnyOf, DailyIn, DailyPolicy, HourlyIn, HourlyPolicy, NeverPolicy, RotationPolicy, SizePolicy,
};
pub use retention::Retention;
