//! Which ticket an email answers, strongest evidence first: a signed reply address, the threading headers
//! (`In-Reply-To`, then `References`), the `[#1234]` in the subject. Finding the ticket says nothing yet about
//! whether the sender may act on it: that is [`super::authority`]'s question.

use diesel::PgConnection;
use uuid::Uuid;

use crate::domain::error::DomainResult;
use crate::domain::inbound::mail::{InboundMail, ReplyTokenClaim, ThreadReference};
use crate::models::ticket::{TicketKey, TicketScope};
use crate::models::{InboundEmail, OutboxEntry, Ticket};

/// How an email was tied to its ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy {
    /// A signed reply address we sent to `recipient_id`.
    Token {
        /// Whom the notification carrying the address went to.
        recipient_id: Uuid,
    },
    /// The threading headers.
    Headers,
    /// The reference in the subject.
    Subject,
}

impl MatchedBy {
    /// In words, for the record of the email.
    pub fn describe(self) -> &'static str {
        match self {
            MatchedBy::Token { .. } => "the signed reply address",
            MatchedBy::Headers => "the In-Reply-To/References headers",
            MatchedBy::Subject => "the reference in the subject",
        }
    }
}

/// A ticket an email answers.
#[derive(Debug, Clone)]
pub struct Found {
    /// The ticket.
    pub ticket: Ticket,
    /// How it was found.
    pub by: MatchedBy,
}

/// The ticket `mail` answers, if any; `notes` collects what was passed over and why.
pub fn find(conn: &mut PgConnection, mail: &InboundMail, notes: &mut Vec<String>) -> DomainResult<Option<Found>> {
    for claim in &mail.thread.tokens {
        match *claim {
            ReplyTokenClaim::Invalid => {
                tracing::warn!(message_id = %mail.message_id, "a reply token that does not verify (tampered or foreign)");
                notes.push("the reply token did not verify".to_owned());
            }
            ReplyTokenClaim::Valid { ticket_reference, recipient_id } => {
                if let Some(ticket) =
                    Ticket::find_visible(conn, TicketKey::Reference(ticket_reference), TicketScope::All)?
                {
                    return Ok(Some(Found { ticket, by: MatchedBy::Token { recipient_id } }));
                }
            }
        }
    }
    for reference in &mail.thread.references {
        let ticket_id = match reference {
            ThreadReference::Ticket(id) => Some(*id),
            ThreadReference::Message(id) => match OutboxEntry::find_by_message_id(conn, id)? {
                Some(sent) => sent.ticket_id,
                None => InboundEmail::find_by_message_id(conn, id)?.and_then(|received| received.ticket_id),
            },
        };
        if let Some(ticket_id) = ticket_id
            && let Some(ticket) = Ticket::find_visible(conn, TicketKey::Id(ticket_id), TicketScope::All)?
        {
            return Ok(Some(Found { ticket, by: MatchedBy::Headers }));
        }
    }
    if let Some(reference) = mail.thread.subject_reference
        && let Some(ticket) = Ticket::find_visible(conn, TicketKey::Reference(reference), TicketScope::All)?
    {
        return Ok(Some(Found { ticket, by: MatchedBy::Subject }));
    }
    Ok(None)
}
