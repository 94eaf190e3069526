//! Offices and their business calendars as the API shows them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::calendars::{self, WorkingWeek};
use crate::models::{Holiday, Office};

/// An office of the network.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Office)]
pub struct OfficeView {
    /// Identifier.
    pub id: Uuid,
    /// Short unique code, such as `AL` or `REGIONAL`.
    pub code: String,
    /// Display name.
    pub name: String,
    /// ISO 3166-1 alpha-2 country (`XK` for Kosovo).
    pub country: String,
    /// IANA time zone of the office, such as `Europe/Tirane`.
    pub time_zone: String,
    /// Where the office can be reached.
    pub contact_email: String,
    /// Whether this is the regional office (the fallback for countries without a national office).
    pub is_regional: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<Office> for OfficeView {
    fn from(office: Office) -> Self {
        OfficeView {
            id: office.id,
            code: office.code,
            name: office.name,
            country: office.country,
            time_zone: office.time_zone,
            contact_email: office.contact_email,
            is_regional: office.is_regional,
            created_at: office.created_at,
            updated_at: office.updated_at,
        }
    }
}

/// A public holiday of an office.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Holiday)]
pub struct HolidayView {
    /// The office.
    pub office_id: Uuid,
    /// The local date.
    pub date: NaiveDate,
    /// What it is, such as "Independence Day".
    pub name: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

impl From<Holiday> for HolidayView {
    fn from(holiday: Holiday) -> Self {
        HolidayView {
            office_id: holiday.office_id,
            date: holiday.date,
            name: holiday.name,
            created_at: holiday.created_at,
        }
    }
}

/// An office's business calendar, as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarView {
    /// The office.
    pub office_id: Uuid,
    /// The office's IANA time zone, in which the hours and dates are meant.
    pub time_zone: String,
    /// Working hours per weekday.
    pub working_hours: WorkingWeek,
    /// Public holidays, in date order.
    pub holidays: Vec<HolidayView>,
}

impl From<calendars::CalendarView> for CalendarView {
    fn from(calendar: calendars::CalendarView) -> Self {
        CalendarView {
            office_id: calendar.office_id,
            time_zone: calendar.time_zone,
            working_hours: calendar.working_hours,
            holidays: calendar.holidays.into_iter().map(HolidayView::from).collect(),
        }
    }
}
