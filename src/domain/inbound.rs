//! What an incoming email does: lands on the right ticket, opens a new one, follows up a closed one, marks a
//! bounced notification, or nothing at all. One core for every way mail comes in (pipe, HTTP, IMAP).
//!
//! Matching, in this order (a forwarded mail skips all three and opens a new ticket):
//! 1. the signed token of our Reply-To address, when the sender is the recipient it names;
//! 2. `In-Reply-To`, then `References`, against the Message-IDs we sent or received for a ticket;
//! 3. the `[#1234]` reference in the subject.
//!
//! In every case the sender must be allowed to see the ticket (the requester's organisation, or staff whose
//! scope includes it); otherwise the mail never lands on it. Everything an email does happens in one transaction
//! together with the record of the email itself, whose Message-ID makes ingestion idempotent.

use diesel::{Connection, PgConnection};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::notifications;
use crate::domain::status::TicketStatus;
use crate::domain::tickets::{self, Origin, PostMessage, SubmitTicket, Submitted};
use crate::domain::values::{self, BODY_MAX, Category, Channel, Role, SUBJECT_MAX};
use crate::email::inbound::classify::{self, Automatic};
use crate::email::inbound::parse::{self, InboundMessage};
use crate::email::inbound::reply_text::{html_to_text, reply_text};
use crate::email::reply_token::ReplyToken;
use crate::error::ApiError;
use crate::models::attachment::NewAttachment;
use crate::models::inbound_email::{InboundOutcome, InboundSource, NewInboundEmail};
use crate::models::organization::NewOrganization;
use crate::models::ticket::TicketKey;
use crate::models::ticket_event::{EventKind, NewTicketEvent};
use crate::models::user::NewUser;
use crate::models::{Attachment, InboundEmail, Message, Organization, OutboxEntry, Ticket, User};

/// What to do with mail from an address nobody knows whose domain is no organisation's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownSenders {
    /// Open a ticket in the "Unaffiliated" organisation's queue, for staff to sort out.
    Unaffiliated,
    /// Refuse the mail.
    Reject,
}

/// How ingestion is set up.
#[derive(Debug, Clone)]
pub struct InboundSettings {
    /// The key of reply tokens.
    pub secret: Vec<u8>,
    /// Our reply address (`support@example.org`), whose `+token` variants we recognise.
    pub reply_to: String,
    /// The domain of our Message-IDs (thread roots are `<ticket-<id>@domain>`).
    pub message_id_domain: String,
    /// The largest message taken in, in bytes.
    pub max_message_bytes: usize,
    /// The largest attachment kept, in bytes; larger ones are noted in the message and dropped.
    pub max_attachment_bytes: usize,
    /// Most attachments kept from one message.
    pub max_attachments: usize,
    /// Unknown senders outside every organisation's domain.
    pub unknown_senders: UnknownSenders,
    /// The country of the "Unaffiliated" organisation (routing sends its tickets to that country's office); the
    /// regional office's country when not set.
    pub unaffiliated_country: Option<String>,
}

/// Why an email could not be taken in at all.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Not a readable message (exit 65, HTTP 422).
    #[error("malformed message: {0}")]
    Malformed(String),
    /// Larger than allowed (exit 65, HTTP 413).
    #[error("the message is larger than {0} bytes")]
    TooLarge(usize),
    /// A passing failure, such as the database being unreachable: try again later (exit 75, HTTP 503).
    #[error("temporary failure: {0}")]
    Temporary(String),
}

/// What became of an email.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ingested {
    /// The outcome.
    pub outcome: InboundOutcome,
    /// Why, in words.
    pub reason: String,
    /// Whether this Message-ID was taken in before (nothing was done again).
    pub duplicate: bool,
    /// The stored email.
    pub inbound_email_id: Uuid,
    /// The ticket it went to, if any.
    pub ticket_id: Option<Uuid>,
    /// That ticket's reference.
    pub ticket_reference: Option<i64>,
    /// The ticket message it became, if any.
    pub message_id: Option<Uuid>,
}

/// The decision about one email, before it is recorded.
struct Decision {
    outcome: InboundOutcome,
    reason: String,
    ticket: Option<Ticket>,
    message_id: Option<Uuid>,
}

impl Decision {
    fn without_ticket(outcome: InboundOutcome, reason: impl Into<String>) -> Decision {
        Decision { outcome, reason: reason.into(), ticket: None, message_id: None }
    }
}

impl IngestError {
    /// Whether trying the same message again later may succeed (the database was unreachable, say); every other
    /// failure is permanent and the message must not be retried as it is.
    pub fn is_temporary(&self) -> bool {
        matches!(self, IngestError::Temporary(_))
    }
}

fn temporary(error: impl std::fmt::Display) -> IngestError {
    IngestError::Temporary(error.to_string())
}

/// Takes in one raw message.
pub fn ingest(
    conn: &mut PgConnection,
    settings: &InboundSettings,
    raw: &[u8],
    source: InboundSource,
) -> Result<Ingested, IngestError> {
    if raw.len() > settings.max_message_bytes {
        return Err(IngestError::TooLarge(settings.max_message_bytes));
    }
    let message = parse::parse(raw, settings.max_attachments).map_err(IngestError::Malformed)?;
    let sha256 = Sha256::digest(raw).to_vec();
    let message_id = message.message_id.clone().unwrap_or_else(|| {
        format!("<{}@civicdesk.invalid>", sha256.iter().map(|b| format!("{b:02x}")).collect::<String>())
    });
    let result = conn.transaction(|conn| -> Result<Ingested, ApiError> {
        crate::db::advisory_xact_lock(conn, "inbound", message_id.as_bytes())?;
        if let Some(earlier) = InboundEmail::find_by_message_id(conn, &message_id)? {
            let reference = match earlier.ticket_id {
                Some(id) => Some(Ticket::find(conn, id)?.reference),
                None => None,
            };
            return Ok(Ingested {
                outcome: earlier.outcome,
                reason: format!("already taken in: {}", earlier.reason),
                duplicate: true,
                inbound_email_id: earlier.id,
                ticket_id: earlier.ticket_id,
                ticket_reference: reference,
                message_id: earlier.ticket_message_id,
            });
        }
        let stored = InboundEmail::insert(
            conn,
            &NewInboundEmail {
                id: Uuid::now_v7(),
                message_id: message_id.clone(),
                raw_sha256: sha256.clone(),
                raw: raw.to_vec(),
                from_address: message.from.clone(),
                subject: Some(message.subject.chars().take(998).collect()),
                source,
                outcome: InboundOutcome::Ignored,
                reason: "being processed".to_owned(),
                ticket_id: None,
                ticket_message_id: None,
            },
        )?;
        let decision = decide(conn, settings, &message, stored.id)?;
        InboundEmail::record_outcome(
            conn,
            stored.id,
            decision.outcome,
            &decision.reason,
            decision.ticket.as_ref().map(|t| t.id),
            decision.message_id,
        )?;
        tracing::info!(
            inbound_email = %stored.id, message_id = %message_id, outcome = %decision.outcome,
            reason = %decision.reason, "email taken in"
        );
        Ok(Ingested {
            outcome: decision.outcome,
            reason: decision.reason,
            duplicate: false,
            inbound_email_id: stored.id,
            ticket_id: decision.ticket.as_ref().map(|t| t.id),
            ticket_reference: decision.ticket.as_ref().map(|t| t.reference),
            message_id: decision.message_id,
        })
    });
    result.map_err(temporary)
}

/// Decides and does what the email asks for.
fn decide(
    conn: &mut PgConnection,
    settings: &InboundSettings,
    message: &InboundMessage,
    inbound_id: Uuid,
) -> Result<Decision, ApiError> {
    match classify::automatic(message) {
        Some(Automatic::Bounce) => return bounce(conn, settings, message),
        Some(Automatic::Other(why)) => {
            return Ok(Decision::without_ticket(InboundOutcome::Ignored, format!("automatic mail ({why})")));
        }
        None => {}
    }
    let Some(from) = message.from.as_deref() else {
        return Ok(Decision::without_ticket(InboundOutcome::Rejected, "the message has no sender address"));
    };
    let sender = User::find_by_email(conn, from)?;
    if sender.as_ref().is_some_and(|user| !user.active) {
        return Ok(Decision::without_ticket(InboundOutcome::Rejected, format!("{from} belongs to a deactivated user")));
    }
    let text = message.text.clone().or_else(|| message.html.as_deref().map(html_to_text)).unwrap_or_default();
    let mut notes = Vec::new();
    let target = if classify::is_forward(message, &text) {
        notes.push("a forwarded message is not a reply".to_owned());
        None
    } else {
        match &sender {
            Some(user) => find_ticket(conn, settings, message, user, &mut notes)?,
            None => None,
        }
    };
    match (target, sender) {
        (Some((ticket, how)), Some(user)) => reply(conn, settings, message, inbound_id, ticket, user, &text, how),
        (_, sender) => open_ticket(conn, settings, message, inbound_id, sender, &text, notes),
    }
}

/// The sender as a caller of the domain.
fn as_caller(user: User) -> Caller {
    Caller { user, token_id: Uuid::nil() }
}

/// The ticket `key` names, if the sender may see it.
fn visible(conn: &mut PgConnection, user: &User, key: TicketKey) -> Result<Option<Ticket>, ApiError> {
    let scope = as_caller(user.clone()).ticket_scope();
    Ok(Ticket::find_visible(conn, key, scope)?)
}

/// Finds the ticket an email answers, in the documented order; `notes` collects why a candidate was passed over.
fn find_ticket(
    conn: &mut PgConnection,
    settings: &InboundSettings,
    message: &InboundMessage,
    sender: &User,
    notes: &mut Vec<String>,
) -> Result<Option<(Ticket, &'static str)>, ApiError> {
    // 1. The signed token of our Reply-To address.
    let (reply_local, reply_domain) = settings.reply_to.rsplit_once('@').unwrap_or((settings.reply_to.as_str(), ""));
    let prefix = format!("{}+", reply_local.to_ascii_lowercase());
    for address in &message.recipients {
        let Some((local, domain)) = address.rsplit_once('@') else { continue };
        if !domain.eq_ignore_ascii_case(reply_domain) || !local.starts_with(&prefix) {
            continue;
        }
        match ReplyToken::decode(&local[prefix.len()..], &settings.secret) {
            None => {
                tracing::warn!(%address, "a reply token that does not verify (tampered or foreign)");
                notes.push("the reply token did not verify".to_owned());
            }
            Some(token) if token.recipient_id != sender.id => {
                tracing::warn!(%address, sender = %sender.email, "a reply token used by someone it was not sent to");
                notes.push("the reply token was sent to someone else".to_owned());
            }
            Some(token) => {
                if let Some(ticket) = visible(conn, sender, TicketKey::Reference(token.ticket_reference))? {
                    return Ok(Some((ticket, "the signed reply address")));
                }
                notes.push("the sender may no longer see the ticket of the reply token".to_owned());
            }
        }
    }
    // 2. In-Reply-To, then References (newest first).
    let root_prefix = "<ticket-";
    let root_suffix = format!("@{}>", settings.message_id_domain);
    let ids = message.in_reply_to.iter().chain(message.references.iter().rev());
    for id in ids {
        let ticket_id =
            if let Some(inner) = id.strip_prefix(root_prefix).and_then(|rest| rest.strip_suffix(&root_suffix)) {
                Uuid::parse_str(inner).ok()
            } else if let Some(sent) = OutboxEntry::find_by_message_id(conn, id)? {
                sent.ticket_id
            } else {
                InboundEmail::find_by_message_id(conn, id)?.and_then(|received| received.ticket_id)
            };
        if let Some(ticket_id) = ticket_id {
            if let Some(ticket) = visible(conn, sender, TicketKey::Id(ticket_id))? {
                return Ok(Some((ticket, "the In-Reply-To/References headers")));
            }
            notes.push("the headers name a ticket the sender may not see".to_owned());
            return Ok(None);
        }
    }
    // 3. The reference in the subject, for participants only.
    if let Some(reference) = subject_reference(&message.subject) {
        if let Some(ticket) = visible(conn, sender, TicketKey::Reference(reference))? {
            return Ok(Some((ticket, "the reference in the subject")));
        }
        notes.push(format!("the subject names #{reference}, which the sender may not see"));
    }
    Ok(None)
}

/// The `[#1234]` reference in a subject.
pub fn subject_reference(subject: &str) -> Option<i64> {
    let start = subject.find("[#")? + 2;
    let digits: String = subject[start..].chars().take_while(char::is_ascii_digit).collect();
    subject[start + digits.len()..].starts_with(']').then(|| digits.parse().ok()).flatten()
}

/// Cleans text for a ticket: no control characters but line breaks and tabs, at most `max` characters.
fn clean(text: &str, max: usize) -> String {
    let cleaned: String = text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\t')).take(max).collect();
    cleaned.trim().to_owned()
}

/// The attachments to keep, and a note for each that was too large.
fn attachments_of(
    settings: &InboundSettings,
    message: &InboundMessage,
    message_id: Uuid,
) -> (Vec<NewAttachment>, Vec<String>) {
    let mut kept = Vec::new();
    let mut notes = Vec::new();
    for attachment in &message.attachments {
        if attachment.data.len() > settings.max_attachment_bytes {
            notes.push(format!(
                "[attachment {} ({} bytes) was not kept: larger than {} bytes]",
                attachment.filename,
                attachment.data.len(),
                settings.max_attachment_bytes
            ));
            continue;
        }
        kept.push(NewAttachment {
            id: Uuid::now_v7(),
            message_id,
            filename: attachment.filename.clone(),
            content_type: attachment.content_type.clone(),
            size: i32::try_from(attachment.data.len()).unwrap_or(i32::MAX),
            data: attachment.data.clone(),
        });
    }
    (kept, notes)
}

/// The text a message will carry: `body`, the notes about dropped attachments, or a placeholder when there is only
/// an attachment.
fn message_body(settings: &InboundSettings, message: &InboundMessage, body: &str) -> (String, bool) {
    let (_, notes) = attachments_of(settings, message, Uuid::nil());
    let mut text = body.to_owned();
    for note in notes {
        text.push_str("\n\n");
        text.push_str(&note);
    }
    let text = clean(&text, BODY_MAX);
    if text.is_empty() && !message.attachments.is_empty() {
        return ("(no text: see the attachments)".to_owned(), true);
    }
    let empty = text.is_empty();
    (text, !empty)
}

#[allow(clippy::too_many_arguments)]
fn reply(
    conn: &mut PgConnection,
    settings: &InboundSettings,
    message: &InboundMessage,
    inbound_id: Uuid,
    ticket: Ticket,
    sender: User,
    text: &str,
    how: &str,
) -> Result<Decision, ApiError> {
    let (body, has_content) = message_body(settings, message, &reply_text(text, None));
    if !has_content {
        return Ok(Decision {
            outcome: InboundOutcome::Ignored,
            reason: "an empty reply".to_owned(),
            ticket: Some(ticket),
            message_id: None,
        });
    }
    let origin = Origin { channel: Channel::Email, inbound_email_id: Some(inbound_id), follow_up_of: None };
    if ticket.status == TicketStatus::Closed {
        if sender.role.is_staff() {
            return Ok(Decision::without_ticket(InboundOutcome::Rejected, format!("#{} is closed", ticket.reference)));
        }
        let follow_up = Origin { follow_up_of: Some(ticket.id), ..origin };
        let input = SubmitTicket {
            subject: clean(&ticket.subject, SUBJECT_MAX),
            body,
            category: ticket.category,
            priority: Some(ticket.priority),
            requester_id: None,
        };
        let created = submitted(tickets::submit(conn, &as_caller(sender.clone()), input, None, follow_up)?);
        let mut event = NewTicketEvent::change(
            ticket.id,
            Some(sender.id),
            EventKind::FollowUpCreated,
            None,
            Some(created.id.to_string()),
        );
        event.details = serde_json::json!({ "follow_up_id": created.id, "follow_up_reference": created.reference });
        notifications::record(conn, &ticket, Some(sender.id), &[event])?;
        let message_id = store_attachments(conn, settings, message, inbound_id)?;
        return Ok(Decision {
            outcome: InboundOutcome::FollowUp,
            reason: format!("a reply to closed #{} (matched by {how}) opened #{}", ticket.reference, created.reference),
            ticket: Some(created),
            message_id,
        });
    }
    let posted = tickets::post_message(
        conn,
        &as_caller(sender),
        TicketKey::Id(ticket.id),
        PostMessage { body, internal: false, status: None },
        origin,
    )?;
    store_attachments(conn, settings, message, inbound_id)?;
    Ok(Decision {
        outcome: InboundOutcome::Added,
        reason: format!("a reply to #{} matched by {how}", ticket.reference),
        ticket: Some(ticket),
        message_id: Some(posted.id),
    })
}

fn submitted(submitted: Submitted) -> Ticket {
    match submitted {
        Submitted::Created(ticket) | Submitted::Replayed(ticket) => ticket,
    }
}

/// Stores the attachments of the message created from `inbound_id`; returns that message's id.
fn store_attachments(
    conn: &mut PgConnection,
    settings: &InboundSettings,
    message: &InboundMessage,
    inbound_id: Uuid,
) -> Result<Option<Uuid>, ApiError> {
    let Some(created) = Message::find_by_inbound_email(conn, inbound_id)? else { return Ok(None) };
    let (attachments, _) = attachments_of(settings, message, created);
    Attachment::insert_all(conn, &attachments)?;
    Ok(Some(created))
}

fn open_ticket(
    conn: &mut PgConnection,
    settings: &InboundSettings,
    message: &InboundMessage,
    inbound_id: Uuid,
    sender: Option<User>,
    text: &str,
    mut notes: Vec<String>,
) -> Result<Decision, ApiError> {
    let requester = match sender {
        Some(user) if user.role == Role::Requester => user,
        Some(_) => {
            notes.push("staff mail that matches no ticket does not open one".to_owned());
            return Ok(Decision::without_ticket(InboundOutcome::Rejected, notes.join("; ")));
        }
        None => match new_requester(conn, settings, message)? {
            Some((user, how)) => {
                notes.push(how);
                user
            }
            None => {
                notes.push("unknown sender outside every organisation's domain".to_owned());
                return Ok(Decision::without_ticket(InboundOutcome::Rejected, notes.join("; ")));
            }
        },
    };
    // A new request keeps its whole text (a forward's content is the point), cut only at our marker.
    let (body, has_content) = message_body(settings, message, &cut_at_marker(text));
    if !has_content {
        notes.push("no text".to_owned());
        return Ok(Decision::without_ticket(InboundOutcome::Ignored, notes.join("; ")));
    }
    let subject = clean(&message.subject.replace(['\r', '\n', '\t'], " "), SUBJECT_MAX);
    let input = SubmitTicket {
        subject: if subject.is_empty() { "(no subject)".to_owned() } else { subject },
        body,
        category: Category::Other,
        priority: None,
        requester_id: None,
    };
    let origin = Origin { channel: Channel::Email, inbound_email_id: Some(inbound_id), follow_up_of: None };
    let ticket = submitted(tickets::submit(conn, &as_caller(requester), input, None, origin)?);
    let message_id = store_attachments(conn, settings, message, inbound_id)?;
    notes.insert(0, format!("opened #{}", ticket.reference));
    Ok(Decision { outcome: InboundOutcome::Created, reason: notes.join("; "), ticket: Some(ticket), message_id })
}

/// Text above our reply marker, or all of it.
fn cut_at_marker(text: &str) -> String {
    let marker = crate::email::render::REPLY_MARKER;
    match text.find(marker.trim_start_matches("##- ").trim_end_matches(" -##")) {
        Some(position) => text[..text[..position].rfind('\n').unwrap_or(0)].to_owned(),
        None => text.to_owned(),
    }
}

/// A requester for an unknown sender: in the organisation of their email domain, or the "Unaffiliated" one.
fn new_requester(
    conn: &mut PgConnection,
    settings: &InboundSettings,
    message: &InboundMessage,
) -> Result<Option<(User, String)>, ApiError> {
    let Some(from) = message.from.as_deref() else { return Ok(None) };
    let Ok(email) = values::email("from", from) else { return Ok(None) };
    let domain = email.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
    let (organization, how) = match Organization::find_by_email_domain(conn, &domain)? {
        Some(organization) => {
            let how = format!("new requester {email} joined {} by email domain", organization.name);
            (organization, how)
        }
        None if settings.unknown_senders == UnknownSenders::Unaffiliated => match unaffiliated(conn, settings)? {
            Some(organization) => (organization, format!("new requester {email} put in the Unaffiliated queue")),
            None => return Ok(None),
        },
        None => return Ok(None),
    };
    let name = message
        .from_name
        .as_deref()
        .map(|n| clean(&n.replace(['\r', '\n', '\t'], " "), values::NAME_MAX))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| email.split('@').next().unwrap_or("requester").to_owned());
    let language = message
        .header("Content-Language")
        .and_then(|l| values::language("language", l.split(',').next().unwrap_or_default()).ok())
        .unwrap_or_else(|| "en".to_owned());
    let user = User::insert(
        conn,
        &NewUser {
            id: Uuid::now_v7(),
            name,
            email,
            language,
            role: Role::Requester,
            office_id: None,
            organization_id: Some(organization.id),
        },
    )?;
    Ok(Some((user, how)))
}

/// The "Unaffiliated" organisation, created on first use; `None` when no country is configured and there is no
/// regional office to take its country from.
fn unaffiliated(conn: &mut PgConnection, settings: &InboundSettings) -> Result<Option<Organization>, ApiError> {
    const REGISTRATION: &str = "civicdesk-unaffiliated";
    let country = match &settings.unaffiliated_country {
        Some(country) => country.clone(),
        None => match crate::models::Office::regional(conn)? {
            Some(office) => office.country,
            None => return Ok(None),
        },
    };
    if let Some(organization) = Organization::find_by_registration(conn, &country, REGISTRATION)? {
        return Ok(Some(organization));
    }
    Ok(Some(Organization::insert(
        conn,
        &NewOrganization {
            id: Uuid::now_v7(),
            name: "Unaffiliated senders".to_owned(),
            country,
            registration_number: Some(REGISTRATION.to_owned()),
            contact_email: settings.reply_to.clone(),
            email_domain: None,
        },
    )?))
}

/// A bounce of one of our notifications marks that delivery failed, on the outbox and on the ticket.
fn bounce(
    conn: &mut PgConnection,
    _settings: &InboundSettings,
    message: &InboundMessage,
) -> Result<Decision, ApiError> {
    let candidates =
        message.reported_message_id.iter().chain(message.in_reply_to.iter()).chain(message.references.iter());
    for id in candidates {
        let Some(entry) = OutboxEntry::find_by_message_id(conn, id)? else { continue };
        let diagnostic = message.report_diagnostic.clone().unwrap_or_else(|| message.subject.clone());
        OutboxEntry::mark_bounced(conn, entry.id, &diagnostic)?;
        let Some(ticket_id) = entry.ticket_id else {
            return Ok(Decision::without_ticket(InboundOutcome::Bounce, format!("notification {id} bounced")));
        };
        let ticket = Ticket::find(conn, ticket_id)?;
        let mut event =
            NewTicketEvent::change(ticket.id, None, EventKind::DeliveryFailed, None, entry.recipient_email.clone());
        event.internal = true;
        event.details = serde_json::json!({
            "outbox_id": entry.id, "recipient_id": entry.recipient_id, "message_id": id, "diagnostic": diagnostic,
        });
        notifications::record(conn, &ticket, None, &[event])?;
        return Ok(Decision {
            outcome: InboundOutcome::Bounce,
            reason: format!("notification {id} to {} bounced", entry.recipient_email.unwrap_or_default()),
            ticket: Some(ticket),
            message_id: None,
        });
    }
    Ok(Decision::without_ticket(InboundOutcome::Ignored, "a bounce about a message we did not send"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_subject_reference() {
        assert_eq!(subject_reference("Re: [#1042] Budget"), Some(1042));
        assert_eq!(subject_reference("Odg: Re: [#7] x"), Some(7));
        assert_eq!(subject_reference("#1042 without brackets"), None);
        assert_eq!(subject_reference("[#] nothing"), None);
        assert_eq!(subject_reference("[#12x]"), None);
    }
}
