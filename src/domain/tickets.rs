//! Tickets: submission, the changes staff and requesters may make, and what each change records.
//!
//! Every function here that writes runs in one transaction with its audit events, so a ticket is never
//! half-written and no change goes unrecorded.

use chrono::Utc;
use diesel::{Connection, PgConnection};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::custom_fields::{self, Fields};
use crate::domain::edit::Edit;
use crate::domain::error::{DomainError, DomainResult, FieldError};
use crate::domain::events::{self, EventDetails};
use crate::domain::network::Network;
use crate::domain::notifications;
use crate::domain::routing::{self, RoutingInput};
use crate::domain::saved_replies::{self, ReplySettings};
use crate::domain::sla;
use crate::domain::uploads::{self, UploadLimits};
use crate::domain::values::{self, BODY_MAX, Checks, SUBJECT_MAX};
use crate::domain::{tags, time_spent};
use crate::models::custom_field::RequiredOn;
use crate::models::idempotency_key::IdempotencyKey;
use crate::models::message::NewMessage;
use crate::models::ticket::{AssigneeFilter, NewTicket, TicketFilter, TicketKey, TicketScope};
use crate::models::ticket_event::EventKind;
use crate::models::{Message, Office, Organization, Ticket, TicketEvent, User};
use crate::vocabulary::TicketStatus;
use crate::vocabulary::{Category, Channel, Priority, Role};

/// Longest `Idempotency-Key` accepted.
pub const IDEMPOTENCY_KEY_MAX: usize = 255;

/// Checks an `Idempotency-Key`: 1 to [`IDEMPOTENCY_KEY_MAX`] printable ASCII characters.
pub fn check_idempotency_key(key: &str) -> Result<(), FieldError> {
    let printable = key.chars().all(|c| c.is_ascii_graphic());
    match !key.is_empty() && key.len() <= IDEMPOTENCY_KEY_MAX && printable {
        true => Ok(()),
        false => Err(FieldError::new("Idempotency-Key", "must be 1 to 255 printable ASCII characters")),
    }
}

/// A request for help.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitTicket {
    /// One line on what the request is about.
    #[schema(min_length = 1, max_length = 200, example = "Help with an EU grant application budget")]
    pub subject: String,
    /// The request itself.
    #[schema(
        min_length = 1,
        max_length = 50000,
        example = "We are preparing an application and need help with the budget annex."
    )]
    pub body: String,
    /// The assistance area.
    pub category: Category,
    /// How urgent it is; `normal` when absent.
    pub priority: Option<Priority>,
    /// Staff submitting on behalf of a requester name them here; requesters leave it out.
    pub requester_id: Option<Uuid>,
    /// Files to attach to the request: the caller's own unexpired uploads (`POST /api/v1/uploads`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachment_ids: Vec<Uuid>,
    /// Custom field values by key (`GET /api/v1/custom-fields`); requesters set those shown to them.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    #[schema(value_type = Object, example = json!({"grant_code": "IPA-2026-14"}))]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
}

/// Staff changes to a ticket; absent fields stay as they are. Requesters may only send `status`, to close
/// their ticket or reopen it once resolved.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTicket {
    /// The new status; the status machine decides which are allowed (409 lists them otherwise).
    pub status: Option<TicketStatus>,
    /// The new priority.
    pub priority: Option<Priority>,
    /// The new category.
    pub category: Option<Category>,
    /// The new assignee (an active staff member); `null` unassigns.
    #[serde(default, deserialize_with = "crate::domain::patch::nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub assignee_id: Option<Option<Uuid>>,
    /// Move the ticket to another office's queue.
    pub office_id: Option<Uuid>,
    /// The tags (replaces the set; staff only).
    pub tags: Option<Vec<String>>,
    /// Custom field values to set, by key; `null` removes a value (staff only).
    #[schema(value_type = Option<Object>, example = json!({"grant_code": "IPA-2026-14"}))]
    pub custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A reply or internal note.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostMessage {
    /// The text; with `saved_reply_id`, optional extra text that follows the saved reply's.
    #[serde(default)]
    #[schema(max_length = 50000, example = "Thank you, we will look at the budget annex today.")]
    pub body: String,
    /// Staff: write the message from this saved reply, rendered in the requester's language; its actions (status,
    /// priority, tags) apply with it.
    pub saved_reply_id: Option<Uuid>,
    /// Staff: minutes spent, logged as a time entry with the message (1 to 1440).
    #[schema(minimum = 1, maximum = 1440)]
    pub time_spent_minutes: Option<i32>,
    /// An internal note, visible to staff only (staff only).
    #[serde(default)]
    pub internal: bool,
    /// Staff may change the status with the reply, such as `pending` to wait on the requester.
    pub status: Option<TicketStatus>,
    /// Files to attach: the caller's own unexpired uploads (`POST /api/v1/uploads`), each attached once.
    #[serde(default)]
    pub attachment_ids: Vec<Uuid>,
}

/// Where a submission or message comes from.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    /// The channel.
    pub channel: Channel,
    /// The email it came in as, if any.
    pub inbound_email_id: Option<Uuid>,
    /// The closed ticket a new ticket follows up, if any.
    pub follow_up_of: Option<Uuid>,
}

impl Origin {
    /// Through the JSON API.
    pub fn api() -> Origin {
        Origin { channel: Channel::Api, inbound_email_id: None, follow_up_of: None }
    }
}

/// What a submission did.
#[derive(Debug)]
pub enum Submitted {
    /// A new ticket.
    Created(Ticket),
    /// The same `Idempotency-Key` and request were seen before: the ticket they created.
    Replayed(Ticket),
}

/// Parses a ticket path parameter: a uuid, or a reference number with or without a leading `#`.
pub fn parse_key(raw: &str) -> DomainResult<TicketKey> {
    if let Ok(id) = Uuid::parse_str(raw) {
        return Ok(TicketKey::Id(id));
    }
    let digits = raw.strip_prefix('#').unwrap_or(raw);
    match digits.parse::<i64>() {
        Ok(reference) if reference > 0 && !digits.starts_with('+') => Ok(TicketKey::Reference(reference)),
        // Neither a uuid nor a reference: no ticket has this key.
        _ => Err(DomainError::NotFound("ticket")),
    }
}

/// Submits a ticket for the caller (a requester) or, for staff, on behalf of `requester_id`, routed within
/// `network` (the configuration as the process holds it).
pub fn submit(
    conn: &mut PgConnection,
    network: &Network,
    caller: &Caller,
    input: SubmitTicket,
    idempotency_key: Option<&str>,
    origin: Origin,
    limits: &UploadLimits,
) -> DomainResult<Submitted> {
    let mut checks = Checks::default();
    let subject = checks.check(values::bounded_text("subject", &input.subject, SUBJECT_MAX, false));
    let body = checks.check(values::bounded_text("body", &input.body, BODY_MAX, true));
    if let Some(key) = idempotency_key {
        checks.check(check_idempotency_key(key));
    }
    match (caller.role(), input.requester_id) {
        (Role::Requester, Some(id)) if id != caller.id() => {
            checks.fail("requester_id", "requesters submit for themselves; leave it out")
        }
        (role, None) if role.is_staff() => checks.fail("requester_id", "staff must name the requester they submit for"),
        _ => {}
    }
    checks.finish()?;
    let fields = network.fields();
    let own = caller.role() == Role::Requester;
    let field_values = fields.check(&input.custom_fields, own, false)?;
    let custom_fields: serde_json::Map<String, serde_json::Value> =
        field_values.into_iter().filter_map(|(key, value, _)| value.map(|value| (key, value))).collect();
    let custom_fields = serde_json::Value::Object(custom_fields);
    // Mail cannot carry field values: only a submission through the API must give the required ones.
    let missing = match origin.channel {
        Channel::Api => fields.missing(&custom_fields, RequiredOn::Submission, own),
        _ => Vec::new(),
    };
    if !missing.is_empty() {
        return Err(DomainError::Invalid(missing));
    }
    let requester_id = input.requester_id.unwrap_or(caller.id());
    let request = SubmitTicket { subject, body, requester_id: Some(requester_id), ..input };
    let request_hash = Sha256::digest(serde_json::to_vec(&request).unwrap_or_default()).to_vec();

    conn.transaction(|conn| {
        if let Some(key) = idempotency_key {
            crate::db::advisory_xact_lock(conn, &format!("idempotency:{}", caller.id()), key.as_bytes())?;
            if let Some(earlier) = IdempotencyKey::find(conn, caller.id(), key)? {
                if earlier.request_hash != request_hash {
                    return Err(DomainError::invalid(
                        "Idempotency-Key",
                        "was already used for a different request; use a new key for a new request",
                    ));
                }
                // The ticket as it is now, as the caller may see it (staff may have set fields since).
                let ticket = Ticket::find(conn, earlier.ticket_id)?;
                return Ok(Submitted::Replayed(redact(conn, caller, ticket)?));
            }
        }
        // A requester submitting for themselves was just read with their token.
        let requester = match requester_id == caller.id() {
            true => Some(caller.user.clone()),
            false => User::find(conn, requester_id)?,
        };
        let requester = requester
            .filter(|user| user.role == Role::Requester && user.active)
            .ok_or_else(|| DomainError::invalid("requester_id", "must be an active requester"))?;
        let organization_id = requester
            .organization_id
            .ok_or_else(|| DomainError::invalid("requester_id", "the requester has no organization"))?;
        // A requester's organisation's country was read with their token a moment ago (the token cache's lifetime
        // at most); anyone else's is read now.
        let country = match (&caller.organization_country, requester_id == caller.id()) {
            (Some(country), true) => country.clone(),
            _ => Organization::find(conn, organization_id)?.ok_or(DomainError::NotFound("organization"))?.country,
        };
        let priority = request.priority.unwrap_or(Priority::Normal);
        let policy = network.sla_policy(priority, request.category);
        let decision = routing::route(
            conn,
            network,
            &RoutingInput {
                country: &country,
                category: request.category,
                priority: request.priority.unwrap_or(Priority::Normal),
                organization_id,
                subject: &request.subject,
                body: &request.body,
                language: &requester.language,
            },
            None,
        )?;
        let created_at = Utc::now();
        let timers = sla::for_new_ticket(conn, network, decision.office_id, policy, created_at)?;
        let ticket_id = Uuid::now_v7();
        let message = NewMessage {
            id: Uuid::now_v7(),
            ticket_id,
            author_id: Some(caller.id()),
            body: request.body.clone(),
            internal: false,
            channel: origin.channel,
            inbound_email_id: origin.inbound_email_id,
            unverified_sender: None,
            saved_reply_id: None,
        };
        let ticket = Ticket::insert_with_message(
            conn,
            &NewTicket {
                id: ticket_id,
                subject: request.subject.clone(),
                priority,
                category: request.category,
                country,
                organization_id,
                requester_id,
                assignee_id: decision.assignee_id,
                office_id: decision.office_id,
                channel: origin.channel,
                follow_up_of: origin.follow_up_of,
                created_at,
                sla_policy_id: timers.policy_id,
                first_response_due_at: timers.first_response_due_at,
                first_response_warn_at: timers.first_response_warn_at,
                resolution_due_at: timers.resolution_due_at,
                resolution_warn_at: timers.resolution_warn_at,
                custom_fields,
            },
            &format!("{}\n{}", request.subject, request.body),
            &message,
        )?;
        uploads::attach(conn, caller, limits, message.id, &request.attachment_ids, created_at)?;
        let created = events::event(
            ticket.id,
            Some(caller.id()),
            EventKind::Created,
            (None, Some(TicketStatus::New.to_string())),
            EventDetails::Created {
                message_id: message.id,
                channel: origin.channel,
                follow_up_of: origin.follow_up_of,
            },
        );
        let mut events = vec![created];
        events.extend(routing::decision_events(conn, ticket.id, None, None, &decision)?);
        // The office and, for a requester submitting for themselves, the organisation's name are at hand.
        let known = notifications::Known {
            office: network.office(ticket.office_id),
            organization: caller.organization_name.as_deref().filter(|_| requester_id == caller.id()),
        };
        notifications::record_knowing(conn, &ticket, Some(caller.id()), &events, known)?;
        if let Some(key) = idempotency_key {
            IdempotencyKey::insert(conn, caller.id(), key, &request_hash, ticket.id)?;
        }
        Ok(Submitted::Created(ticket))
    })
}

/// Locks the ticket named by `key` for a change by the caller (a merged ticket stands for the one it was merged
/// into); a merged ticket the caller reaches without seeing its target takes no changes (409).
pub fn lock_for_change(conn: &mut PgConnection, caller: &Caller, key: TicketKey) -> DomainResult<Ticket> {
    let ticket = Ticket::lock_visible(conn, key, caller.ticket_scope())?.ok_or(DomainError::NotFound("ticket"))?;
    refuse_merged(&ticket)?;
    Ok(ticket)
}

/// Refuses a change to a merged ticket (409): changes go to the ticket it was merged into.
pub fn refuse_merged(ticket: &Ticket) -> DomainResult<()> {
    match ticket.merged_into {
        Some(_) => Err(DomainError::Conflict(format!(
            "ticket #{} was merged into another ticket; change that one instead",
            ticket.reference
        ))),
        None => Ok(()),
    }
}

/// One ticket, if the caller may see it (a merged ticket stands for the one it was merged into), as the caller
/// may see it, with the merged ticket the key named when the answer is the ticket it was merged into (its id and
/// reference). `fields` are the active custom fields (the network's, as the process holds them).
pub fn get(
    conn: &mut PgConnection,
    caller: &Caller,
    key: TicketKey,
    fields: &Fields,
) -> DomainResult<(Ticket, Option<(Uuid, i64)>)> {
    let mut ticket = find(conn, caller, key)?;
    fields.redact(&mut ticket.custom_fields, !caller.is_staff());
    let named = match key {
        TicketKey::Id(id) => id == ticket.id,
        TicketKey::Reference(reference) => reference == ticket.reference,
    };
    if named {
        return Ok((ticket, None));
    }
    let asked = Ticket::find_exact(conn, key, caller.ticket_scope())?.map(|asked| (asked.id, asked.reference));
    Ok((ticket, asked))
}

/// The ticket named by `key` if the caller may see it, as stored (for reading what belongs to it).
fn find(conn: &mut PgConnection, caller: &Caller, key: TicketKey) -> DomainResult<Ticket> {
    Ticket::find_visible(conn, key, caller.ticket_scope())?.ok_or(DomainError::NotFound("ticket"))
}

/// A ticket as the caller may see it: the values of active custom fields only, for requesters only of those shown
/// to them (tags and time the views leave out).
pub fn redact(conn: &mut PgConnection, caller: &Caller, mut ticket: Ticket) -> DomainResult<Ticket> {
    if ticket.custom_fields.as_object().is_some_and(|map| !map.is_empty()) {
        Fields::load(conn)?.redact(&mut ticket.custom_fields, !caller.is_staff());
    }
    Ok(ticket)
}

/// What a ticket listing may filter on besides the storage filter: custom field values, as `(key, raw value)`.
pub type FieldFilters = Vec<(String, String)>;

/// One page of the tickets the caller may see; `filter.scope` is replaced by the caller's. `fields` are the
/// active custom fields (the network's, as the process holds them).
pub fn list(
    conn: &mut PgConnection,
    caller: &Caller,
    mut filter: TicketFilter,
    field_filters: FieldFilters,
    fields: &Fields,
) -> DomainResult<Vec<Ticket>> {
    filter.scope = caller.ticket_scope();
    let by_tag = !filter.tags_any.is_empty() || !filter.tags_all.is_empty();
    if by_tag && !caller.is_staff() {
        return Err(DomainError::Forbidden("tags are for staff".to_owned()));
    }
    for (key, raw) in &field_filters {
        filter.custom_fields.push(fields.filter(key, raw, !caller.is_staff())?);
    }
    // Staff always see the tickets assigned to them: `assignee=me` needs no wider scope condition, and without
    // one PostgreSQL walks the (assignee, status, created_at) index straight to the page.
    if caller.is_staff() && filter.assignee == Some(AssigneeFilter::User(caller.id())) {
        filter.scope = TicketScope::All;
    }
    let mut tickets = Ticket::list(conn, &filter)?;
    tickets.iter_mut().for_each(|ticket| fields.redact(&mut ticket.custom_fields, !caller.is_staff()));
    Ok(tickets)
}

/// Changes a ticket's status, priority, category, assignee or office.
pub fn update(conn: &mut PgConnection, caller: &Caller, key: TicketKey, input: UpdateTicket) -> DomainResult<Ticket> {
    if !caller.is_staff() {
        let only_status = input.priority.is_none()
            && input.category.is_none()
            && input.assignee_id.is_none()
            && input.office_id.is_none()
            && input.tags.is_none()
            && input.custom_fields.is_none();
        if !only_status {
            return Err(DomainError::Forbidden("requesters may only close or reopen their ticket".to_owned()));
        }
    }
    conn.transaction(|conn| {
        let ticket = lock_for_change(conn, caller, key)?;
        if !caller.is_staff() && ticket.requester_id != caller.id() {
            return Err(DomainError::Forbidden(
                "only the requester who submitted it may close or reopen a ticket".to_owned(),
            ));
        }
        let mut edit = Edit::new(&ticket, Some(caller.id()));
        if let Some(status) = input.status {
            edit.set_status(Some(caller.role()), status)?;
        }
        if let Some(priority) = input.priority {
            edit.set_priority(priority, EventDetails::None {});
        }
        if let Some(category) = input.category {
            edit.set_category(category);
        }
        if let Some(assignee) = input.assignee_id.filter(|a| *a != ticket.assignee_id) {
            if let Some(id) = assignee {
                let eligible = User::find(conn, id)?.is_some_and(|user| user.active && user.role.is_staff());
                if !eligible {
                    return Err(DomainError::invalid("assignee_id", "must be an active staff member"));
                }
            }
            edit.set_assignee(assignee, EventDetails::None {});
        }
        if let Some(office) = input.office_id.filter(|o| *o != ticket.office_id) {
            if Office::find(conn, office)?.is_none() {
                return Err(DomainError::invalid("office_id", "no such office"));
            }
            edit.set_office(office);
        }
        if let Some(tags) = &input.tags {
            tags::apply(&mut edit, tags::normalize_all("tags", tags)?)?;
        }
        let fields = match (caller.is_staff(), input.custom_fields.is_some() || edit.resolves()) {
            (true, true) => Fields::load(conn)?,
            _ => Fields::default(),
        };
        if let Some(values) = &input.custom_fields {
            custom_fields::apply(&mut edit, fields.check(values, false, true)?);
        }
        custom_fields::check_resolution(&edit, &fields)?;
        if edit.is_empty() {
            return redact(conn, caller, ticket);
        }
        let ticket = edit.save(conn)?;
        redact(conn, caller, ticket)
    })
}

/// Adds a reply or internal note, with the status changes a reply implies:
/// a requester's reply reopens a `pending` or `resolved` ticket, the first public staff reply sets the
/// first-response time and opens a `new` ticket, and staff may set a status with the reply.
pub fn post_message(
    conn: &mut PgConnection,
    caller: &Caller,
    key: TicketKey,
    input: PostMessage,
    origin: Origin,
    limits: &UploadLimits,
    replies: &ReplySettings,
) -> DomainResult<crate::models::message::MessageWithAuthor> {
    let extra = match (input.saved_reply_id, input.body.trim().is_empty()) {
        (Some(_), true) => None,
        _ => {
            Some(values::bounded_text("body", &input.body, BODY_MAX, true).map_err(|e| DomainError::Invalid(vec![e]))?)
        }
    };
    if !caller.is_staff() && (input.saved_reply_id.is_some() || input.time_spent_minutes.is_some()) {
        return Err(DomainError::Forbidden("saved replies and time spent are for staff".to_owned()));
    }
    if let Some(minutes) = input.time_spent_minutes {
        time_spent::check_message_minutes(minutes)?;
    }
    if !caller.is_staff() && input.internal {
        return Err(DomainError::Forbidden("requesters cannot write internal notes".to_owned()));
    }
    if !caller.is_staff() && input.status.is_some() {
        return Err(DomainError::Forbidden("requesters change the status with PATCH, not with a message".to_owned()));
    }
    conn.transaction(|conn| {
        let ticket = lock_for_change(conn, caller, key)?;
        if ticket.status == TicketStatus::Closed {
            return Err(DomainError::Conflict(format!(
                "ticket #{} is closed; submit a new ticket instead",
                ticket.reference
            )));
        }
        let used = match input.saved_reply_id {
            Some(id) => Some(saved_replies::use_for(conn, caller, replies, id, &ticket)?),
            None => None,
        };
        let body = match (&used, extra) {
            (Some(used), Some(extra)) => format!("{}\n\n{extra}", used.body.trim_end()),
            (Some(used), None) => used.body.clone(),
            (None, Some(extra)) => extra,
            (None, None) => String::new(),
        };
        let body = values::bounded_text("body", &body, BODY_MAX, true).map_err(|e| DomainError::Invalid(vec![e]))?;
        let message = Message::insert(
            conn,
            &NewMessage {
                id: Uuid::now_v7(),
                ticket_id: ticket.id,
                author_id: Some(caller.id()),
                body,
                internal: input.internal,
                channel: origin.channel,
                inbound_email_id: origin.inbound_email_id,
                unverified_sender: None,
                saved_reply_id: used.as_ref().map(|used| used.id),
            },
        )?;
        let mut edit = Edit::new(&ticket, Some(caller.id()));
        // A note's event is staff-only, like the note.
        let event = if input.internal { events::staff_event } else { events::event };
        edit.record(event(
            ticket.id,
            Some(caller.id()),
            EventKind::MessageAdded,
            (None, None),
            EventDetails::MessageAdded { message_id: message.id, internal: input.internal },
        ));
        let public = !input.internal;
        let implied_status = match (caller.is_staff(), ticket.status) {
            (false, TicketStatus::Pending | TicketStatus::Resolved) => Some(TicketStatus::Open),
            (true, TicketStatus::New) if public => Some(TicketStatus::Open),
            _ => None,
        };
        let actions = used.as_ref().map(|used| used.actions.clone()).unwrap_or_default();
        match (input.status.or(actions.status), implied_status) {
            // An explicit status is checked against the caller's transitions; implied ones are always allowed.
            (Some(status), _) => edit.set_status(Some(caller.role()), status)?,
            (None, Some(status)) => edit.set_status(None, status)?,
            (None, None) => {}
        }
        if let Some(priority) = actions.priority {
            edit.set_priority(priority, EventDetails::None {});
        }
        if !actions.add_tags.is_empty() || !actions.remove_tags.is_empty() {
            tags::add_remove(&mut edit, &actions.add_tags, &actions.remove_tags)?;
        }
        if let Some(minutes) = input.time_spent_minutes {
            let today = Utc::now().date_naive();
            time_spent::record(conn, &mut edit, caller.id(), minutes, today, None, Some(message.id))?;
        }
        if caller.is_staff() && edit.resolves() {
            custom_fields::check_resolution(&edit, &Fields::load(conn)?)?;
        }
        if caller.is_staff() && public {
            edit.set_first_response(message.created_at);
        }
        if public {
            Ticket::extend_search(conn, ticket.id, &message.body)?;
        }
        let attachments = uploads::attach(conn, caller, limits, message.id, &input.attachment_ids, Utc::now())?;
        edit.save(conn)?;
        let mut posted = message.with_author(Some(caller.user.name.clone()), Some(caller.role()));
        posted.attachments = attachments;
        Ok(posted)
    })
}

/// The messages of a ticket the caller may see; requesters never see internal notes.
pub fn messages(
    conn: &mut PgConnection,
    caller: &Caller,
    key: TicketKey,
) -> DomainResult<Vec<crate::models::message::MessageWithAuthor>> {
    let ticket = find(conn, caller, key)?;
    Ok(Message::list_for_ticket(conn, ticket.id, caller.is_staff())?)
}

/// The audit trail of a ticket the caller may see, with those of the tickets merged into it (all in order of
/// time); requesters never see staff-only events. Returns the ticket too.
pub fn events(conn: &mut PgConnection, caller: &Caller, key: TicketKey) -> DomainResult<(Ticket, Vec<TicketEvent>)> {
    let ticket = find(conn, caller, key)?;
    let mut ids = vec![ticket.id];
    ids.extend(Ticket::merged_into_chain(conn, ticket.id)?);
    let events = TicketEvent::list_for_tickets(conn, &ids, caller.is_staff())?;
    Ok((ticket, events))
}

/// An attachment, if the caller may see its message (requesters never see internal notes').
pub fn attachment(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> DomainResult<crate::models::Attachment> {
    let attachment = crate::models::Attachment::find(conn, id)?.ok_or(DomainError::NotFound("attachment"))?;
    let message = Message::find(conn, attachment.message_id)?.ok_or(DomainError::NotFound("attachment"))?;
    let visible = Ticket::find_visible(conn, TicketKey::Id(message.ticket_id), caller.ticket_scope())?.is_some();
    if !visible || (message.internal && !caller.is_staff()) {
        return Err(DomainError::NotFound("attachment"));
    }
    Ok(attachment)
}

/// The raw email a message came in as (staff who may see the ticket).
pub fn original_email(
    conn: &mut PgConnection,
    caller: &Caller,
    key: TicketKey,
    message_id: Uuid,
) -> DomainResult<Vec<u8>> {
    caller.require_staff()?;
    let ticket = find(conn, caller, key)?;
    let message = Message::find_in_ticket(conn, ticket.id, message_id)?.ok_or(DomainError::NotFound("message"))?;
    let inbound =
        message.inbound_email_id.ok_or(DomainError::NotFound("original email (the message came in by API)"))?;
    crate::models::InboundEmail::raw(conn, inbound)?.ok_or(DomainError::NotFound("original email"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ids_and_references() {
        let id = Uuid::now_v7();
        assert_eq!(parse_key(&id.to_string()).unwrap(), TicketKey::Id(id));
        assert_eq!(parse_key("1042").unwrap(), TicketKey::Reference(1042));
        assert_eq!(parse_key("#1042").unwrap(), TicketKey::Reference(1042));
        for bad in ["", "abc", "-1", "0", "+5", "99999999999999999999", "12ab"] {
            assert!(parse_key(bad).is_err(), "{bad:?}");
        }
    }
}
