//! `--since` and `--until`: the forms a person types, beyond the RFC 3339 times and single
//! durations that bunctl-log-read parses.

use chrono::{DateTime, Duration, Local, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// What the error of a time that is none of the forms says.
const FORMS: &str = "use an RFC 3339 time (2026-11-27T01:23:45Z), a local date and time \
(2026-12-02 10:00, 2026-12-02 10:00:00, 2026-12-02; a zone after it, Z or +01:00, if not \
local), today, yesterday, now, a Unix time (1640995200 or @1640995200), or how long before now \
(30s, 10m, 2h, 3d, 1w, 1h30m)";

/// Parses `--since` and `--until` (see [`parse_time_in`]), now and in the local time zone.
///
/// # Errors
/// A message naming the value and the forms accepted.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    parse_time_in(s, Utc::now(), &Local)
}

/// Parses a time as of `now`, in the time zone `tz` where the value gives none:
///
/// * `now`; `today` and `yesterday`: the midnight that starts the day;
/// * a date (`2026-12-02`: its midnight), a date and time (`2026-12-02 10:00`,
///   `2026-12-02 10:00:00`, `T` in place of the space, a fraction of a second allowed), with a
///   zone after it or not (`Z`, `+01:00`, `-0500`);
/// * a Unix time, seconds since 1970: `1640995200` or `@1640995200`;
/// * how long before now: numbers each with a unit `s`, `m`, `h`, `d` or `w` (`30s`, `1h30m`,
///   `1d12h`).
///
/// # Errors
/// A message naming the value and the forms accepted, or saying why the time does not exist
/// (a local time skipped by a clock change, one out of range).
pub fn parse_time_in<Tz: TimeZone>(
    s: &str,
    now: DateTime<Utc>,
    tz: &Tz,
) -> Result<DateTime<Utc>, String> {
    let t = s.trim();
    let bad = || format!("invalid time {s:?}: {FORMS}");
    let midnight = |date: NaiveDate| local(tz, date.and_time(NaiveTime::MIN), s);
    match t {
        "now" => return Ok(now),
        "today" => return midnight(now.with_timezone(tz).date_naive()),
        "yesterday" => {
            let today = now.with_timezone(tz).date_naive();
            return midnight(today.pred_opt().ok_or_else(bad)?);
        }
        _ => {}
    }
    if let Some(digits) = t.strip_prefix('@').or(Some(t)).filter(|d| is_number(d)) {
        let seconds: i64 = digits.parse().map_err(|_| bad())?;
        return DateTime::from_timestamp(seconds, 0)
            .ok_or_else(|| format!("invalid time {s:?}: out of range"));
    }
    if let Some(ago) = duration(t) {
        return ago
            .and_then(|d| now.checked_sub_signed(d))
            .ok_or_else(|| format!("invalid time {s:?}: that is too long ago"));
    }
    if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return midnight(date);
    }
    // The date and the time, then perhaps a zone.
    let t = t.replacen('T', " ", 1);
    let t = match t.strip_suffix(['Z', 'z']) {
        Some(head) => format!("{head}+00:00"),
        None => t,
    };
    for form in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"] {
        if let Ok(zoned) = DateTime::parse_from_str(&t, &format!("{form}%#z")) {
            return Ok(zoned.with_timezone(&Utc));
        }
        if let Ok(naive) = NaiveDateTime::parse_from_str(&t, form) {
            return local(tz, naive, s);
        }
    }
    Err(bad())
}

/// `naive` in `tz`; of two (the hour a clock change repeats), the earlier.
fn local<Tz: TimeZone>(tz: &Tz, naive: NaiveDateTime, s: &str) -> Result<DateTime<Utc>, String> {
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("invalid time {s:?}: no such local time (a clock change skips it)"))
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `1h30m` as a duration: `None` if it is not made of numbers and units, `Some(None)` if it
/// overflows.
fn duration(s: &str) -> Option<Option<Duration>> {
    let mut total = Some(Duration::zero());
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let unit = rest[digits..].chars().next()?;
        if digits == 0 {
            return None;
        }
        let seconds_per: i64 = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return None,
        };
        let n = rest[..digits].parse::<i64>().ok();
        total = total
            .zip(n.and_then(|n| n.checked_mul(seconds_per)))
            .and_then(|(total, secs)| total.checked_add(&Duration::try_seconds(secs)?));
        rest = &rest[digits + 1..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    /// 2026-12-03 11:00:00 UTC, a Thursday.
    fn now() -> DateTime<Utc> {
        "2026-12-03T11:00:00Z".parse().unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// In UTC+02:00.
    fn parse(s: &str) -> Result<DateTime<Utc>, String> {
        parse_time_in(s, now(), &FixedOffset::east_opt(2 * 3600).unwrap())
    }

    #[test]
    fn words() {
        assert_eq!(parse("now"), Ok(now()));
        // Midnight where the clock is 2 hours ahead of UTC.
        assert_eq!(parse("today"), Ok(utc("2026-12-02T22:00:00Z")));
        assert_eq!(parse("yesterday"), Ok(utc("2026-12-01T22:00:00Z")));
        // Just before midnight UTC it is already tomorrow at UTC+2.
        let late = utc("2026-12-03T23:30:00Z");
        let tz = FixedOffset::east_opt(2 * 3600).unwrap();
        assert_eq!(
            parse_time_in("today", late, &tz),
            Ok(utc("2026-12-03T22:00:00Z"))
        );
    }

    #[test]
    fn local_dates_and_times() {
        assert_eq!(parse("2026-12-02"), Ok(utc("2026-12-01T22:00:00Z")));
        assert_eq!(parse("2026-12-02 10:00"), Ok(utc("2026-12-02T08:00:00Z")));
        assert_eq!(
            parse("2026-12-02 10:00:30"),
            Ok(utc("2026-12-02T08:00:30Z"))
        );
        assert_eq!(
            parse("2026-12-02T10:00:30"),
            Ok(utc("2026-12-02T08:00:30Z"))
        );
        assert_eq!(
            parse("2026-12-02 10:00:30.25"),
            Ok(utc("2026-12-02T08:00:30.25Z"))
        );
        assert_eq!(parse(" 2026-12-02 10:00 "), Ok(utc("2026-12-02T08:00:00Z")));
    }

    #[test]
    fn a_zone_given_wins_over_the_local_one() {
        assert_eq!(parse("2026-12-02 10:00Z"), Ok(utc("2026-12-02T10:00:00Z")));
        assert_eq!(
            parse("2026-12-02 10:00:00Z"),
            Ok(utc("2026-12-02T10:00:00Z"))
        );
        assert_eq!(
            parse("2026-12-02 10:00:00+01:00"),
            Ok(utc("2026-12-02T09:00:00Z"))
        );
        assert_eq!(
            parse("2026-12-02 10:00-0500"),
            Ok(utc("2026-12-02T15:00:00Z"))
        );
        // RFC 3339 as before.
        assert_eq!(
            parse("2026-11-27T01:23:45.5Z"),
            Ok(utc("2026-11-27T01:23:45.5Z"))
        );
        assert_eq!(
            parse("2026-11-27T02:23:45+01:00"),
            Ok(utc("2026-11-27T01:23:45Z"))
        );
    }

    #[test]
    fn unix_times() {
        assert_eq!(parse("1640995200"), Ok(utc("2022-01-01T00:00:00Z")));
        assert_eq!(parse("@1640995200"), Ok(utc("2022-01-01T00:00:00Z")));
        assert_eq!(parse("@0"), Ok(utc("1970-01-01T00:00:00Z")));
        assert!(parse("@99999999999999999").is_err());
    }

    #[test]
    fn durations_before_now() {
        let ago = |secs: i64| Ok(now() - Duration::seconds(secs));
        assert_eq!(parse("30s"), ago(30));
        assert_eq!(parse("10m"), ago(600));
        assert_eq!(parse("2h"), ago(7200));
        assert_eq!(parse("3d"), ago(3 * 86_400));
        assert_eq!(parse("1w"), ago(7 * 86_400));
        assert_eq!(parse("1h30m"), ago(5400));
        assert_eq!(parse("1d2h3m4s"), ago(86_400 + 7200 + 180 + 4));
        assert!(parse("99999999999999w")
            .unwrap_err()
            .contains("too long ago"));
    }

    #[test]
    fn other_values_say_what_is_accepted() {
        for bad in [
            "",
            "tomorrow",
            "1h30",
            "h",
            "1y",
            "1.5h",
            "2026-13-01",
            "2026-12-02 25:00",
            "@",
            "@-5",
            "10:00",
            "2026-12-02 10",
            "1h 30m",
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(
                e.contains("invalid time") && e.contains("1h30m"),
                "{bad}: {e}"
            );
        }
    }
}
