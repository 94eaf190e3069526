//! The change feed (`GET /api/v1/events`): every ticket event a caller may see, across tickets, behind a cursor
//! that never skips or repeats an event.
//!
//! Events are read in `(tx, id)` order (the writing transaction, then the id), and only up to the oldest
//! transaction still running: a transaction that started earlier but commits later (and so holds smaller ids than
//! events already visible) is waited for, not skipped. A read looks at most [`SCAN`] committed events past the
//! cursor; the cursor moves past the ones the caller may not see, so a requester of a small organisation in a
//! busy network still pages quickly, and an empty page gives back the same cursor.
//!
//! One ticket's events come in the order its changes committed because every change locks the ticket row
//! (`Ticket::lock_visible`, `FOR UPDATE`, which assigns the transaction its id) before it writes anything: a
//! change that waits for another's lock gets a later transaction id. New code that writes events must keep that
//! order (lock the ticket first).

use diesel::PgConnection;
use serde::{Deserialize, Serialize};

use crate::domain::caller::Caller;
use crate::domain::cursor;
use crate::domain::error::DomainResult;
use crate::models::TicketEvent;
use crate::models::ticket_event::{EventKind, FeedFilter, FeedPosition};

/// Most committed events one read of the feed looks at.
pub const SCAN: i64 = 5000;

/// A page of the feed.
#[derive(Debug)]
pub struct FeedPage {
    /// The events, in feed order.
    pub events: Vec<TicketEvent>,
    /// Where the next read continues (the same cursor when nothing new was seen).
    pub next_cursor: String,
}

/// The cursor's content; `v` leaves room for another encoding later.
#[derive(Debug, Serialize, Deserialize)]
struct FeedCursor {
    v: u8,
    tx: i64,
    id: i64,
}

/// Decodes a feed cursor (`None`: from the start).
fn decode(raw: Option<&str>) -> DomainResult<FeedPosition> {
    match raw.map(str::trim) {
        None | Some("") => Ok(FeedPosition::default()),
        Some(raw) => {
            let position: FeedCursor = cursor::decode(raw)?;
            Ok(FeedPosition { tx: position.tx, id: position.id })
        }
    }
}

fn encode(position: FeedPosition) -> String {
    cursor::encode(&FeedCursor { v: 1, tx: position.tx, id: position.id })
}

/// The events after `after` that `caller` may see, at most `limit`, of the `kinds` given (empty: all).
pub fn read(
    conn: &mut PgConnection,
    caller: &Caller,
    after: Option<&str>,
    kinds: Vec<EventKind>,
    limit: i64,
) -> DomainResult<FeedPage> {
    let after = decode(after)?;
    let Some(window_end) = TicketEvent::feed_window_end(conn, after, SCAN)? else {
        return Ok(FeedPage { events: Vec::new(), next_cursor: encode(after) });
    };
    let filter = FeedFilter { scope: caller.ticket_scope(), include_internal: caller.is_staff(), kinds };
    let mut rows = TicketEvent::feed(conn, after, window_end, &filter, limit.saturating_add(1))?;
    let page = usize::try_from(limit).unwrap_or(usize::MAX);
    // A full page continues after its last event; a short one has seen the whole window.
    let next = if rows.len() > page {
        rows.truncate(page);
        rows.last().map_or(window_end, |(position, _)| *position)
    } else {
        window_end
    };
    Ok(FeedPage { events: rows.into_iter().map(|(_, event)| event).collect(), next_cursor: encode(next) })
}
