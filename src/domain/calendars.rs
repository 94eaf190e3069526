//! Business calendars of offices: working hours per weekday in the office's time zone, and public holidays.
//! Service-level due times are counted in them (see [`crate::domain::sla`]).

use std::collections::BTreeSet;

use chrono::NaiveDate;
use chrono_tz::Tz;
use diesel::PgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::business_time::{BusinessCalendar, MINUTES_PER_DAY, WorkingHours};
use crate::domain::caller::Caller;
use crate::domain::error::{DomainError, DomainResult, FieldError};
use crate::domain::values::{self, Checks, NAME_MAX};
use crate::models::{Holiday, Office};

/// The working hours of one day, in the office's local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DayHours {
    /// When work starts, `HH:MM`.
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "09:00")]
    pub opens: String,
    /// When work ends, `HH:MM` after `opens`; `24:00` is midnight.
    #[schema(pattern = "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$", example = "17:00")]
    pub closes: String,
}

/// Working hours per weekday; a day that is absent or `null` is a day off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkingWeek {
    /// Monday.
    pub monday: Option<DayHours>,
    /// Tuesday.
    pub tuesday: Option<DayHours>,
    /// Wednesday.
    pub wednesday: Option<DayHours>,
    /// Thursday.
    pub thursday: Option<DayHours>,
    /// Friday.
    pub friday: Option<DayHours>,
    /// Saturday.
    pub saturday: Option<DayHours>,
    /// Sunday.
    pub sunday: Option<DayHours>,
}

/// An office's business calendar: its time zone, working hours and holidays.
#[derive(Debug)]
pub struct CalendarView {
    /// The office.
    pub office_id: Uuid,
    /// The office's IANA time zone, in which the hours and dates are meant.
    pub time_zone: String,
    /// Working hours per weekday.
    pub working_hours: WorkingWeek,
    /// Public holidays, in date order.
    pub holidays: Vec<Holiday>,
}

/// A new public holiday.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateHoliday {
    /// The local date, `YYYY-MM-DD`.
    #[schema(value_type = String, format = Date, example = "2026-11-28")]
    pub date: NaiveDate,
    /// What it is.
    #[schema(min_length = 1, max_length = 200, example = "Independence Day")]
    pub name: String,
}

/// Minutes after midnight of `HH:MM` (`24:00` allowed when `end_of_day`).
fn parse_minute(text: &str, end_of_day: bool) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    let digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(hours) || !digits(minutes) {
        return None;
    }
    let (hours, minutes): (u16, u16) = (hours.parse().ok()?, minutes.parse().ok()?);
    let total = hours.checked_mul(60)?.checked_add(minutes)?;
    let valid = minutes < 60 && (total < MINUTES_PER_DAY || (end_of_day && total == MINUTES_PER_DAY));
    valid.then_some(total)
}

impl WorkingWeek {
    fn days(&self) -> [(&'static str, &Option<DayHours>); 7] {
        [
            ("monday", &self.monday),
            ("tuesday", &self.tuesday),
            ("wednesday", &self.wednesday),
            ("thursday", &self.thursday),
            ("friday", &self.friday),
            ("saturday", &self.saturday),
            ("sunday", &self.sunday),
        ]
    }

    /// The hours of each weekday, Monday first, or what is wrong with them.
    pub fn parse(&self) -> Result<[Option<WorkingHours>; 7], Vec<FieldError>> {
        let mut week = [None; 7];
        let mut errors = Vec::new();
        for (index, (day, hours)) in self.days().into_iter().enumerate() {
            let Some(hours) = hours else { continue };
            let opens = parse_minute(&hours.opens, false);
            let closes = parse_minute(&hours.closes, true);
            match (opens, closes) {
                (None, _) => errors.push(FieldError::new(format!("{day}.opens"), "must be a time HH:MM")),
                (_, None) => errors.push(FieldError::new(format!("{day}.closes"), "must be a time HH:MM or 24:00")),
                (Some(opens), Some(closes)) => match WorkingHours::new(opens, closes) {
                    Some(parsed) => week[index] = Some(parsed),
                    None => errors.push(FieldError::new(format!("{day}.closes"), "must be after opens")),
                },
            }
        }
        if errors.is_empty() { Ok(week) } else { Err(errors) }
    }
}

/// The business calendar of an office, ready for due-time arithmetic.
pub fn load(conn: &mut PgConnection, office_id: Uuid) -> DomainResult<BusinessCalendar> {
    let (time_zone, hours, holidays) =
        Office::calendar_columns(conn, office_id)?.ok_or(DomainError::NotFound("office"))?;
    Ok(calendar_of(&time_zone, hours, holidays.into_iter().collect()))
}

/// A calendar from stored columns; anything unreadable falls back to UTC and office hours, and is logged.
pub fn calendar_of(time_zone: &str, hours: serde_json::Value, holidays: BTreeSet<NaiveDate>) -> BusinessCalendar {
    let zone: Tz = time_zone.parse().unwrap_or_else(|_| {
        tracing::error!(time_zone, "an office has an unknown time zone; counting business time in UTC");
        Tz::UTC
    });
    let standard = BusinessCalendar::standard(zone);
    let week = serde_json::from_value::<WorkingWeek>(hours).ok().and_then(|week| week.parse().ok());
    match week {
        Some(week) => BusinessCalendar { week, holidays, ..standard },
        None => {
            tracing::error!(time_zone, "an office has unreadable working hours; using Monday to Friday 9 to 17");
            BusinessCalendar { holidays, ..standard }
        }
    }
}

/// The calendar of an office as the API shows it (anyone signed in: offices are public contact points).
pub fn get(conn: &mut PgConnection, office_id: Uuid) -> DomainResult<CalendarView> {
    let (time_zone, hours, _) = Office::calendar_columns(conn, office_id)?.ok_or(DomainError::NotFound("office"))?;
    Ok(CalendarView {
        office_id,
        time_zone,
        working_hours: serde_json::from_value(hours).unwrap_or_default(),
        holidays: Holiday::of_office(conn, office_id)?,
    })
}

/// Replaces the working hours of an office (admins and coordinators). Tickets already running keep their due
/// times until they are next re-timed (a priority change, a resume after pending).
pub fn set_working_hours(
    conn: &mut PgConnection,
    caller: &Caller,
    office_id: Uuid,
    week: WorkingWeek,
) -> DomainResult<CalendarView> {
    caller.require_manager()?;
    let parsed = week.parse().map_err(DomainError::Invalid)?;
    if parsed.iter().all(Option::is_none) {
        return Err(DomainError::invalid("working_hours", "at least one day must have working hours"));
    }
    let stored = serde_json::to_value(&week).map_err(|e| DomainError::Internal(e.into()))?;
    if !Office::set_working_hours(conn, office_id, &stored)? {
        return Err(DomainError::NotFound("office"));
    }
    get(conn, office_id)
}

/// Adds a public holiday to an office (admins and coordinators).
pub fn add_holiday(
    conn: &mut PgConnection,
    caller: &Caller,
    office_id: Uuid,
    input: CreateHoliday,
) -> DomainResult<Holiday> {
    caller.require_manager()?;
    let mut checks = Checks::default();
    let name = checks.check(values::bounded_text("name", &input.name, NAME_MAX, false));
    checks.finish()?;
    Office::find(conn, office_id)?.ok_or(DomainError::NotFound("office"))?;
    Ok(Holiday::insert(conn, office_id, input.date, &name)?)
}

/// Removes a public holiday from an office (admins and coordinators).
pub fn remove_holiday(conn: &mut PgConnection, caller: &Caller, office_id: Uuid, date: NaiveDate) -> DomainResult<()> {
    caller.require_manager()?;
    match Holiday::delete(conn, office_id, date)? {
        0 => Err(DomainError::NotFound("holiday")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_parse_and_refuse_nonsense() {
        assert_eq!(parse_minute("09:30", false), Some(570));
        assert_eq!(parse_minute("24:00", true), Some(1440));
        for bad in ["24:00", "9:00", "09:60", "25:00", "ab:cd", "", "09-00", "+9:00"] {
            assert_eq!(parse_minute(bad, false), None, "{bad}");
        }
        let day = |opens: &str, closes: &str| Some(DayHours { opens: opens.into(), closes: closes.into() });
        let week = WorkingWeek { monday: day("08:00", "16:00"), saturday: day("00:00", "24:00"), ..Default::default() };
        let parsed = week.parse().unwrap();
        assert_eq!(parsed[0], WorkingHours::new(480, 960));
        assert_eq!(parsed[5], WorkingHours::new(0, 1440));
        assert_eq!(parsed[1], None);
        let backwards = WorkingWeek { friday: day("17:00", "09:00"), ..Default::default() };
        assert_eq!(backwards.parse().unwrap_err()[0].field, "friday.closes");
    }

    #[test]
    fn the_stored_default_is_monday_to_friday() {
        let stored = serde_json::json!({
            "monday": {"opens": "09:00", "closes": "17:00"}, "tuesday": {"opens": "09:00", "closes": "17:00"},
            "wednesday": {"opens": "09:00", "closes": "17:00"}, "thursday": {"opens": "09:00", "closes": "17:00"},
            "friday": {"opens": "09:00", "closes": "17:00"}
        });
        let calendar = calendar_of("Europe/Tirane", stored, BTreeSet::new());
        assert_eq!(calendar.week, BusinessCalendar::standard(chrono_tz::Europe::Tirane).week);
    }
}
