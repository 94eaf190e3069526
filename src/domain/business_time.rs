//! Business time: the working hours of an office in its own time zone, without weekends and public holidays.
//! Service-level targets are counted in it (see `domain::sla`). Daylight-saving changes are handled by
//! converting each day's working window from local time separately.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

/// How far ahead a calculation looks for working time before it gives up (a calendar with no working day).
const HORIZON_DAYS: usize = 3 * 366;

/// Minutes in a day: the latest a working day can end (midnight after it).
pub const MINUTES_PER_DAY: u16 = 24 * 60;

/// Working hours of one weekday, in local time, as minutes after midnight; `start` is before `end`, and `end` may
/// be [`MINUTES_PER_DAY`] (work until midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingHours {
    /// When work starts.
    pub start: u16,
    /// When work ends.
    pub end: u16,
}

impl WorkingHours {
    /// `start` to `end`, if `start` is before `end` and `end` is no later than midnight.
    pub fn new(start: u16, end: u16) -> Option<WorkingHours> {
        (start < end && end <= MINUTES_PER_DAY).then_some(WorkingHours { start, end })
    }
}

/// The local date and time `minutes` after the midnight that starts `date`.
fn local_minute(date: NaiveDate, minutes: u16) -> NaiveDateTime {
    date.and_time(NaiveTime::MIN) + TimeDelta::minutes(i64::from(minutes))
}

/// An office's business calendar.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    /// The office's time zone.
    pub time_zone: Tz,
    /// Working hours per weekday, Monday first; `None` is a day off.
    pub week: [Option<WorkingHours>; 7],
    /// Public holidays, in local dates.
    pub holidays: BTreeSet<NaiveDate>,
}

/// The UTC instant of a local time; in a daylight-saving gap, the first instant after it.
fn to_utc(time_zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut probe = local;
    for _ in 0..4 {
        match time_zone.from_local_datetime(&probe) {
            LocalResult::Single(at) => return at.with_timezone(&Utc),
            LocalResult::Ambiguous(earliest, _) => return earliest.with_timezone(&Utc),
            LocalResult::None => probe += TimeDelta::minutes(30),
        }
    }
    Utc.from_utc_datetime(&local)
}

impl BusinessCalendar {
    /// Monday to Friday, 09:00 to 17:00, no holidays.
    pub fn standard(time_zone: Tz) -> BusinessCalendar {
        let day = WorkingHours { start: 9 * 60, end: 17 * 60 };
        BusinessCalendar {
            time_zone,
            week: [Some(day), Some(day), Some(day), Some(day), Some(day), None, None],
            holidays: BTreeSet::new(),
        }
    }

    /// The working window of a local date, as UTC instants.
    fn window(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if self.holidays.contains(&date) {
            return None;
        }
        let hours = self.week[date.weekday().num_days_from_monday() as usize]?;
        Some((
            to_utc(self.time_zone, local_minute(date, hours.start)),
            to_utc(self.time_zone, local_minute(date, hours.end)),
        ))
    }

    /// The instant `duration` of working time after `start`; `None` when the calendar has no working time ahead.
    pub fn add(&self, start: DateTime<Utc>, duration: TimeDelta) -> Option<DateTime<Utc>> {
        if duration <= TimeDelta::zero() {
            return Some(start);
        }
        let mut remaining = duration;
        let mut date = start.with_timezone(&self.time_zone).date_naive();
        for _ in 0..HORIZON_DAYS {
            if let Some((open, close)) = self.window(date) {
                let from = open.max(start);
                if from < close {
                    let available = close - from;
                    if remaining <= available {
                        return Some(from + remaining);
                    }
                    remaining -= available;
                }
            }
            date = date.succ_opt()?;
        }
        None
    }

    /// The working time between two instants (zero when `to` is not after `from`).
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        let mut total = TimeDelta::zero();
        if to <= from {
            return total;
        }
        let mut date = from.with_timezone(&self.time_zone).date_naive();
        let last = to.with_timezone(&self.time_zone).date_naive();
        while date <= last {
            if let Some((open, close)) = self.window(date) {
                let (start, end) = (open.max(from), close.min(to));
                if start < end {
                    total += end - start;
                }
            }
            let Some(next) = date.succ_opt() else { break };
            date = next;
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(time_zone: Tz, text: &str) -> DateTime<Utc> {
        let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
        to_utc(time_zone, local)
    }

    fn hours(h: i64) -> TimeDelta {
        TimeDelta::hours(h)
    }

    #[test]
    fn overnight_weekend_and_holiday() {
        let tirana = BusinessCalendar::standard(chrono_tz::Europe::Tirane);
        let tz = tirana.time_zone;
        // 2026-11-30 is a Monday.
        assert_eq!(tirana.add(at(tz, "2026-11-30 16:00"), hours(2)), Some(at(tz, "2026-12-01 10:00")), "overnight");
        assert_eq!(tirana.add(at(tz, "2026-12-04 16:00"), hours(2)), Some(at(tz, "2026-12-07 10:00")), "weekend");
        assert_eq!(
            tirana.add(at(tz, "2026-11-30 06:30"), hours(1)),
            Some(at(tz, "2026-11-30 10:00")),
            "before opening"
        );
        assert_eq!(
            tirana.add(at(tz, "2026-12-05 12:00"), hours(16)),
            Some(at(tz, "2026-12-08 17:00")),
            "from a Saturday"
        );
        let mut with_holiday = tirana.clone();
        with_holiday.holidays.insert(NaiveDate::from_ymd_opt(2026, 12, 7).unwrap());
        assert_eq!(with_holiday.add(at(tz, "2026-12-04 16:00"), hours(2)), Some(at(tz, "2026-12-08 10:00")), "holiday");
    }

    #[test]
    fn daylight_saving_changes() {
        let belgrade = BusinessCalendar::standard(chrono_tz::Europe::Belgrade);
        let tz = belgrade.time_zone;
        // Spring forward on Sunday 2026-03-29: Friday 16:00 (UTC+1) + 2h = Monday 10:00 (UTC+2).
        let due = belgrade.add(at(tz, "2026-03-27 16:00"), hours(2)).unwrap();
        assert_eq!(due, Utc.with_ymd_and_hms(2026, 3, 30, 8, 0, 0).unwrap());
        // Fall back on Sunday 2026-10-25: Friday 16:00 (UTC+2) + 2h = Monday 10:00 (UTC+1).
        let due = belgrade.add(at(tz, "2026-10-23 16:00"), hours(2)).unwrap();
        assert_eq!(due, Utc.with_ymd_and_hms(2026, 10, 26, 9, 0, 0).unwrap());
        // A window that crosses the change itself: 01:00 to 05:00 on the spring-forward night is 3 hours long.
        let mut night = BusinessCalendar::standard(tz);
        let shift = WorkingHours::new(60, 5 * 60).unwrap();
        night.week = [Some(shift); 7];
        let sunday = at(tz, "2026-03-29 01:00");
        assert_eq!(night.between(sunday, at(tz, "2026-03-29 05:00")), hours(3));
        let autumn = at(tz, "2026-10-25 01:00");
        assert_eq!(night.between(autumn, at(tz, "2026-10-25 05:00")), hours(5), "an hour repeats");
    }

    #[test]
    fn offices_count_in_their_own_time_zone() {
        let istanbul = BusinessCalendar::standard(chrono_tz::Europe::Istanbul);
        let tirana = BusinessCalendar::standard(chrono_tz::Europe::Tirane);
        // The same instant, Monday 2026-11-30 06:30 UTC: 09:30 in Istanbul, 07:30 in Tirana.
        let instant = Utc.with_ymd_and_hms(2026, 11, 30, 6, 30, 0).unwrap();
        assert_eq!(istanbul.add(instant, hours(1)), Some(Utc.with_ymd_and_hms(2026, 11, 30, 7, 30, 0).unwrap()));
        assert_eq!(tirana.add(instant, hours(1)), Some(Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap()));
    }

    #[test]
    fn between_undoes_add() {
        let skopje = BusinessCalendar::standard(chrono_tz::Europe::Skopje);
        let start = Utc.with_ymd_and_hms(2026, 12, 3, 14, 17, 0).unwrap();
        for h in [0, 1, 5, 8, 9, 17, 40, 100] {
            let due = skopje.add(start, hours(h)).unwrap();
            assert_eq!(skopje.between(start, due), hours(h), "{h}h");
        }
        let around_the_clock = BusinessCalendar { week: [WorkingHours::new(0, MINUTES_PER_DAY); 7], ..skopje.clone() };
        assert_eq!(around_the_clock.add(start, hours(48)), Some(start + hours(48)), "24/7 is wall-clock time");
        assert_eq!(around_the_clock.between(start, start + hours(30)), hours(30));
        let closed = BusinessCalendar { week: [None; 7], ..skopje };
        assert_eq!(closed.add(start, hours(1)), None, "no working time ahead");
    }
}
