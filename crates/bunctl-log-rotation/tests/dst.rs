//! Local-time rotation across both daylight-saving changes, with a manual clock: the day of 23
//! hours and the day of 25 hours each rotate once, at local midnight; hourly rotation gives one
//! file per hour on the local clock, two for the hour that happens twice.

use std::time::Duration;

use bunctl_log_rotation::{Clock, DailyIn, HourlyIn, ManualClock, RotationPolicy};
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::America::New_York;

/// Runs a writer's rotation loop for `hours` hours in 5-minute steps from `start` and returns
/// the instants it rotated at (a file is opened at `start`, and again at each rotation).
fn rotations(policy: &dyn RotationPolicy, start: DateTime<Utc>, hours: u64) -> Vec<DateTime<Utc>> {
    let clock = ManualClock::new(start);
    let mut opened_at = clock.now();
    let mut rotated = Vec::new();
    for _ in 0..hours * 12 {
        clock.advance(Duration::from_secs(300));
        let now = clock.now();
        if policy.is_due(opened_at, now) {
            // Rotating at the first check due: it must be the instant the policy announced.
            assert_eq!(
                policy.next_due(opened_at),
                Some(now),
                "next_due disagrees with is_due"
            );
            rotated.push(now);
            opened_at = now;
        }
    }
    rotated
}

fn ny(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    New_York
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn daily_in_local_time_rotates_once_a_day_across_both_changes() {
    let p = DailyIn(New_York);
    // 2026-03-08 has 23 hours (02:00 -> 03:00), 2026-11-01 has 25 (02:00 -> 01:00).
    for (start, rotates_on, short_or_long_day) in [
        (
            ny(2026, 3, 7, 12, 0),
            ["2026-03-08", "2026-03-09", "2026-03-10"],
            23,
        ),
        (
            ny(2026, 10, 31, 12, 0),
            ["2026-11-01", "2026-11-02", "2026-11-03"],
            25,
        ),
    ] {
        let got = rotations(&p, start, 72);
        let local: Vec<String> = got
            .iter()
            .map(|t| {
                t.with_timezone(&New_York)
                    .format("%Y-%m-%d %H:%M")
                    .to_string()
            })
            .collect();
        let want: Vec<String> = rotates_on.iter().map(|d| format!("{d} 00:00")).collect();
        assert_eq!(local, want, "once a day, at local midnight");
        // The day of the change is one file, 23 or 25 hours long.
        assert_eq!((got[1] - got[0]).num_hours(), short_or_long_day);
        assert_eq!((got[2] - got[1]).num_hours(), 24);
    }
}

#[test]
fn hourly_in_local_time_gives_one_file_per_clock_hour() {
    let p = HourlyIn(New_York);
    // Spring forward: 01:00-01:59 EST, then 03:00 EDT. From 00:30 for 4 real hours.
    let got = rotations(&p, ny(2026, 3, 8, 0, 30), 4);
    let labels: Vec<String> = got
        .iter()
        .map(|t| t.with_timezone(&New_York).format("%H:%M %Z").to_string())
        .collect();
    assert_eq!(labels, ["01:00 EST", "03:00 EDT", "04:00 EDT", "05:00 EDT"]);
    // Fall back: 01:00-01:59 EDT, then 01:00-01:59 EST again. From 00:30 for 4 real hours.
    let got = rotations(&p, ny(2026, 11, 1, 0, 30), 4);
    let labels: Vec<String> = got
        .iter()
        .map(|t| t.with_timezone(&New_York).format("%H:%M %Z").to_string())
        .collect();
    assert_eq!(labels, ["01:00 EDT", "01:00 EST", "02:00 EST", "03:00 EST"]);
}
