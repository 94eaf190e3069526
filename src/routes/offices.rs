//! `/api/v1/offices`: the regional and national offices.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use uuid::Uuid;

use crate::db::{self, DbPool};
use crate::domain::calendars::{self, CreateHoliday, WorkingWeek};
use crate::domain::caller::Caller;
use crate::domain::offices::{self, CreateOffice, UpdateOffice};
use crate::error::ApiResult;
use crate::routes::extract::ApiJson;
use crate::views::{CalendarView, HolidayView, OfficeView};

/// Create an office (admins and coordinators).
#[utoipa::path(
    post, path = "/api/v1/offices", tag = "offices", request_body = CreateOffice,
    responses((status = 201, description = "Created", body = OfficeView, headers(("Location" = String))))
)]
pub async fn create(pool: web::Data<DbPool>, caller: Caller, body: ApiJson<CreateOffice>) -> ApiResult<HttpResponse> {
    let office = db::run(&pool, move |conn| offices::create(conn, &caller, body.0)).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/offices/{}", office.id)))
        .json(OfficeView::from(office)))
}

/// List every office, the regional one first.
#[utoipa::path(
    get, path = "/api/v1/offices", tag = "offices",
    responses((status = 200, description = "The offices", body = Vec<OfficeView>))
)]
pub async fn list(pool: web::Data<DbPool>, _caller: Caller) -> ApiResult<HttpResponse> {
    let offices = db::run(&pool, offices::list).await?;
    Ok(HttpResponse::Ok().json(offices.into_iter().map(OfficeView::from).collect::<Vec<_>>()))
}

/// Read an office.
#[utoipa::path(
    get, path = "/api/v1/offices/{id}", tag = "offices", params(("id" = Uuid, Path, description = "Office id")),
    responses((status = 200, description = "The office", body = OfficeView))
)]
pub async fn get(pool: web::Data<DbPool>, _caller: Caller, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let office = db::run(&pool, move |conn| offices::get(conn, id)).await?;
    Ok(HttpResponse::Ok().json(OfficeView::from(office)))
}

/// Change an office (admins and coordinators).
#[utoipa::path(
    patch, path = "/api/v1/offices/{id}", tag = "offices", params(("id" = Uuid, Path, description = "Office id")),
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

/// Read an office's business calendar: working hours per weekday in its time zone, and public holidays.
#[utoipa::path(
    get, path = "/api/v1/offices/{id}/calendar", tag = "service levels",
    params(("id" = Uuid, Path, description = "Office id")),
    responses((status = 200, description = "The calendar", body = CalendarView))
)]
pub async fn calendar(pool: web::Data<DbPool>, _caller: Caller, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let calendar = db::run(&pool, move |conn| calendars::get(conn, id)).await?;
    Ok(HttpResponse::Ok().json(CalendarView::from(calendar)))
}

/// Replace an office's working hours (admins and coordinators). Days left out are days off; `24:00` closes at
/// midnight.
#[utoipa::path(
    put, path = "/api/v1/offices/{id}/calendar/working-hours", tag = "service levels",
    params(("id" = Uuid, Path, description = "Office id")), request_body = WorkingWeek,
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
#[utoipa::path(
    post, path = "/api/v1/offices/{id}/calendar/holidays", tag = "service levels",
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
#[utoipa::path(
    delete, path = "/api/v1/offices/{id}/calendar/holidays/{date}", tag = "service levels",
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
