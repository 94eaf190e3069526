//! From raw bytes to the domain's [`InboundMail`]: parse, classify, find the threading keys (verifying our reply
//! tokens), read the trusted MTA's verdict on the sender, and extract the new text. Nothing here touches the
//! database; the caller looks up the notification a reply quotes (see [`Reading::quoted_notification`]).

use uuid::Uuid;

use crate::domain::inbound::{
    BounceReport, InboundMail, InboundSettings, MailAttachment, MailKind, ReplyTokenClaim, Sender, SenderVerdict,
    ThreadKeys, ThreadReference,
};
use crate::domain::values;
use crate::email::inbound::classify::{self, Automatic};
use crate::email::inbound::parse::{self, InboundMessage};
use crate::email::inbound::{authentication, html, reply_text};
use crate::email::reply_token::ReplyToken;

/// Most threading references followed (each may cost a look-up); the newest come first.
const MAX_REFERENCES: usize = 20;
/// Most reply tokens looked at.
const MAX_TOKENS: usize = 5;
/// The longest Message-ID kept (RFC 5322 lines are at most 998 characters).
const MESSAGE_ID_MAX: usize = 998;

/// The few header fields stored with every message before it is parsed in full.
#[derive(Debug, Clone, Default)]
pub struct Headline {
    /// The Message-ID, cleaned; `None` when there is none (or the headers cannot be read).
    pub message_id: Option<String>,
    /// The sender's address.
    pub from: Option<String>,
    /// The subject, on one line.
    pub subject: Option<String>,
}

/// Text safe to store: no control characters (NUL included), on one line, at most `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(max).collect();
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A Message-ID as stored: angle brackets, no control characters or spaces.
fn clean_message_id(id: &str) -> Option<String> {
    let cleaned: String = id.chars().filter(|c| !c.is_control() && !c.is_whitespace()).take(MESSAGE_ID_MAX).collect();
    (cleaned.len() > 2).then_some(cleaned)
}

/// Reads the headline of a raw message; never fails (a message whose headers cannot be read has none).
pub fn headline(raw: &[u8]) -> Headline {
    use mailparse::MailHeaderMap;
    let Ok((headers, _)) = mailparse::parse_headers(raw) else { return Headline::default() };
    let first = |name: &str| headers.get_first_value(name);
    Headline {
        message_id: first("Message-ID")
            .and_then(|v| parse::message_ids(&v).into_iter().next())
            .and_then(|id| clean_message_id(&id)),
        from: first("From").and_then(|v| parse::first_address(&v)).map(|(_, address)| one_line(&address, 320)),
        subject: first("Subject").map(|s| one_line(&s, 998)),
    }
}

/// A parsed message with its threading keys, waiting for the text of the notification it may quote.
#[derive(Debug)]
pub struct Reading {
    message: InboundMessage,
    thread: ThreadKeys,
    text: String,
}

/// The `[#1234]` reference in a subject.
pub fn subject_reference(subject: &str) -> Option<i64> {
    let (_, after) = subject.split_once("[#")?;
    let (digits, _) = after.split_once(']')?;
    (!digits.is_empty() && digits.len() <= 18 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// Verifies the reply tokens among the recipients (`support+<token>@domain`).
fn reply_tokens(message: &InboundMessage, settings: &InboundSettings) -> Vec<ReplyTokenClaim> {
    let (reply_local, reply_domain) = settings.reply_to.rsplit_once('@').unwrap_or((settings.reply_to.as_str(), ""));
    let prefix = format!("{}+", reply_local.to_ascii_lowercase());
    let mut claims = Vec::new();
    for address in &message.recipients {
        let Some((local, domain)) = address.rsplit_once('@') else { continue };
        let Some(token) = local.strip_prefix(prefix.as_str()) else { continue };
        if !domain.eq_ignore_ascii_case(reply_domain) {
            continue;
        }
        claims.push(match ReplyToken::decode(token, &settings.secret) {
            Some(token) => {
                ReplyTokenClaim::Valid { ticket_reference: token.ticket_reference, recipient_id: token.recipient_id }
            }
            None => ReplyTokenClaim::Invalid,
        });
        if claims.len() == MAX_TOKENS {
            break;
        }
    }
    claims
}

/// `In-Reply-To`, then `References` newest first, with our thread roots recognised.
fn thread_references(message: &InboundMessage, settings: &InboundSettings) -> Vec<ThreadReference> {
    let suffix = format!("@{}>", settings.message_id_domain);
    let mut references: Vec<ThreadReference> = Vec::new();
    for id in message.in_reply_to.iter().chain(message.references.iter().rev()).take(MAX_REFERENCES) {
        let Some(id) = clean_message_id(id) else { continue };
        let root = id.strip_prefix("<ticket-").and_then(|rest| rest.strip_suffix(suffix.as_str()));
        let reference = match root.and_then(|inner| Uuid::parse_str(inner).ok()) {
            Some(ticket_id) => ThreadReference::Ticket(ticket_id),
            None => ThreadReference::Message(id),
        };
        if !references.contains(&reference) {
            references.push(reference);
        }
    }
    references
}

/// Parses a raw message; fails only when it is not a message at all.
pub fn read(raw: &[u8], settings: &InboundSettings) -> Result<Reading, String> {
    let message = parse::parse(raw, settings.max_attachments)?;
    let text = match (&message.text, &message.html) {
        (Some(text), _) if !text.trim().is_empty() => text.clone(),
        (_, Some(html)) => html::html_to_text(html),
        (Some(text), None) => text.clone(),
        (None, None) => String::new(),
    };
    let thread = ThreadKeys {
        tokens: reply_tokens(&message, settings),
        references: thread_references(&message, settings),
        subject_reference: subject_reference(&message.subject),
    };
    Ok(Reading { message, thread, text })
}

impl Reading {
    /// Where the notification this message may quote is found: the Message-IDs it answers (newest first), then
    /// the ticket and recipient of a verified reply token.
    pub fn quoted_notification(&self) -> (Vec<&str>, Option<(i64, Uuid)>) {
        let ids = self
            .thread
            .references
            .iter()
            .filter_map(|reference| match reference {
                ThreadReference::Message(id) => Some(id.as_str()),
                ThreadReference::Ticket(_) => None,
            })
            .collect();
        let token = self.thread.tokens.iter().find_map(|claim| match *claim {
            ReplyTokenClaim::Valid { ticket_reference, recipient_id } => Some((ticket_reference, recipient_id)),
            ReplyTokenClaim::Invalid => None,
        });
        (ids, token)
    }

    /// The message as the domain sees it; `sent` is the text of the notification it answers, if known, whose
    /// quoted copy is cut from the reply.
    pub fn into_mail(self, message_id: String, sent: Option<&str>, settings: &InboundSettings) -> InboundMail {
        let Reading { message, thread, text } = self;
        // Our thread: a verified reply token, our thread root, or a Message-ID of ours (notifications are sent
        // with Message-IDs in our domain).
        let ours = format!("@{}>", settings.message_id_domain.to_ascii_lowercase());
        let answers_our_thread = thread.tokens.iter().any(|t| matches!(t, ReplyTokenClaim::Valid { .. }))
            || thread.references.iter().any(|reference| match reference {
                ThreadReference::Ticket(_) => true,
                ThreadReference::Message(id) => id.to_ascii_lowercase().ends_with(&ours),
            });
        let kind = match classify::automatic(&message) {
            Some(Automatic::Bounce) => MailKind::Bounce(BounceReport {
                message_ids: message
                    .reported_message_id
                    .iter()
                    .chain(message.in_reply_to.iter())
                    .chain(message.references.iter())
                    .take(MAX_REFERENCES)
                    .filter_map(|id| clean_message_id(id))
                    .collect(),
                diagnostic: one_line(message.report_diagnostic.as_deref().unwrap_or(&message.subject), 1000),
            }),
            Some(Automatic::Other(why)) => MailKind::Automatic(one_line(&why, 200)),
            // A forward prefix in the subject always means a forward; a forward marker in the body only when the
            // message does not answer one of our notifications (clients such as Samsung Email put
            // "Original message" separators above a plain reply).
            None if classify::is_forward(&message, "") => MailKind::Forward,
            None if !answers_our_thread && classify::is_forward(&message, &text) => MailKind::Forward,
            None => MailKind::Personal,
        };
        let sender = message.from.as_deref().map(|address| Sender {
            address: one_line(address, 320),
            name: message.from_name.as_deref().map(|n| one_line(n, values::NAME_MAX)).filter(|n| !n.is_empty()),
        });
        let sender_verdict = match (&settings.trusted_authserv_id, &sender) {
            (Some(authserv_id), Some(sender)) => {
                let domain = sender.address.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
                authentication::verdict(&message.headers, authserv_id, domain)
            }
            _ => SenderVerdict::Unknown,
        };
        let language = message
            .header("Content-Language")
            .and_then(|l| values::language("language", l.split(',').next().unwrap_or_default()).ok());
        let reply_text = reply_text::reply_text(&text, sent);
        let full_text = reply_text::cut_at_marker(&text);
        InboundMail {
            message_id,
            sender,
            sender_verdict,
            subject: one_line(&message.subject, 998),
            language,
            kind,
            thread,
            reply_text,
            full_text,
            attachments: message
                .attachments
                .into_iter()
                .map(|a| MailAttachment { filename: a.filename, content_type: a.content_type, data: a.data })
                .collect(),
        }
    }
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
        assert_eq!(subject_reference("[#99999999999999999999999]"), None);
        assert_eq!(subject_reference("[#четврток]"), None);
    }

    #[test]
    fn headlines_survive_nul_bytes_and_garbage() {
        let headline = headline(b"Message-ID: <a\x00b@x>\r\nSubject: hi\x00there\r\nFrom: a@b.org\r\n\r\nbody");
        assert_eq!(headline.message_id.as_deref(), Some("<ab@x>"));
        assert_eq!(headline.subject.as_deref(), Some("hi there"));
        assert_eq!(headline.from.as_deref(), Some("a@b.org"));
        let nothing = super::headline(b"\x00\x01\x02");
        assert!(nothing.message_id.is_none());
    }
}
