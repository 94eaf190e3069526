//! Getting the new text out of a reply: cut at our marker, at the quote header of the common clients in our
//! languages, at quoted blocks, and at signatures; and turning HTML-only mail into text.
//!
//! The approach follows GitHub's email_reply_parser and Discourse's email_reply_trimmer: look at lines, find where
//! the quoted history or the signature starts, keep what is above.

use crate::email::render::REPLY_MARKER;

/// Moved to [`crate::email::inbound::html`]; kept here until callers import it from there.
pub use crate::email::inbound::html::html_to_text;

/// Endings of the "On <date>, <name> wrote:" line, in the languages of the network and of common clients.
const QUOTE_HEADER_ENDINGS: &[&str] = &[
    "wrote:",      // English (Gmail, Apple Mail, Thunderbird, mobile clients)
    "shkroi:",     // Albanian: "Më ..., ... shkroi:"
    "написао:",    // Serbian Cyrillic: "... је написао:"
    "написала:",   //
    "написао/ла:", //
    "napisao:",    // Bosnian, Croatian, Serbian Latin: "... je napisao:"
    "napisala:",   //
    "napisao/la:", //
    "напиша:",     // Macedonian: "... напиша:"
    "напишал:",    //
    "yazdı:",      // Turkish: "... tarihinde ... şunu yazdı:"
    "schrieb:",    // German
    "a écrit :",   // French
    "a écrit:",    //
];

/// Outlook's header-block keys ("From:" then "Sent:"), in the network's languages and common others.
const FROM_KEYS: &[&str] = &["from:", "od:", "nga:", "од:", "kimden:", "von:", "de:", "fra:"];
const DATE_KEYS: &[&str] = &[
    "sent:",
    "date:",
    "datum:",
    "poslano:",
    "poslato:",
    "послато:",
    "испратено:",
    "dërguar:",
    "data:",
    "gönderildi:",
    "tarih:",
    "gesendet:",
    "envoyé:",
    "to:",
    "subject:",
];

/// Lines clients put between the reply and the quoted original.
const SEPARATORS: &[&str] = &[
    "-----original message-----",
    "----- original message -----",
    "-----izvorna poruka-----",
    "-----originalna poruka-----",
    "-----оригинална порака-----",
    "-----orijinal ileti-----",
    "-----orijinal i̇leti-----",
    "-----mesazhi origjinal-----",
];

/// Mobile signatures that end a reply.
const DEVICE_SIGNATURES: &[&str] = &[
    "sent from my iphone",
    "sent from my ipad",
    "sent from my android",
    "sent from my samsung",
    "sent from outlook for",
    "get outlook for",
    "sent from mail for windows",
    "poslato sa mog",
    "poslano s mog",
    "послато са мог",
    "испратено од мој",
    "dërguar nga",
    "iphone'umdan gönderildi",
    "android'imden gönderildi",
];

fn is_quote_header(line: &str) -> bool {
    let lower = line.trim().to_lowercase();
    QUOTE_HEADER_ENDINGS.iter().any(|ending| lower.ends_with(ending)) && lower.chars().count() > 8
}

fn starts_with_any(line: &str, keys: &[&str]) -> bool {
    let lower = line.trim_start().trim_start_matches('*').to_lowercase();
    keys.iter().any(|key| lower.starts_with(key))
}

/// Whether the line starts an Outlook-style header block ("From: ..." followed closely by "Sent: ...").
fn is_header_block(lines: &[&str], index: usize) -> bool {
    starts_with_any(lines[index], FROM_KEYS)
        && lines[index + 1..].iter().take(4).any(|line| starts_with_any(line, DATE_KEYS))
}

/// The new text of a reply, without quoted history or signature. Falls back to the whole text when nothing would
/// be left, so that no content is lost.
pub fn reply_text(text: &str, sent: Option<&str>) -> String {
    let _ = sent;
    let text = text.replace("\r\n", "\n");
    // Our own marker first: whatever the client, the new text is above it.
    let text = match text.find(REPLY_MARKER.trim_start_matches("##- ").trim_end_matches(" -##")) {
        Some(position) => {
            let above = &text[..position];
            // Drop the partial marker line and the client's quote prefix on it.
            above.rfind('\n').map_or("", |line_start| &above[..line_start]).to_owned()
        }
        None => text,
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut end = lines.len();
    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        let lower = trimmed.to_lowercase();
        let two_line_header =
            index + 1 < lines.len() && is_quote_header(&format!("{trimmed} {}", lines[index + 1].trim()));
        if is_quote_header(trimmed)
            || (two_line_header && !trimmed.starts_with('>') && (lower.starts_with("on ") || lower.starts_with("më ")))
            || SEPARATORS.iter().any(|s| lower.starts_with(s))
            || (lower.starts_with("________________")
                && index + 1 < lines.len()
                && starts_with_any(lines[index + 1], FROM_KEYS))
            || is_header_block(&lines, index)
            || trimmed == "--"
            || *line == "-- "
            || DEVICE_SIGNATURES.iter().any(|s| lower.starts_with(s))
        {
            end = index;
            break;
        }
    }
    let mut kept: Vec<&str> = lines[..end].to_vec();
    // A trailing block of quoted lines is history too.
    while kept.last().is_some_and(|l| l.trim().is_empty() || l.trim_start().starts_with('>')) {
        kept.pop();
    }
    let reply = kept.join("\n").trim().to_owned();
    if reply.is_empty() { text.trim().to_owned() } else { reply }
}

/// Text above our reply marker, or all of it.
pub fn cut_at_marker(text: &str) -> String {
    match text.find(REPLY_MARKER.trim_start_matches("##- ").trim_end_matches(" -##")) {
        Some(position) => text[..text[..position].rfind('\n').unwrap_or(0)].to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_quote_headers_in_every_language() {
        let cases = [
            "Thanks!\n\nOn Mon, 1 Dec 2026 at 10:00, Besa <b@x.org> wrote:\n> old",
            "Thanks!\n\nOn Mon, 1 Dec 2026 at 10:00, Besa Gashi <besa@example.org>\nwrote:\n> old",
            "Thanks!\n\nMë 1 dhj 2026, në 10:00, Besa Gashi shkroi:\n> old",
            "Thanks!\n\nпон, 1. дец 2026. у 10:00 Марко је написао:\n> old",
            "Thanks!\n\npon, 1. dec 2026. u 10:00 Amra je napisala:\n> old",
            "Thanks!\n\n1 Ara 2026 Pzt, saat 10:00 tarihinde Ayşe Yılmaz şunu yazdı:\n> old",
            "Thanks!\n\nпон, 1 дек 2026 во 10:00 Ана напиша:\n> old",
            "Thanks!\n\n-----Original Message-----\nFrom: civicdesk\nSent: Monday",
            "Thanks!\n\n________________________________\nFrom: civicdesk <support@example.org>\nSent: Monday, 1 December 2026 10:00\nTo: Arta",
            "Thanks!\n\nFrom: civicdesk <support@example.org>\nDate: Monday, 1 December 2026\nSubject: [#1] x",
            "Thanks!\n\nSent from my iPhone",
            "Thanks!\n-- \nArta Morina\nGreen Valley",
            "Thanks!\n\n> quoted\n> more quoted",
        ];
        for case in cases {
            assert_eq!(reply_text(case, None), "Thanks!", "{case:?}");
        }
    }

    #[test]
    fn cuts_at_our_marker_first() {
        let reply = format!("Yes, Tuesday works.\n\n> {REPLY_MARKER}\n> Hello Arta,\n> ...");
        assert_eq!(reply_text(&reply, None), "Yes, Tuesday works.");
        let top = format!("Fine.\r\n\r\n{REPLY_MARKER}\r\nHello");
        assert_eq!(reply_text(&top, None), "Fine.");
    }

    #[test]
    fn keeps_everything_when_nothing_would_remain() {
        assert_eq!(reply_text("> only a quote", None), "> only a quote");
        assert_eq!(reply_text("Plain message\nwith two lines", None), "Plain message\nwith two lines");
    }
}
