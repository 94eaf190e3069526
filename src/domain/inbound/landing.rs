//! Where a mail tied to a ticket lands: a reply in its sender's name, a follow-up ticket when the ticket is
//! closed, or, when the sender could not be verified, an internal note that nobody wrote and nobody is told of.

use diesel::PgConnection;
use uuid::Uuid;

use crate::domain::error::DomainResult;
use crate::domain::events::{self, EventDetails};
use crate::domain::files;
use crate::domain::inbound::matching::Found;
use crate::domain::inbound::{Decision, InboundMail, InboundSettings, as_caller, clean};
use crate::domain::network::Network;
use crate::domain::notifications;
use crate::domain::tickets::{self, Origin, PostMessage, SubmitTicket, Submitted};
use crate::domain::uploads::{self, UploadLimits};
use crate::domain::values::{BODY_MAX, SUBJECT_MAX};
use crate::models::attachment::NewAttachment;
use crate::models::inbound_email::InboundOutcome;
use crate::models::message::NewMessage;
use crate::models::stored_file::StoredFile;
use crate::models::ticket::TicketKey;
use crate::models::ticket_event::EventKind;
use crate::models::{Attachment, Message, Ticket, TicketEvent, User};
use crate::vocabulary::Channel;
use crate::vocabulary::TicketStatus;

/// The attachments to keep for message `message_id`: those within the size limit that the file policy accepts,
/// with cleaned names and the type their content shows.
fn attachments_of(
    conn: &mut PgConnection,
    settings: &InboundSettings,
    mail: &InboundMail,
    message_id: Uuid,
) -> DomainResult<Vec<NewAttachment>> {
    let mut kept = Vec::new();
    for (attachment, checked) in mail.attachments.iter().zip(checked_files(settings, mail)) {
        let Ok(content_type) = checked else { continue };
        kept.push(NewAttachment {
            id: Uuid::now_v7(),
            message_id,
            filename: attachment.filename.clone(),
            content_type,
            size: i32::try_from(attachment.data.len()).unwrap_or(i32::MAX),
            sha256: StoredFile::put(conn, &attachment.data)?,
        });
    }
    Ok(kept)
}

/// For each attachment of `mail`: the type it is kept as (decided from its content), or why it is dropped (too
/// large, or refused by the file policy).
fn checked_files(settings: &InboundSettings, mail: &InboundMail) -> Vec<Result<String, String>> {
    mail.attachments
        .iter()
        .map(|attachment| {
            let name = &attachment.filename;
            if attachment.data.len() > settings.max_attachment_bytes {
                return Err(format!(
                    "[attachment {name} ({} bytes) was not kept: larger than {} bytes]",
                    attachment.data.len(),
                    settings.max_attachment_bytes
                ));
            }
            let sniffed = files::sniff(&attachment.data, &attachment.content_type);
            match settings.file_policy.check(name, &attachment.content_type, &sniffed, &attachment.data) {
                Ok(()) => Ok(sniffed),
                Err(refused) => Err(format!("[attachment {name} was not kept: {}]", refused.reason)),
            }
        })
        .collect()
}

/// The text a message will carry: `body`, the notes about dropped attachments, or a placeholder when there is only
/// an attachment; and whether there is anything at all.
pub(super) fn message_body(settings: &InboundSettings, mail: &InboundMail, body: &str) -> (String, bool) {
    let mut text = body.to_owned();
    // Attachments too large or refused are dropped with a note in the text.
    for note in checked_files(settings, mail).into_iter().filter_map(Result::err) {
        text.push_str("\n\n");
        text.push_str(&note);
    }
    let text = clean(&text, BODY_MAX);
    if text.is_empty() && !mail.attachments.is_empty() {
        return ("(no text: see the attachments)".to_owned(), true);
    }
    let empty = text.is_empty();
    (text, !empty)
}

/// Stores the attachments of the message created from `inbound_id`; returns that message's id.
pub(super) fn store_attachments(
    conn: &mut PgConnection,
    settings: &InboundSettings,
    mail: &InboundMail,
    inbound_id: Uuid,
) -> DomainResult<Option<Uuid>> {
    let Some(created) = Message::find_by_inbound_email(conn, inbound_id)? else { return Ok(None) };
    let attachments = attachments_of(conn, settings, mail, created)?;
    Attachment::insert_all(conn, &attachments)?;
    Ok(Some(created))
}

/// The ticket of a submission (email submissions carry no idempotency key, so it is always created).
pub(super) fn submitted(submitted: Submitted) -> Ticket {
    match submitted {
        Submitted::Created(ticket) | Submitted::Replayed(ticket) => ticket,
    }
}

/// A verified sender's reply: a message on the ticket, or a follow-up ticket when it is closed.
pub fn reply(
    conn: &mut PgConnection,
    settings: &InboundSettings,
    mail: &InboundMail,
    inbound_id: Uuid,
    found: Found,
    sender: User,
) -> DomainResult<Decision> {
    let Found { ticket, by } = found;
    let how = by.describe();
    let (body, has_content) = message_body(settings, mail, &mail.reply_text);
    if !has_content {
        return Ok(Decision {
            outcome: InboundOutcome::Ignored,
            reason: "an empty reply".to_owned(),
            ticket: Some(ticket),
            message_id: None,
            held: false,
        });
    }
    let origin = Origin { channel: Channel::Email, inbound_email_id: Some(inbound_id), follow_up_of: None };
    if ticket.status == TicketStatus::Closed {
        if sender.role.is_staff() {
            return Ok(Decision::without_ticket(InboundOutcome::Rejected, format!("#{} is closed", ticket.reference)));
        }
        if super::new_ticket::over_the_cap(conn, settings, &sender.email)? {
            let reason = format!(
                "held: a reply to closed #{} would open a follow-up, but {} opened the most tickets allowed in \
                 the last hour; retry it to open one",
                ticket.reference, sender.email
            );
            return Ok(Decision { held: true, ..Decision::without_ticket(InboundOutcome::Ignored, reason) });
        }
        let follow_up = Origin { follow_up_of: Some(ticket.id), ..origin };
        let input = SubmitTicket {
            subject: clean(&ticket.subject, SUBJECT_MAX),
            body,
            category: ticket.category,
            priority: Some(ticket.priority),
            requester_id: None,
            attachment_ids: Vec::new(),
            custom_fields: serde_json::Map::new(),
        };
        let network = Network::load(conn)?;
        let created = submitted(tickets::submit(
            conn,
            &network,
            &as_caller(sender.clone()),
            input,
            None,
            follow_up,
            &UploadLimits::default(),
        )?);
        let event = events::event(
            ticket.id,
            Some(sender.id),
            EventKind::FollowUpCreated,
            (None, Some(created.id.to_string())),
            EventDetails::FollowUpCreated { follow_up_id: created.id, follow_up_reference: created.reference },
        );
        notifications::record(conn, &ticket, Some(sender.id), &[event])?;
        let message_id = store_attachments(conn, settings, mail, inbound_id)?;
        return Ok(Decision {
            outcome: InboundOutcome::FollowUp,
            reason: format!("a reply to closed #{} (matched by {how}) opened #{}", ticket.reference, created.reference),
            ticket: Some(created),
            message_id,
            held: false,
        });
    }
    // The files go in with the message (as the sender's uploads), so that the assignee's notification carries them.
    let caller = as_caller(sender);
    let limits = UploadLimits {
        max_file_bytes: settings.max_attachment_bytes as u64,
        max_message_bytes: u64::MAX,
        max_files: settings.max_attachments,
        expiry: chrono::TimeDelta::hours(1),
        policy: settings.file_policy.clone(),
    };
    let mut attachment_ids = Vec::new();
    for (attachment, checked) in mail.attachments.iter().zip(checked_files(settings, mail)) {
        if checked.is_ok() {
            let upload = uploads::store(
                conn,
                &caller,
                &limits,
                &attachment.filename,
                &attachment.content_type,
                &attachment.data,
            )?;
            attachment_ids.push(upload.id);
        }
    }
    let posted = tickets::post_message(
        conn,
        &caller,
        TicketKey::Id(ticket.id),
        PostMessage { body, attachment_ids, ..PostMessage::default() },
        origin,
        &limits,
        // Mail never names a saved reply.
        &Default::default(),
    )?;
    Ok(Decision {
        outcome: InboundOutcome::Added,
        reason: format!("a reply to #{} matched by {how}", ticket.reference),
        ticket: Some(ticket),
        message_id: Some(posted.message.id),
        held: false,
    })
}

/// Mail on a ticket whose sender could not be verified: an internal note with no author, flagged with the address
/// it claimed, with an audit event and no notification. Staff read it (and its original) and decide.
pub fn unverified_note(
    conn: &mut PgConnection,
    settings: &InboundSettings,
    mail: &InboundMail,
    inbound_id: Uuid,
    ticket: Ticket,
    notes: Vec<String>,
) -> DomainResult<Decision> {
    let claimed = mail.sender.as_ref().map(|s| s.address.clone()).unwrap_or_default();
    let (body, _) = message_body(settings, mail, &mail.reply_text);
    let body = if body.is_empty() { "(no text)".to_owned() } else { body };
    let message = Message::insert(
        conn,
        &NewMessage {
            id: Uuid::now_v7(),
            ticket_id: ticket.id,
            author_id: None,
            body,
            internal: true,
            channel: Channel::Email,
            inbound_email_id: Some(inbound_id),
            unverified_sender: Some(claimed.clone()),
            saved_reply_id: None,
        },
    )?;
    let attachments = attachments_of(conn, settings, mail, message.id)?;
    Attachment::insert_all(conn, &attachments)?;
    let reason = format!("unverified sender {claimed}: {}", notes.join("; "));
    let event = events::staff_event(
        ticket.id,
        None,
        EventKind::UnverifiedMail,
        (None, Some(claimed.clone())),
        EventDetails::UnverifiedMail {
            message_id: message.id,
            inbound_email_id: inbound_id,
            claimed_sender: claimed.clone(),
            reason: reason.clone(),
        },
    );
    TicketEvent::insert_all(conn, &[event.to_row()])?;
    tracing::warn!(inbound_email = %inbound_id, ticket = ticket.reference, %reason, "unverified mail kept as a note");
    Ok(Decision {
        outcome: InboundOutcome::Unverified,
        reason: format!("kept as an internal note on #{}: {reason}", ticket.reference),
        ticket: Some(ticket),
        message_id: Some(message.id),
        held: false,
    })
}
