//! Recognising mail that must never be treated as a person's reply: auto-replies, out-of-office notices, bulk and
//! list mail, bounces; and forwarded mail, which is not a reply to the ticket it quotes.

use crate::email::inbound::parse::InboundMessage;

/// Why a message is automatic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Automatic {
    /// A delivery failure report (a bounce).
    Bounce,
    /// An auto-reply, out-of-office notice, bulk or list mail; the reason names the header.
    Other(String),
}

/// Whether the message was sent by a machine, and how it says so.
pub fn automatic(message: &InboundMessage) -> Option<Automatic> {
    let from = message.from.as_deref().unwrap_or_default();
    let local = from.split('@').next().unwrap_or_default();
    let bounce_sender = ["mailer-daemon", "postmaster"].contains(&local);
    let empty_return_path =
        message.header("Return-Path").is_some_and(|v| v.trim().trim_matches(['<', '>']).trim().is_empty());
    if message.delivery_report || bounce_sender {
        return Some(Automatic::Bounce);
    }
    if let Some(value) = message.header("Auto-Submitted")
        && !value.trim().eq_ignore_ascii_case("no")
    {
        return Some(Automatic::Other(format!("Auto-Submitted: {}", value.trim())));
    }
    if let Some(value) = message.header("Precedence")
        && ["bulk", "junk", "list", "auto_reply"].contains(&value.trim().to_ascii_lowercase().as_str())
    {
        return Some(Automatic::Other(format!("Precedence: {}", value.trim())));
    }
    for header in
        ["X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress", "List-Id", "List-Unsubscribe", "Feedback-ID"]
    {
        if message.header(header).is_some() {
            return Some(Automatic::Other(format!("{header} header")));
        }
    }
    if empty_return_path {
        return Some(Automatic::Other("empty Return-Path".to_owned()));
    }
    if ["noreply", "no-reply", "donotreply", "do-not-reply"].contains(&local) {
        return Some(Automatic::Other("sent from a no-reply address".to_owned()));
    }
    None
}

/// Subject prefixes of forwarded mail, lower-cased: English, German, Bosnian/Croatian/Serbian, Turkish, Albanian,
/// Macedonian/Serbian Cyrillic.
const FORWARD_PREFIXES: &[&str] = &[
    "fwd:",
    "fw:",
    "wg:",
    "pd:",
    "proslijeđeno:",
    "prosleđeno:",
    "ilt:",
    "i̇lt:",
    "i̇let:",
    "pcj:",
    "препратено:",
    "прослеђено:",
];

/// Body lines clients put above a forwarded message.
const FORWARD_MARKERS: &[&str] = &[
    "---------- forwarded message ---------",
    "-------- forwarded message --------",
    "begin forwarded message:",
    "-------- original message --------",
    "---------- proslijeđena poruka ---------",
    "---------- prosleđena poruka ---------",
    "---------- iletilen ileti ---------",
    "---------- mesazh i përcjellë ---------",
];

/// Whether the message forwards another one (and so is not a reply to the ticket it may quote).
pub fn is_forward(message: &InboundMessage, text: &str) -> bool {
    let mut subject = message.subject.trim().to_lowercase();
    // Reply prefixes may stand before the forward prefix ("Re: Fwd: ...").
    while let Some(rest) = ["re:", "aw:", "odg:", "ynt:", "ang:"].iter().find_map(|p| subject.strip_prefix(p)) {
        subject = rest.trim_start().to_owned();
    }
    FORWARD_PREFIXES.iter().any(|prefix| subject.starts_with(prefix))
        || text.lines().any(|line| {
            let line = line.trim().to_lowercase();
            FORWARD_MARKERS.iter().any(|marker| line.starts_with(marker))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(subject: &str, headers: &[(&str, &str)], from: &str) -> InboundMessage {
        InboundMessage {
            subject: subject.to_owned(),
            from: Some(from.to_owned()),
            headers: headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_owned())).collect(),
            ..InboundMessage::default()
        }
    }

    #[test]
    fn recognises_machines() {
        let person = "arta@example.org";
        assert_eq!(automatic(&message("Hi", &[], person)), None);
        assert_eq!(automatic(&message("Hi", &[("Auto-Submitted", "no")], person)), None);
        assert!(automatic(&message("Out of office", &[("Auto-Submitted", "auto-replied")], person)).is_some());
        assert!(automatic(&message("x", &[("Precedence", "bulk")], person)).is_some());
        assert!(automatic(&message("x", &[("X-Autoreply", "yes")], person)).is_some());
        assert!(automatic(&message("x", &[("List-Id", "<l.example.org>")], person)).is_some());
        assert!(automatic(&message("x", &[("Return-Path", "<>")], person)).is_some());
        assert_eq!(automatic(&message("Undelivered", &[], "mailer-daemon@mx.example.org")), Some(Automatic::Bounce));
    }

    #[test]
    fn recognises_forwards() {
        for subject in ["Fwd: [#1] x", "FW: x", "WG: x", "PD: x", "İlt: x", "Re: Fwd: x"] {
            assert!(is_forward(&message(subject, &[], "a@b.org"), ""), "{subject}");
        }
        assert!(!is_forward(&message("Re: [#1] x", &[], "a@b.org"), "Thanks"));
        assert!(is_forward(
            &message("x", &[], "a@b.org"),
            "See below\n---------- Forwarded message ---------\nFrom: y"
        ));
    }
}
