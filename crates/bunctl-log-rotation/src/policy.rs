//! When a live file rotates: by size, by day or hour (UTC, or any time zone), never, or any
//! combination.

use std::sync::Arc;

use chrono::{
    DateTime, DurationRound, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Timelike, Utc,
};

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

/// Rotate when `now` is on a later calendar day than `opened_at` in the time zone `Tz`
/// (`chrono::Local` for the machine's local time). Days are calendar days, not 24-hour spans:
/// the day a daylight-saving change makes 23 or 25 hours long rotates once, at its midnight.
///
/// ```
/// use bunctl_log_rotation::{DailyIn, RotationPolicy};
/// use chrono::{FixedOffset, TimeZone, Utc};
///
/// let tokyo = FixedOffset::east_opt(9 * 3600).unwrap();
/// let p = DailyIn(tokyo);
/// let opened = Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap(); // 23:00 in Tokyo
/// assert!(p.is_due(opened, Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap()));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DailyIn<Tz>(pub Tz);

impl DailyIn<chrono::Local> {
    /// Days on the machine's local clock (`TZ`, else `/etc/localtime`).
    pub fn local() -> Self {
        Self(chrono::Local)
    }
}

/// The first instant at or after the local time `local` in `tz`: the earlier one if `local`
/// happens twice (a clock set back), the first existing one after it if it is skipped (a clock
/// set forward; tried in 15-minute steps, the finest offset change in use).
fn first_instant_at<Tz: TimeZone>(tz: &Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    (0..=12).find_map(|step| {
        let t = local.checked_add_signed(TimeDelta::minutes(15 * step))?;
        tz.from_local_datetime(&t)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    })
}

impl<Tz> RotationPolicy for DailyIn<Tz>
where
    Tz: TimeZone + Send + Sync + std::fmt::Debug,
{
    fn max_size(&self) -> Option<u64> {
        None
    }
    fn is_due(&self, opened_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now > opened_at
            && now.with_timezone(&self.0).date_naive()
                > opened_at.with_timezone(&self.0).date_naive()
    }
    fn next_due(&self, opened_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let next_day = opened_at.with_timezone(&self.0).date_naive().succ_opt()?;
        first_instant_at(&self.0, next_day.and_time(NaiveTime::MIN))
    }
}

/// Rotate when `now` is in another hour than `opened_at` on the clock of the time zone `Tz`.
/// An hour that happens twice (a clock set back) gives two files, one per offset, and an hour a
/// clock skips gives none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HourlyIn<Tz>(pub Tz);

impl HourlyIn<chrono::Local> {
    /// Hours on the machine's local clock (`TZ`, else `/etc/localtime`).
    pub fn local() -> Self {
        Self(chrono::Local)
    }
}

impl<Tz> HourlyIn<Tz>
where
    Tz: TimeZone,
{
    /// Which hour on the local clock `t` is in: the date, the hour, and the offset (so the two
    /// 01:00-02:00 hours of a night the clock goes back are told apart).
    fn hour_of(&self, t: DateTime<Utc>) -> (chrono::NaiveDate, u32, i32) {
        let local = t.with_timezone(&self.0);
        let offset = local.offset().fix().local_minus_utc();
        (local.date_naive(), local.hour(), offset)
    }
}

impl<Tz> RotationPolicy for HourlyIn<Tz>
where
    Tz: TimeZone + Send + Sync + std::fmt::Debug,
{
    fn max_size(&self) -> Option<u64> {
        None
    }
    fn is_due(&self, opened_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now > opened_at && self.hour_of(now) != self.hour_of(opened_at)
    }
    fn next_due(&self, opened_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Offsets in use are whole quarter hours: the next quarter-hour boundary on which the
        // local hour changes.
        let quarter = TimeDelta::minutes(15);
        let mut t = opened_at.duration_trunc(quarter).ok()?;
        for _ in 0..8 {
            t = t.checked_add_signed(quarter)?;
            if self.hour_of(t) != self.hour_of(opened_at) {
                return Some(t);
            }
        }
        None
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
