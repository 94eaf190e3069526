//! Building the email of one outbox notification: rendered bodies, threading headers and a signed Reply-To.

use anyhow::Context;
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart};
use uuid::Uuid;

use crate::config::MailSettings;
use crate::domain::notifications::snapshot::{FileFacts, Snapshot};
use crate::domain::satisfaction::RatingToken;
use crate::email::render::{Files, Notification, Templates};
use crate::email::reply_token::ReplyToken;
use crate::models::OutboxEntry;
use crate::vocabulary::Rating;

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

    /// The rating links of a snapshot that offers them, signed now with the token it captured.
    fn rating_links(&self, snapshot: &Snapshot) -> Option<(String, String)> {
        let rating = snapshot.rating?;
        let token = RatingToken::issued(snapshot.ticket.id, snapshot.recipient.id, rating.issued_at);
        Some((
            token.link(&self.public_url, &self.secret, Rating::Satisfied),
            token.link(&self.public_url, &self.secret, Rating::NotSatisfied),
        ))
    }

    /// Renders and builds the email of `entry` from its snapshot and, when the quoted message's files travel
    /// attached, their `contents` (in the snapshot's order; `None`: they are linked instead).
    pub fn compose(
        &self,
        entry: &OutboxEntry,
        snapshot: &Snapshot,
        contents: Option<&[Vec<u8>]>,
    ) -> anyhow::Result<Outgoing> {
        let attachments = snapshot.message.as_ref().map(|m| m.attachments.as_slice()).unwrap_or_default();
        let files = match (attachments.is_empty(), contents) {
            (true, _) => Files::None,
            (false, Some(_)) => Files::Attached,
            (false, None) => Files::Linked(
                attachments.iter().map(|file| format!("{}/api/v1/attachments/{}", self.public_url, file.id)).collect(),
            ),
        };
        let notification =
            Notification { kind: entry.kind, snapshot, rating_links: self.rating_links(snapshot), files };
        let rendered = self.templates.render(&notification)?;
        let recipient = &snapshot.recipient;
        let to: Mailbox = format!("{} <{}>", quote_display_name(&recipient.name), recipient.email)
            .parse()
            .or_else(|_| recipient.email.parse().map(|address| Mailbox::new(None, address)))
            .with_context(|| format!("recipient address {:?}", recipient.email))?;
        let token = ReplyToken { ticket_reference: snapshot.ticket.reference, recipient_id: recipient.id };
        let reply_to: Mailbox = token.address(&self.reply_base, &self.secret).parse().context("reply address")?;
        let message_id = self.message_id(entry.id);
        let thread = self.thread_id(snapshot.ticket.id);
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
            .multipart(with_files(
                MultiPart::alternative_plain_html(rendered.text.clone(), rendered.html),
                attachments,
                contents,
            )?)
            .context("building the message")?;
        Ok(Outgoing {
            message,
            message_id,
            to: recipient.email.clone(),
            subject: rendered.subject,
            text: rendered.text,
        })
    }
}

/// The body with the files attached (`multipart/mixed`), or as it is when they are not.
fn with_files(body: MultiPart, files: &[FileFacts], contents: Option<&[Vec<u8>]>) -> anyhow::Result<MultiPart> {
    let Some(contents) = contents.filter(|_| !files.is_empty()) else { return Ok(body) };
    let mut mixed = MultiPart::mixed().multipart(body);
    for (file, content) in files.iter().zip(contents) {
        let content_type = ContentType::parse(&file.content_type)
            .or_else(|_| ContentType::parse("application/octet-stream"))
            .context("an attachment's type")?;
        mixed = mixed.singlepart(Attachment::new(file.filename.clone()).body(content.clone(), content_type));
    }
    Ok(mixed)
}

/// Quotes a display name for a mailbox header.
fn quote_display_name(name: &str) -> String {
    format!("\"{}\"", name.replace(['\\', '"'], ""))
}
