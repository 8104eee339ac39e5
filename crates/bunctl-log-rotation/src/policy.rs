//! When a live file rotates: by size, by UTC day or hour, never, or any combination.

use std::sync::Arc;

use chrono::{DateTime, DurationRound, NaiveTime, TimeDelta, Utc};

/// Decides when a live log file must be rotated.
///
/// A policy has two independent parts: a size limit that the writer checks before each batch
/// ([`max_size`](Self::max_size)), and time rules that it checks against its [`Clock`](crate::Clock)
/// ([`is_due`](Self::is_due)). A policy never looks at the file itself, so it is pure and cheap.
///
/// A clock going backwards never causes a rotation: [`is_due`](Self::is_due) is `false` whenever
/// `now <= opened_at`, so a clock step back cannot start a rotation storm.
pub trait RotationPolicy: Send + Sync + std::fmt::Debug {
    /// Largest size in bytes the live file may reach; `None` = no size limit.
    fn max_size(&self) -> Option<u64>;

    /// Whether a live file whose content started at `opened_at` must be rotated at `now`
    /// (time-based rules).
    fn is_due(&self, opened_at: DateTime<Utc>, now: DateTime<Utc>) -> bool;

    /// The earliest time at which [`is_due`](Self::is_due) becomes true for a file opened at
    /// `opened_at`, or `None` if time never makes it due. A writer with buffered data may use it
    /// to arm one timer instead of polling; an idle writer need not arm anything. The default
    /// says `None`, which is right for policies without time rules.
    fn next_due(&self, opened_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let _ = opened_at;
        None
    }
}

impl<P: RotationPolicy + ?Sized> RotationPolicy for Box<P> {
    fn max_size(&self) -> Option<u64> {
        (**self).max_size()
    }
    fn is_due(&self, opened_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        (**self).is_due(opened_at, now)
    }
    fn next_due(&self, opened_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        (**self).next_due(opened_at)
    }
}

impl<P: RotationPolicy + ?Sized> RotationPolicy for Arc<P> {
    fn max_size(&self) -> Option<u64> {
        (**self).max_size()
    }
    fn is_due(&self, opened_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        (**self).is_due(opened_at, now)
    }
    fn next_due(&self, opened_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        (**self).next_due(opened_at)
    }
}

/// Rotate when the live file would exceed this many bytes; never by time.
///
/// A write that would take the file past the limit is cut at the last whole line that fits,
/// the file is rotated, and the rest goes to the new file; a single line larger than the limit
/// gets a file of its own. Lines are never split across files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizePolicy(pub u64);

impl RotationPolicy for SizePolicy {
    fn max_size(&self) -> Option<u64> {
        Some(self.0)
    }
    fn is_due(&self, _opened_at: DateTime<Utc>, _now: DateTime<Utc>) -> bool {
        false
    }
}

/// Rotate when `now` is on a later UTC calendar day than `opened_at`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DailyPolicy;

impl RotationPolicy for DailyPolicy {
    fn max_size(&self) -> Option<u64> {
        None
    }
    fn is_due(&self, opened_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now > opened_at && now.date_naive() > opened_at.date_naive()
    }
    fn next_due(&self, opened_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let next_day = opened_at.date_naive().succ_opt()?;
        Some(next_day.and_time(NaiveTime::MIN).and_utc())
    }
}

/// Rotate when `now` is in a later UTC hour (both truncated to the hour) than `opened_at`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HourlyPolicy;

/// The hour `t` is in, counted from the Unix epoch (UTC hours are aligned with it).
fn hour_index(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(3600)
}

impl RotationPolicy for HourlyPolicy {
    fn max_size(&self) -> Option<u64> {
        None
    }
    fn is_due(&self, opened_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now > opened_at && hour_index(now) > hour_index(opened_at)
    }
    fn next_due(&self, opened_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let hour = TimeDelta::hours(1);
        opened_at
            .duration_trunc(hour)
            .ok()?
            .checked_add_signed(hour)
    }
}

/// Never rotate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NeverPolicy;

impl RotationPolicy for NeverPolicy {
    fn max_size(&self) -> Option<u64> {
        None
    }
    fn is_due(&self, _opened_at: DateTime<Utc>, _now: DateTime<Utc>) -> bool {
        false
    }
}

/// Rotate when any of the policies says so: the size limit is the smallest one set, and the
/// file is due when any policy finds it due. An empty `AnyOf` never rotates.
///
/// ```
/// use bunctl_log_rotation::{AnyOf, DailyPolicy, RotationPolicy, SizePolicy};
///
/// let p = AnyOf(vec![Box::new(SizePolicy(10 << 20)), Box::new(DailyPolicy), Box::new(SizePolicy(4096))]);
/// assert_eq!(p.max_size(), Some(4096));
/// ```
#[derive(Debug, Default)]
pub struct AnyOf(pub Vec<Box<dyn RotationPolicy>>);

impl RotationPolicy for AnyOf {
    fn max_size(&self) -> Option<u64> {
        self.0.iter().filter_map(|p| p.max_size()).min()
    }
    fn is_due(&self, opened_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        // Each member already refuses `now <= opened_at`; checking here too protects against
        // custom members that forget to.
        now > opened_at && self.0.iter().any(|p| p.is_due(opened_at, now))
    }
    fn next_due(&self, opened_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.0.iter().filter_map(|p| p.next_due(opened_at)).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn size_policy() {
        let p = SizePolicy(1024);
        assert_eq!(p.max_size(), Some(1024));
        assert!(!p.is_due(t(2026, 1, 1, 0, 0, 0), t(2030, 1, 1, 0, 0, 0)));
        assert_eq!(p.next_due(t(2026, 1, 1, 0, 0, 0)), None);
    }

    #[test]
    fn never_policy() {
        let p = NeverPolicy;
        assert_eq!(p.max_size(), None);
        assert!(!p.is_due(t(2026, 1, 1, 0, 0, 0), t(2030, 1, 1, 0, 0, 0)));
        assert_eq!(p.next_due(t(2026, 1, 1, 0, 0, 0)), None);
    }

    #[test]
    fn daily_day_boundary() {
        let p = DailyPolicy;
        assert_eq!(p.max_size(), None);
        let opened = t(2026, 11, 25, 23, 59, 59);
        assert!(!p.is_due(opened, opened));
        assert!(!p.is_due(opened, opened + TimeDelta::milliseconds(999)));
        assert!(p.is_due(opened, t(2026, 11, 26, 0, 0, 0)));
        assert!(p.is_due(opened, t(2027, 1, 1, 12, 0, 0)));
        // a whole day of content within one calendar day is not due
        let morning = t(2026, 11, 25, 0, 0, 0);
        assert!(!p.is_due(morning, t(2026, 11, 25, 23, 59, 59)));
        // year and month boundaries
        assert!(p.is_due(t(2026, 12, 31, 23, 0, 0), t(2027, 1, 1, 0, 0, 1)));
        assert!(p.is_due(t(2024, 2, 28, 12, 0, 0), t(2024, 2, 29, 0, 0, 0)));
        assert_eq!(p.next_due(opened), Some(t(2026, 11, 26, 0, 0, 0)));
        assert_eq!(p.next_due(morning), Some(t(2026, 11, 26, 0, 0, 0)));
    }

    #[test]
    fn hourly_hour_boundary() {
        let p = HourlyPolicy;
        assert_eq!(p.max_size(), None);
        let opened = t(2026, 11, 25, 16, 59, 59);
        assert!(!p.is_due(opened, opened));
        assert!(p.is_due(opened, t(2026, 11, 25, 17, 0, 0)));
        let start = t(2026, 11, 25, 16, 0, 0);
        assert!(!p.is_due(start, t(2026, 11, 25, 16, 59, 59)));
        assert!(p.is_due(start, t(2026, 11, 25, 17, 0, 0)));
        // across midnight
        assert!(p.is_due(t(2026, 11, 25, 23, 30, 0), t(2026, 11, 26, 0, 0, 0)));
        // before the epoch the hours are still aligned
        assert!(!p.is_due(t(1969, 12, 31, 23, 0, 0), t(1969, 12, 31, 23, 59, 59)));
        assert!(p.is_due(t(1969, 12, 31, 23, 59, 0), t(1970, 1, 1, 0, 0, 0)));
        assert_eq!(p.next_due(opened), Some(t(2026, 11, 25, 17, 0, 0)));
        assert_eq!(p.next_due(start), Some(t(2026, 11, 25, 17, 0, 0)));
    }

    #[test]
    fn clock_going_backwards_never_rotates() {
        let opened = t(2026, 11, 26, 0, 30, 0);
        let earlier = t(2026, 11, 25, 12, 0, 0);
        for p in [
            Box::new(DailyPolicy) as Box<dyn RotationPolicy>,
            Box::new(HourlyPolicy),
            Box::new(SizePolicy(1)),
            Box::new(NeverPolicy),
        ] {
            assert!(!p.is_due(opened, earlier), "{p:?}");
            assert!(!p.is_due(opened, opened), "{p:?}");
        }
        // a misbehaving member cannot make AnyOf rotate backwards either
        #[derive(Debug)]
        struct Always;
        impl RotationPolicy for Always {
            fn max_size(&self) -> Option<u64> {
                None
            }
            fn is_due(&self, _: DateTime<Utc>, _: DateTime<Utc>) -> bool {
                true
            }
        }
        let any = AnyOf(vec![Box::new(Always)]);
        assert!(!any.is_due(opened, earlier));
        assert!(any.is_due(opened, opened + TimeDelta::seconds(1)));
    }

    #[test]
    fn any_of_combines() {
        let p = AnyOf(vec![
            Box::new(SizePolicy(100)),
            Box::new(DailyPolicy),
            Box::new(SizePolicy(50)),
            Box::new(HourlyPolicy),
        ]);
        assert_eq!(p.max_size(), Some(50));
        let opened = t(2026, 11, 25, 16, 10, 0);
        assert!(!p.is_due(opened, t(2026, 11, 25, 16, 50, 0)));
        assert!(p.is_due(opened, t(2026, 11, 25, 17, 0, 0)));
        assert_eq!(p.next_due(opened), Some(t(2026, 11, 25, 17, 0, 0)));

        let daily_only = AnyOf(vec![Box::new(DailyPolicy), Box::new(NeverPolicy)]);
        assert_eq!(daily_only.max_size(), None);
        assert!(!daily_only.is_due(opened, t(2026, 11, 25, 17, 0, 0)));
        assert!(daily_only.is_due(opened, t(2026, 11, 26, 0, 0, 0)));

        let empty = AnyOf::default();
        assert_eq!(empty.max_size(), None);
        assert!(!empty.is_due(opened, t(2030, 1, 1, 0, 0, 0)));
        assert_eq!(empty.next_due(opened), None);
    }

    #[test]
    fn smart_pointers_delegate() {
        let b: Box<dyn RotationPolicy> = Box::new(SizePolicy(7));
        assert_eq!(b.max_size(), Some(7));
        let a: Arc<dyn RotationPolicy> = Arc::new(HourlyPolicy);
        assert!(a.is_due(t(2026, 1, 1, 0, 0, 0), t(2026, 1, 1, 1, 0, 0)));
        assert_eq!(
            a.next_due(t(2026, 1, 1, 0, 5, 0)),
            Some(t(2026, 1, 1, 1, 0, 0))
        );
    }
}
