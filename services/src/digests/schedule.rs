//! When digests are due: a weekly digest once each week has ended (calendar weeks, Monday 00:00
//! UTC), a monthly one once each month has ended. A period has a key (`weekly:2026-W49`,
//! `monthly:2026-11`) that names one digest per citizen: the key is what makes a digest unique.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use super::Frequency;

/// How periods are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// Calendar weeks (ISO, UTC) and calendar months.
    Calendar,
    /// Demonstrations and tests: weeks of this many seconds from the epoch, months of four weeks.
    Compressed { week_secs: u64 },
}

/// The period that ended last before `now`: its key and when it started (Unix ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub key: String,
    pub start_ms: i64,
}

impl Cadence {
    pub fn of(compressed_week_secs: u64) -> Self {
        if compressed_week_secs == 0 {
            Cadence::Calendar
        } else {
            Cadence::Compressed {
                week_secs: compressed_week_secs,
            }
        }
    }

    /// The last period of `frequency` that has ended at `now_ms` (none for `never`).
    pub fn last_ended(self, frequency: Frequency, now_ms: i64) -> Option<Period> {
        let name = frequency.as_str();
        match (self, frequency) {
            (_, Frequency::Never) => None,
            (Cadence::Compressed { week_secs }, _) => {
                let weeks = if frequency == Frequency::Monthly {
                    4
                } else {
                    1
                };
                let len_ms = i64::try_from(week_secs.saturating_mul(1000 * weeks)).ok()?;
                let index = now_ms.div_euclid(len_ms) - 1;
                Some(Period {
                    key: format!("{name}:c{week_secs}-{index}"),
                    start_ms: index.checked_mul(len_ms)?,
                })
            }
            (Cadence::Calendar, Frequency::Weekly) => {
                let now = DateTime::<Utc>::from_timestamp_millis(now_ms)?.date_naive();
                let this_monday =
                    now - Duration::days(i64::from(now.weekday().num_days_from_monday()));
                let start = this_monday - Duration::days(7);
                let week = start.iso_week();
                Some(Period {
                    key: format!("{name}:{}-W{:02}", week.year(), week.week()),
                    start_ms: midnight_ms(start)?,
                })
            }
            (Cadence::Calendar, Frequency::Monthly) => {
                let now = DateTime::<Utc>::from_timestamp_millis(now_ms)?.date_naive();
                let (year, month) = if now.month() == 1 {
                    (now.year() - 1, 12)
                } else {
                    (now.year(), now.month() - 1)
                };
                let start = NaiveDate::from_ymd_opt(year, month, 1)?;
                Some(Period {
                    key: format!("{name}:{year}-{month:02}"),
                    start_ms: midnight_ms(start)?,
                })
            }
        }
    }
}

fn midnight_ms(day: NaiveDate) -> Option<i64> {
    Some(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn a_calendar_week_is_due_from_the_next_monday() {
        let c = Cadence::Calendar;
        // Saturday 5 December 2026: the last week that ended is 23–29 November (W48).
        let p = c
            .last_ended(Frequency::Weekly, ms("2026-12-05T10:00:00Z"))
            .unwrap();
        assert_eq!(p.key, "weekly:2026-W48");
        assert_eq!(p.start_ms, ms("2026-11-23T00:00:00Z"));
        // Monday 7 December 00:00: week 49 has just ended.
        let p = c
            .last_ended(Frequency::Weekly, ms("2026-12-07T00:00:00Z"))
            .unwrap();
        assert_eq!(p.key, "weekly:2026-W49");
        // ISO years: 28 December 2026 – 3 January 2027 is 2026-W53.
        let p = c
            .last_ended(Frequency::Weekly, ms("2027-01-05T00:00:00Z"))
            .unwrap();
        assert_eq!(p.key, "weekly:2026-W53");
    }

    #[test]
    fn a_calendar_month_is_due_from_its_end_and_january_looks_back_to_december() {
        let c = Cadence::Calendar;
        let p = c
            .last_ended(Frequency::Monthly, ms("2026-12-05T10:00:00Z"))
            .unwrap();
        assert_eq!(p.key, "monthly:2026-11");
        assert_eq!(p.start_ms, ms("2026-11-01T00:00:00Z"));
        let p = c
            .last_ended(Frequency::Monthly, ms("2027-01-01T00:00:00Z"))
            .unwrap();
        assert_eq!(p.key, "monthly:2026-12");
        assert_eq!(c.last_ended(Frequency::Never, 0), None);
    }

    #[test]
    fn compressed_weeks_follow_each_other_and_a_month_is_four_of_them() {
        let c = Cadence::of(10);
        let a = c.last_ended(Frequency::Weekly, 25_000).unwrap();
        assert_eq!(a.key, "weekly:c10-1");
        assert_eq!(a.start_ms, 10_000);
        let b = c.last_ended(Frequency::Weekly, 30_000).unwrap();
        assert_eq!(b.key, "weekly:c10-2");
        let m = c.last_ended(Frequency::Monthly, 85_000).unwrap();
        assert_eq!(m.key, "monthly:c10-1");
        assert_eq!(m.start_ms, 40_000);
    }
}
