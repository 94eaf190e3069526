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
    for header in ["X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress", "List-Id", "List-Unsubscribe"] {
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

/// Subject prefixes of forwarded mail, lower-cased, as clients write them: English and Outlook's "FW:", and the
/// localised ones (de WG, fr TR, es RV, it I, pt ENC, nl Doorst, da/no VS and VB, sv VB, fi VL, pl PD, cs/sk
/// PŘEPOSLAT/PREPOSLAŤ, hu TOV, ro Redir, el ΠΡΘ, lt/lv/et/sl/hr/bs/sr/mk/bg/ru/uk, tr, sq, zh, ja, ko, ar).
const FORWARD_PREFIXES: &[&str] = &[
    "fwd:",
    "fw:",
    "wg:",
    "tr:",
    "rv:",
    "i:",
    "enc:",
    "doorst:",
    // Not "vs:": Danish and Norwegian forward with it, but Finnish Outlook replies with it, and a reply taken for a
    // forward would open a new ticket.
    "vb:",
    "vl:",
    "vid:",
    "pd:",
    "přeposlat:",
    "preposlať:",
    "tov:",
    "továbbítás:",
    "redir:",
    "πρθ:",
    "προώθ:",
    "pers:",
    "pārs:",
    "edasi:",
    "posr:",
    "prosl:",
    "proslijeđeno:",
    "prosleđeno:",
    "пр:",
    "препратено:",
    "прослеђено:",
    "пер:",
    "пересл:",
    "переслать:",
    "переслано:",
    "ilt:",
    "i̇lt:",
    "i̇let:",
    "pcj:",
    "përcjell:",
    "转发:",
    "轉寄:",
    "転送:",
    "전달:",
    "إعادة توجيه:",
];

/// Reply prefixes that may stand before a forward prefix ("Re: Fwd: ...").
const REPLY_PREFIXES: &[&str] = &[
    "re:",
    "aw:",
    "odg:",
    "ynt:",
    "ang:",
    "sv:",
    "antw:",
    "r:",
    "ris:",
    "res:",
    "odp:",
    "válasz:",
    "отв:",
    "відп:",
    "回复:",
    "答复:",
    "返信:",
    "답장:",
    "رد:",
];

/// The words between the dashes of a forward marker ("---------- Forwarded message ---------"), lower-cased.
/// "-------- Original message --------" (Samsung) is a reply's separator, not a forward.
const FORWARDED_MESSAGE: &[&str] = &[
    "forwarded message",
    "weitergeleitete nachricht",
    "message transféré",
    "mensaje reenviado",
    "mensagem encaminhada",
    "mensagem reencaminhada",
    "messaggio inoltrato",
    "doorgestuurd bericht",
    "videresendt meddelelse",
    "videresendt melding",
    "vidarebefordrat meddelande",
    "välitetty viesti",
    "edastatud kiri",
    "pārsūtīts ziņojums",
    "persiųstas laiškas",
    "przekazana wiadomość",
    "wiadomość przekazana dalej",
    "přeposlaná zpráva",
    "preposlaná správa",
    "posredovano sporočilo",
    "proslijeđena poruka",
    "prosleđena poruka",
    "прослеђена порука",
    "препратена порака",
    "препратено съобщение",
    "пересылаемое сообщение",
    "переслане повідомлення",
    "προωθημένο μήνυμα",
    "továbbított üzenet",
    "mesaj redirecționat",
    "mesaj redirectionat",
    "teachtaireacht curtha ar aghaidh",
    "messaġġ mibgħut",
    "iletilen ileti",
    "iletilen mesaj",
    "mesazh i përcjellë",
    "mesazhi i përcjellë",
    "転送されたメッセージ",
    "转发的邮件",
    "已转发邮件",
    "轉寄的郵件",
    "전달된 메일",
    "الرسالة المعاد توجيهها",
];

/// Lines Apple Mail and others put above a forwarded message, lower-cased.
const FORWARD_LINES: &[&str] = &[
    "begin forwarded message:",
    "anfang der weitergeleiteten nachricht:",
    "début du message réexpédié :",
    "début du message réexpédié:",
    "inicio del mensaje reenviado:",
    "início da mensagem reencaminhada:",
    "inizio messaggio inoltrato:",
    "begin doorgestuurd bericht:",
    "videresendt meddelelse:",
    "vidarebefordrat brev:",
    "początek przekazywanej wiadomości:",
    "začátek přeposlané zprávy:",
    "započni proslijeđenu poruku:",
    "почетак прослеђене поруке:",
    "начало пересылаемого сообщения:",
    "iletilen ileti başlangıcı:",
    "転送されたメッセージ:",
    "以下是转发的邮件：",
    "以下是转发的邮件:",
];

/// Whether a body line starts a forwarded message.
fn is_forward_line(line: &str) -> bool {
    let line = line.trim().to_lowercase();
    if line.starts_with("---") && line.ends_with("---") {
        let inner = line.trim_matches(|c: char| c == '-' || c.is_whitespace());
        return FORWARDED_MESSAGE.contains(&inner);
    }
    FORWARD_LINES.iter().any(|marker| line.starts_with(marker))
}

/// Whether the message forwards another one (and so is not a reply to the ticket it may quote).
pub fn is_forward(message: &InboundMessage, text: &str) -> bool {
    let mut subject = message.subject.trim().to_lowercase();
    // Reply prefixes may stand before the forward prefix ("Re: Fwd: ...").
    while let Some(rest) = REPLY_PREFIXES.iter().find_map(|p| subject.strip_prefix(p)) {
        subject = rest.trim_start().to_owned();
    }
    FORWARD_PREFIXES.iter().any(|prefix| subject.starts_with(prefix)) || text.lines().any(is_forward_line)
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
        for subject in ["TR: x", "RV: x", "I: x", "Doorst: x", "ПЕР: x", "Пересл: x", "转发: x", "転送: x"]
        {
            assert!(is_forward(&message(subject, &[], "a@b.org"), ""), "{subject}");
        }
        assert!(!is_forward(&message("VS: [#1] x", &[], "a@b.org"), ""), "a Finnish reply");
        for marker in [
            "-------- Weitergeleitete Nachricht --------",
            "---------- Message transféré ---------",
            "Begin forwarded message:",
            "Début du message réexpédié :",
        ] {
            assert!(is_forward(&message("x", &[], "a@b.org"), &format!("FYI\n\n{marker}\nFrom: y")), "{marker}");
        }
    }

    #[test]
    fn a_samsung_reply_is_not_a_forward() {
        let text = "Thanks\n\nSent from my Galaxy\n\n-------- Original message --------\nFrom: civicdesk";
        assert!(!is_forward(&message("Re: [#1] x", &[], "a@b.org"), text));
        assert!(!is_forward(&message("Re: [#1] x", &[], "a@b.org"), "-------- Originalnachricht --------"));
    }
}
