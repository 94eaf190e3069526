//! Building the email of one outbox notification: rendered bodies, threading headers and a signed Reply-To.

use anyhow::Context;
use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use uuid::Uuid;

use crate::config::MailSettings;
use crate::domain::satisfaction::RatingToken;
use crate::email::render::{Notification, Templates};
use crate::email::reply_token::ReplyToken;
use crate::models::{OutboxEntry, Ticket, User};
use crate::vocabulary::TicketStatus;
use crate::vocabulary::{Rating, SlaClock};

/// What a notification is rendered from, loaded when it is sent.
#[derive(Debug, Clone)]
pub struct NotificationContext {
    /// The recipient.
    pub recipient: User,
    /// The ticket.
    pub ticket: Ticket,
    /// The requesting organisation's name.
    pub organization: String,
    /// The message a reply notification quotes, with its author's name.
    pub message: Option<(String, String)>,
    /// The time zone of the ticket's office, for the times a notification names.
    pub time_zone: String,
}

/// A composed email, ready for the transport.
#[derive(Debug)]
pub struct Outgoing {
    /// The message.
    pub message: Message,
    /// Its Message-ID, with angle brackets.
    pub message_id: String,
    /// The recipient's address.
    pub to: String,
    /// The subject.
    pub subject: String,
    /// The plain-text body, kept so that its quoted copy can be recognised in replies.
    pub text: String,
}

/// `Auto-Submitted: auto-generated` (RFC 3834): tells mail systems and auto-responders this is a notification.
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

/// `X-Auto-Response-Suppress: All`: keeps Exchange and Outlook from answering with out-of-office replies.
#[derive(Debug, Clone)]
struct AutoResponseSuppress;

impl Header for AutoResponseSuppress {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Auto-Response-Suppress")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoResponseSuppress)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "All".to_owned())
    }
}

/// Composes notifications.
pub struct Composer {
    templates: Templates,
    from: Mailbox,
    reply_base: String,
    domain: String,
    public_url: String,
    secret: Vec<u8>,
}

impl Composer {
    /// A composer for these settings, signing reply addresses with `secret`.
    pub fn new(settings: &MailSettings, secret: Vec<u8>) -> anyhow::Result<Composer> {
        Ok(Composer {
            templates: Templates::load()?,
            from: settings.from.parse().with_context(|| format!("MAIL_FROM {:?}", settings.from))?,
            reply_base: settings.reply_to.clone(),
            domain: settings.message_id_domain.clone(),
            public_url: settings.public_url.clone(),
            secret,
        })
    }

    /// The Message-ID of a notification: stable across retries, so a resent duplicate is recognisable.
    pub fn message_id(&self, outbox_id: Uuid) -> String {
        format!("<{outbox_id}@{}>", self.domain)
    }

    /// The Message-ID every notification of a ticket refers to, so that mail clients thread them together.
    pub fn thread_id(&self, ticket_id: Uuid) -> String {
        format!("<ticket-{ticket_id}@{}>", self.domain)
    }

    /// The clock and due time of a service-level notice, the time in the office's time zone.
    fn sla_notice(&self, details: &serde_json::Value, context: &NotificationContext) -> Option<(SlaClock, String)> {
        let clock = details.get("clock")?.as_str()?.parse::<SlaClock>().ok()?;
        let due = details.get("due_at").and_then(|v| v.as_str()).and_then(|v| v.parse::<DateTime<Utc>>().ok());
        let zone: chrono_tz::Tz = context.time_zone.parse().unwrap_or(chrono_tz::UTC);
        let due = due.map(|due| format!("{} ({zone})", due.with_timezone(&zone).format("%Y-%m-%d %H:%M")));
        Some((clock, due.unwrap_or_default()))
    }

    /// The rating links, for the requester when their ticket is resolved, issued at `issued_at`.
    fn rating_links(
        &self,
        new_status: Option<TicketStatus>,
        issued_at: DateTime<Utc>,
        context: &NotificationContext,
    ) -> Option<(String, String)> {
        let for_requester = context.recipient.id == context.ticket.requester_id;
        if !for_requester || new_status != Some(TicketStatus::Resolved) {
            return None;
        }
        // Issued when the notification was queued, so that every attempt to send it carries the same links.
        let token = RatingToken::issued(context.ticket.id, context.recipient.id, issued_at);
        Some((
            token.link(&self.public_url, &self.secret, Rating::Satisfied),
            token.link(&self.public_url, &self.secret, Rating::NotSatisfied),
        ))
    }

    /// Renders and builds the email of `entry`.
    pub fn compose(&self, entry: &OutboxEntry, context: &NotificationContext) -> anyhow::Result<Outgoing> {
        let details = &entry.details;
        let new_status = details.get("status").and_then(|s| s.as_str()).and_then(|s| s.parse::<TicketStatus>().ok());
        let notification = Notification {
            kind: entry.kind,
            language: &context.recipient.language,
            recipient_name: &context.recipient.name,
            reference: context.ticket.reference,
            ticket_subject: &context.ticket.subject,
            status: context.ticket.status,
            organization: &context.organization,
            author: context.message.as_ref().map(|(_, author)| author.as_str()),
            quote: context.message.as_ref().map(|(body, _)| body.as_str()),
            new_status,
            reopened: details.get("reopened").and_then(|v| v.as_bool()).unwrap_or(false),
            sla: self.sla_notice(details, context),
            rating_links: self.rating_links(new_status, entry.created_at, context),
        };
        let rendered = self.templates.render(&notification)?;
        let to: Mailbox = format!("{} <{}>", quote_display_name(&context.recipient.name), context.recipient.email)
            .parse()
            .or_else(|_| context.recipient.email.parse().map(|address| Mailbox::new(None, address)))
            .with_context(|| format!("recipient address {:?}", context.recipient.email))?;
        let token = ReplyToken { ticket_reference: context.ticket.reference, recipient_id: context.recipient.id };
        let reply_to: Mailbox = token.address(&self.reply_base, &self.secret).parse().context("reply address")?;
        let message_id = self.message_id(entry.id);
        let thread = self.thread_id(context.ticket.id);
        let message = Message::builder()
            .from(self.from.clone())
            .reply_to(reply_to)
            .to(to)
            .subject(rendered.subject.clone())
            .message_id(Some(message_id.clone()))
            .in_reply_to(thread.clone())
            .references(thread)
            .header(AutoSubmitted)
            .header(AutoResponseSuppress)
            .multipart(MultiPart::alternative_plain_html(rendered.text.clone(), rendered.html))
            .context("building the message")?;
        Ok(Outgoing {
            message,
            message_id,
            to: context.recipient.email.clone(),
            subject: rendered.subject,
            text: rendered.text,
        })
    }
}

/// Quotes a display name for a mailbox header.
fn quote_display_name(name: &str) -> String {
    format!("\"{}\"", name.replace(['\\', '"'], ""))
}
