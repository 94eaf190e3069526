//! Bulk updates: one change applied to up to 500 tickets, each with the rules of a single `PATCH` (a ticket the
//! change is refused for is reported with the reason, the others apply), one audit event per change per ticket,
//! and the notifications coalesced (one email per recipient). Safe to retry with an `Idempotency-Key`.

use std::collections::HashSet;

use diesel::{Connection, PgConnection};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::custom_fields::{self, Fields};
use crate::domain::edit::Edit;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::EventDetails;
use crate::domain::notifications::{self, BulkChange};
use crate::domain::tags;
use crate::domain::tickets;
use crate::models::bulk_request::BulkRequest;
use crate::models::ticket::TicketKey;
use crate::models::{Office, Ticket, User};
use crate::vocabulary::{Priority, TicketStatus};

/// The most tickets one bulk update changes.
pub const BULK_MAX: usize = 500;

/// One change for many tickets.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkUpdate {
    /// The tickets (1 to 500 uuids; a repeated one counts once).
    pub ids: Vec<Uuid>,
    /// The change.
    pub changes: BulkChanges,
}

/// The change of a bulk update; absent fields stay as they are on each ticket.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkChanges {
    /// The new status (each ticket's status machine decides, as for `PATCH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TicketStatus>,
    /// The new priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// The new assignee (an active staff member); `null` unassigns.
    #[serde(default, deserialize_with = "crate::domain::patch::nullable", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Uuid>)]
    pub assignee_id: Option<Option<Uuid>>,
    /// Move the tickets to this office's queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office_id: Option<Uuid>,
    /// Tags to add.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_tags: Vec<String>,
    /// Tags to remove.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_tags: Vec<String>,
    /// Custom field values to set; `null` removes a value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
}

impl BulkChanges {
    fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.priority.is_none()
            && self.assignee_id.is_none()
            && self.office_id.is_none()
            && self.add_tags.is_empty()
            && self.remove_tags.is_empty()
            && self.custom_fields.as_ref().is_none_or(|fields| fields.is_empty())
    }
}

/// The answer to a bulk update, and whether it is the replay of an earlier one.
#[derive(Debug)]
pub struct BulkAnswer {
    /// The answer's JSON (`updated`, `unchanged`, `refused`, `results`).
    pub body: serde_json::Value,
    /// Whether it was given before to the same request under the same `Idempotency-Key`.
    pub replayed: bool,
}

/// The change, checked once for all tickets.
struct Checked {
    add_tags: Vec<String>,
    remove_tags: Vec<String>,
    fields: Fields,
    field_changes: Vec<(String, Option<serde_json::Value>, bool)>,
}

fn check(conn: &mut PgConnection, input: &BulkUpdate) -> DomainResult<Checked> {
    if input.ids.is_empty() || input.ids.len() > BULK_MAX {
        return Err(DomainError::invalid("ids", format!("must list 1 to {BULK_MAX} tickets")));
    }
    let changes = &input.changes;
    if changes.is_empty() {
        return Err(DomainError::invalid("changes", "must change something"));
    }
    let add_tags = tags::normalize_all("changes.add_tags", &changes.add_tags)?;
    let remove_tags = tags::normalize_all("changes.remove_tags", &changes.remove_tags)?;
    if let Some(Some(id)) = changes.assignee_id {
        let eligible = User::find(conn, id)?.is_some_and(|user| user.active && user.role.is_staff());
        if !eligible {
            return Err(DomainError::invalid("changes.assignee_id", "must be an active staff member"));
        }
    }
    if let Some(office) = changes.office_id
        && Office::find(conn, office)?.is_none()
    {
        return Err(DomainError::invalid("changes.office_id", "no such office"));
    }
    // Also what the answer's tickets show: the values of active fields only.
    let fields = Fields::load(conn)?;
    let field_changes = match &changes.custom_fields {
        Some(values) => fields.check(values, false, true).map_err(|error| match error {
            DomainError::Invalid(errors) => DomainError::Invalid(
                errors
                    .into_iter()
                    .map(|mut e| {
                        e.field = format!("changes.{}", e.field);
                        e
                    })
                    .collect(),
            ),
            other => other,
        })?,
        None => Vec::new(),
    };
    Ok(Checked { add_tags, remove_tags, fields, field_changes })
}

/// Applies the change to one ticket, as `PATCH` would; `None` when it changed nothing.
fn apply_one(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
    changes: &BulkChanges,
    checked: &Checked,
) -> DomainResult<(Ticket, Option<BulkChange>)> {
    // Locked already (all of them, in id order); read under the caller's scope, a merged one as itself.
    let ticket =
        Ticket::lock_exact(conn, TicketKey::Id(id), caller.ticket_scope())?.ok_or(DomainError::NotFound("ticket"))?;
    tickets::refuse_merged(&ticket)?;
    let mut edit = Edit::new(&ticket, Some(caller.id()));
    if let Some(status) = changes.status {
        edit.set_status(Some(caller.role()), status)?;
    }
    if let Some(priority) = changes.priority {
        edit.set_priority(priority, EventDetails::None {});
    }
    if let Some(assignee) = changes.assignee_id {
        edit.set_assignee(assignee, EventDetails::None {});
    }
    if let Some(office) = changes.office_id {
        edit.set_office(office);
    }
    if !checked.add_tags.is_empty() || !checked.remove_tags.is_empty() {
        tags::add_remove(&mut edit, &checked.add_tags, &checked.remove_tags)?;
    }
    custom_fields::apply(&mut edit, checked.field_changes.clone());
    custom_fields::check_resolution(&edit, &checked.fields)?;
    if edit.is_empty() {
        return Ok((ticket, None));
    }
    let (ticket, events) = edit.save_quietly(conn)?;
    let chosen = notifications::choose(conn, &ticket, Some(caller.id()), &events)?;
    Ok((ticket.clone(), Some(BulkChange { ticket, events, chosen })))
}

/// How the answer shows a ticket and a refusal: the API's shapes, which the HTTP layer knows.
#[derive(Debug, Clone, Copy)]
pub struct Answering {
    /// A refusal as a single `PATCH` would answer it: its HTTP status and detail.
    pub refusal: fn(DomainError) -> (u16, String),
    /// A ticket as the API shows it to staff.
    pub ticket: fn(Ticket) -> serde_json::Value,
}

/// Applies `input` for the caller (staff), answering each ticket's outcome as `answering` shows it.
pub fn update(
    conn: &mut PgConnection,
    caller: &Caller,
    input: BulkUpdate,
    idempotency_key: Option<&str>,
    answering: Answering,
) -> DomainResult<BulkAnswer> {
    caller.require_staff()?;
    if let Some(key) = idempotency_key {
        tickets::check_idempotency_key(key).map_err(|error| DomainError::Invalid(vec![error]))?;
    }
    let request_hash = Sha256::digest(serde_json::to_vec(&input).unwrap_or_default()).to_vec();
    conn.transaction(|conn| {
        if let Some(key) = idempotency_key {
            crate::db::advisory_xact_lock(conn, &format!("bulk:{}", caller.id()), key.as_bytes())?;
            if let Some(earlier) = BulkRequest::find(conn, caller.id(), key)? {
                if earlier.request_hash != request_hash {
                    return Err(DomainError::invalid(
                        "Idempotency-Key",
                        "was already used for a different request; use a new key for a new request",
                    ));
                }
                return Ok(BulkAnswer { body: earlier.response, replayed: true });
            }
        }
        let checked = check(conn, &input)?;
        let mut seen = HashSet::new();
        let ids: Vec<Uuid> = input.ids.iter().copied().filter(|id| seen.insert(*id)).collect();
        // Every ticket is locked first, in id order, before any advisor's profile (whose open-ticket count a
        // change moves): so no bulk update deadlocks with another or with a single change.
        let mut order = ids.clone();
        order.sort_unstable();
        Ticket::lock_all(conn, &order)?;
        let mut outcomes = std::collections::HashMap::new();
        let mut changed = Vec::new();
        for id in order {
            let attempt = conn.transaction(|conn| apply_one(conn, caller, id, &input.changes, &checked));
            let outcome = match attempt {
                Ok((mut ticket, Some(change))) => {
                    changed.push(change);
                    checked.fields.redact(&mut ticket.custom_fields, false);
                    json!({"id": id, "outcome": "updated", "status": 200, "ticket": (answering.ticket)(ticket)})
                }
                Ok((mut ticket, None)) => {
                    checked.fields.redact(&mut ticket.custom_fields, false);
                    json!({"id": id, "outcome": "unchanged", "status": 200, "ticket": (answering.ticket)(ticket)})
                }
                // A failure of the service (the database went away) fails the whole update; a refusal is reported.
                Err(error @ (DomainError::Internal(_) | DomainError::Unavailable(_))) => return Err(error),
                Err(error) => {
                    let (status, detail) = (answering.refusal)(error);
                    json!({"id": id, "outcome": "refused", "status": status, "detail": detail})
                }
            };
            outcomes.insert(id, outcome);
        }
        notifications::record_bulk(conn, changed)?;
        let results: Vec<serde_json::Value> = ids.iter().filter_map(|id| outcomes.remove(id)).collect();
        let count = |outcome: &str| results.iter().filter(|r| r["outcome"] == outcome).count();
        let body = json!({
            "updated": count("updated"), "unchanged": count("unchanged"), "refused": count("refused"),
            "results": results,
        });
        if let Some(key) = idempotency_key {
            BulkRequest::insert(conn, caller.id(), key, &request_hash, &body)?;
        }
        Ok(BulkAnswer { body, replayed: false })
    })
}
