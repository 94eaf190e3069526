//! `/api/v1/offices`: the regional and national offices.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use utoipa::openapi::schema::{Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

use crate::db::{self, DbPool};
use crate::domain::calendars::{self, CreateHoliday, WorkingWeek};
use crate::domain::caller::Caller;
use crate::domain::offices::{self, CreateOffice, UpdateOffice};
use crate::error::ApiResult;
use crate::routes::extract::ApiJson;
use crate::routes::openapi::rules;
use crate::views::{CalendarView, HolidayView, OfficeView};

/// The documented body of `PUT /api/v1/offices/{id}/calendar/working-hours`: a [`WorkingWeek`] with at least one
/// working day (the check of [`calendars::set_working_hours`]).
pub struct WorkingWeekInput;

impl PartialSchema for WorkingWeekInput {
    fn schema() -> RefOr<Schema> {
        let days = [
            ("monday", "Monday"),
            ("tuesday", "Tuesday"),
            ("wednesday", "Wednesday"),
            ("thursday", "Thursday"),
            ("friday", "Friday"),
            ("saturday", "Saturday"),
            ("sunday", "Sunday"),
        ]
        .map(|(field, day)| {
            rules::shape(&format!("Works on {day}"))
                .property(field, rules::set(Type::Object))
                .required(field)
                .build()
                .into()
        });
        rules::all(
            "The new working hours: days left out (or `null`) are days off, and at least one day has hours.",
            Ref::from_schema_name(WorkingWeek::name()),
            [rules::at_least_one("At least one working day", days)],
        )
        .into()
    }
}

impl ToSchema for WorkingWeekInput {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((WorkingWeek::name().into_owned(), WorkingWeek::schema()));
        WorkingWeek::schemas(schemas);
    }
}

/// Create an office (admins and coordinators).
///
/// The code is upper-cased and unique, the time zone an IANA name, and at most one office is the regional one. Answers
/// the office, with its URL in `Location`.
#[utoipa::path(
    post, path = "/api/v1/offices", tag = "offices", operation_id = "createOffice", request_body = CreateOffice,
    responses((status = 201, description = "Created", body = OfficeView, headers(("Location" = String))))
)]
pub async fn create(pool: web::Data<DbPool>, caller: Caller, body: ApiJson<CreateOffice>) -> ApiResult<HttpResponse> {
    let office = db::run(&pool, move |conn| offices::create(conn, &caller, body.0)).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/offices/{}", office.id)))
        .json(OfficeView::from(office)))
}

/// List the offices.
///
/// Every office, the regional one first. Anyone signed in may list them: offices are public contact points.
#[utoipa::path(
    get, path = "/api/v1/offices", tag = "offices", operation_id = "listOffices",
    responses((status = 200, description = "The offices", body = Vec<OfficeView>))
)]
pub async fn list(pool: web::Data<DbPool>, _caller: Caller) -> ApiResult<HttpResponse> {
    let offices = db::run(&pool, offices::list).await?;
    Ok(HttpResponse::Ok().json(offices.into_iter().map(OfficeView::from).collect::<Vec<_>>()))
}

/// Read an office.
///
/// Anyone signed in may read an office: offices are public contact points.
#[utoipa::path(
    get, path = "/api/v1/offices/{id}", tag = "offices", operation_id = "getOffice",
    params(("id" = Uuid, Path, description = "Office id")),
    responses((status = 200, description = "The office", body = OfficeView))
)]
pub async fn get(pool: web::Data<DbPool>, _caller: Caller, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let office = db::run(&pool, move |conn| offices::get(conn, id)).await?;
    Ok(HttpResponse::Ok().json(OfficeView::from(office)))
}

/// Change an office (admins and coordinators).
///
/// Absent fields stay as they are; the fields given are checked as at creation.
#[utoipa::path(
    patch, path = "/api/v1/offices/{id}", tag = "offices", operation_id = "updateOffice",
    params(("id" = Uuid, Path, description = "Office id")),
    request_body = UpdateOffice,
    responses((status = 200, description = "The changed office", body = OfficeView))
)]
pub async fn update(
    pool: web::Data<DbPool>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: ApiJson<UpdateOffice>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let office = db::run(&pool, move |conn| offices::update(conn, &caller, id, body.0)).await?;
    Ok(HttpResponse::Ok().json(OfficeView::from(office)))
}

/// Read an office's business calendar.
///
/// Working hours per weekday in the office's time zone, and public holidays: the service-level due times of the
/// office's tickets are counted in this calendar. Anyone signed in may read it.
#[utoipa::path(
    get, path = "/api/v1/offices/{id}/calendar", tag = "service levels", operation_id = "getOfficeCalendar",
    params(("id" = Uuid, Path, description = "Office id")),
    responses((status = 200, description = "The calendar", body = CalendarView))
)]
pub async fn calendar(pool: web::Data<DbPool>, _caller: Caller, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let calendar = db::run(&pool, move |conn| calendars::get(conn, id)).await?;
    Ok(HttpResponse::Ok().json(CalendarView::from(calendar)))
}

/// Replace an office's working hours (admins and coordinators).
///
/// Days left out are days off, at least one day has hours, and `24:00` closes at midnight. Tickets already running keep
/// their due times until they are next re-timed.
#[utoipa::path(
    put, path = "/api/v1/offices/{id}/calendar/working-hours", tag = "service levels",
    operation_id = "replaceOfficeWorkingHours",
    params(("id" = Uuid, Path, description = "Office id")), request_body = WorkingWeekInput,
    responses((status = 200, description = "The calendar", body = CalendarView))
)]
pub async fn set_working_hours(
    pool: web::Data<DbPool>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: ApiJson<WorkingWeek>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let calendar = db::run(&pool, move |conn| calendars::set_working_hours(conn, &caller, id, body.0)).await?;
    Ok(HttpResponse::Ok().json(CalendarView::from(calendar)))
}

/// Add a public holiday to an office (admins and coordinators).
///
/// The date, in the office's time zone, is a day off in its business calendar.
#[utoipa::path(
    post, path = "/api/v1/offices/{id}/calendar/holidays", tag = "service levels", operation_id = "addOfficeHoliday",
    params(("id" = Uuid, Path, description = "Office id")), request_body = CreateHoliday,
    responses((status = 201, description = "Added", body = HolidayView))
)]
pub async fn add_holiday(
    pool: web::Data<DbPool>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: ApiJson<CreateHoliday>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let holiday = db::run(&pool, move |conn| calendars::add_holiday(conn, &caller, id, body.0)).await?;
    Ok(HttpResponse::Created().json(HolidayView::from(holiday)))
}

/// Remove a public holiday from an office (admins and coordinators).
///
/// The date follows the working hours of its weekday again; 404 when the office has no holiday on that date.
#[utoipa::path(
    delete, path = "/api/v1/offices/{id}/calendar/holidays/{date}", tag = "service levels",
    operation_id = "removeOfficeHoliday",
    params(("id" = Uuid, Path, description = "Office id"), ("date" = String, Path, format = Date, description = "The holiday's date")),
    responses((status = 204, description = "Removed"))
)]
pub async fn remove_holiday(
    pool: web::Data<DbPool>,
    caller: Caller,
    path: web::Path<(Uuid, NaiveDate)>,
) -> ApiResult<HttpResponse> {
    let (id, date) = path.into_inner();
    db::run(&pool, move |conn| calendars::remove_holiday(conn, &caller, id, date)).await?;
    Ok(HttpResponse::NoContent().finish())
}
