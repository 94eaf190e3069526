//! The email the domain decides on: what `crate::email::inbound` made of a raw message. The domain never reads
//! mail itself; everything it needs to match, authorise and apply a message is here.

use uuid::Uuid;

/// Who a message says it is from (the `From:` header: a claim, not a proof).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// The address, lower-cased.
    pub address: String,
    /// The display name, cleaned.
    pub name: Option<String>,
}

/// What our trusted MTA concluded about the sender's domain (`Authentication-Results`, RFC 8601).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderVerdict {
    /// DMARC pass for the `From:` domain, or a DKIM pass aligned with it: the domain is authentic.
    Authenticated,
    /// DMARC fail for the `From:` domain: the mail is most likely forged.
    Failed,
    /// No verdict (no trusted MTA configured, or it said nothing conclusive).
    Unknown,
}

/// What kind of message it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailKind {
    /// Written by a person: a reply or a new request.
    Personal,
    /// Forwards another message: a new request even when it quotes a ticket.
    Forward,
    /// Sent by a machine (auto-reply, out-of-office notice, bulk or list mail); the reason names the sign.
    Automatic(String),
    /// A delivery failure report.
    Bounce(BounceReport),
}

/// What a delivery failure report says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BounceReport {
    /// Message-IDs that may be the failed notification's: the reported one first, then the threading headers.
    pub message_ids: Vec<String>,
    /// The diagnostic, in the reporting server's words.
    pub diagnostic: String,
}

/// A signed reply address among the recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyTokenClaim {
    /// It verified: we sent it to `recipient_id` in a notification about ticket `ticket_reference`.
    Valid {
        /// The ticket's reference.
        ticket_reference: i64,
        /// Whom the notification went to.
        recipient_id: Uuid,
    },
    /// It did not verify (tampered or foreign).
    Invalid,
}

/// A message the email answers, from `In-Reply-To` and `References`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadReference {
    /// Our thread root of a ticket (`<ticket-<id>@domain>`).
    Ticket(Uuid),
    /// Any other Message-ID (one of our notifications, or an email we received).
    Message(String),
}

/// What ties an email to a ticket, strongest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadKeys {
    /// Signed reply addresses it was sent to.
    pub tokens: Vec<ReplyTokenClaim>,
    /// `In-Reply-To`, then `References` newest first.
    pub references: Vec<ThreadReference>,
    /// The `[#1234]` in the subject.
    pub subject_reference: Option<i64>,
}

/// A file attached to an email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAttachment {
    /// The file name, safe to show.
    pub filename: String,
    /// The media type.
    pub content_type: String,
    /// The content.
    pub data: Vec<u8>,
}

/// An email, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMail {
    /// Its Message-ID (or one made from its hash), cleaned.
    pub message_id: String,
    /// Who it says it is from.
    pub sender: Option<Sender>,
    /// What our trusted MTA concluded about the sender's domain.
    pub sender_verdict: SenderVerdict,
    /// The subject, cleaned (one line, no control characters).
    pub subject: String,
    /// The language it says it is in (`Content-Language`), if valid.
    pub language: Option<String>,
    /// What kind of message it is.
    pub kind: MailKind,
    /// What ties it to a ticket.
    pub thread: ThreadKeys,
    /// The new text of a reply: without quoted history, signatures and footers.
    pub reply_text: String,
    /// The whole text, cut only at our reply marker: the body of a new request (a forward's content is the point).
    pub full_text: String,
    /// Attached files.
    pub attachments: Vec<MailAttachment>,
}
