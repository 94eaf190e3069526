//! `/api/v1/events`: the change feed, every ticket event the caller may see, in the order they were written.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::{self, DbPool};
use crate::domain::caller::Caller;
use crate::domain::feed;
use crate::error::ApiResult;
use crate::models::ticket_event::EventKind;
use crate::routes::{page_limit_within, parse_list};
use crate::views::TicketEventView;

/// Default page size of the feed.
const DEFAULT_LIMIT: i64 = 100;
/// Largest page size of the feed.
const MAX_LIMIT: i64 = 1000;

/// One page of the change feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// The events, in feed order (see the operation).
    pub items: Vec<TicketEventView>,
    /// Pass as `after` to continue. Never null: when nothing new has happened it is the cursor that was passed,
    /// so a client polls with the last cursor it got.
    pub next_cursor: String,
}

/// Where to continue and what to read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadFeed {
    /// `next_cursor` of the previous page; absent: from the first event.
    pub after: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// Only events of these kinds, comma-separated (`status_changed,message_added`).
    #[param(value_type = Option<String>, example = "status_changed,message_added")]
    pub types: Option<String>,
}

/// Read the change feed: every ticket event the caller may see, across tickets.
///
/// Events come by the transaction that wrote them, then by id: one ticket's events in the order its changes
/// committed. Requesters see their organisation's public events, advisors those of their office's queue and their
/// own tickets (staff-only events included), coordinators and admins all. The cursor never skips or repeats an event,
/// even while events are being written concurrently; an empty page gives the same cursor back, so a client keeps
/// it and polls.
#[utoipa::path(
    get, path = "/api/v1/events", tag = "tickets", operation_id = "listEvents", params(ReadFeed),
    responses((status = 200, description = "One page of events", body = EventPage))
)]
pub async fn read(pool: web::Data<DbPool>, caller: Caller, query: web::Query<ReadFeed>) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let limit = page_limit_within(query.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let kinds = parse_list::<EventKind>("types", query.types.as_deref())?;
    let page = db::run(&pool, move |conn| feed::read(conn, &caller, query.after.as_deref(), kinds, limit)).await?;
    let items = page.events.into_iter().map(TicketEventView::from).collect();
    Ok(HttpResponse::Ok().json(EventPage { items, next_cursor: page.next_cursor }))
}
