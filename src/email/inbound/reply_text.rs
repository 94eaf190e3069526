//! Getting the new text out of a reply: cut at our marker, at the quoted copy of the notification we sent, at
//! the attribution lines, header blocks and separators of the common clients in many languages, at signatures,
//! device taglines and list footers; and drop quoted lines, keeping what a person typed between them.
//!
//! The approach follows GitHub's email_reply_parser and Discourse's email_reply_trimmer: look at lines, with a
//! look-ahead of a few lines, find where the quoted history or the signature starts, keep what is above. The
//! words clients use are in [`crate::email::inbound::quote_rules`].
//!
//! Hand-written because no maintained Rust crate trims replies (the known ones are Ruby and JavaScript); every
//! rule looks at a bounded window of lines, so the work is linear in the message.

use crate::email::inbound::html::is_invisible;
use crate::email::inbound::quote_rules::{
    ATTRIBUTION_ENDINGS, DATE_KEYS, FROM_KEYS, LIST_FOOTER_LINES, LIST_GROUPS, LIST_SUBSCRIBED, ORIGINAL_MESSAGE,
    SUBJECT_KEYS, TAGLINE_DEVICES, TAGLINE_ENDINGS, TAGLINES, TO_KEYS,
};
use crate::email::render::REPLY_MARKER;

/// Lines of a reply inspected; what lies beyond is kept only when no history started before it.
pub const MAX_LINES: usize = 20_000;

/// Lines of the sent notification compared with the reply.
const SENT_LINES: usize = 6;

/// Longest line taken for a device tagline.
const TAGLINE_MAX_CHARS: usize = 100;

/// The middle of our marker, which survives quoting and rewrapping.
const MARKER_CORE: &str = "type your reply above this line";

/// Text above our reply marker, or all of it: what a new request keeps of a mail that quotes one of ours.
pub fn cut_at_marker(text: &str) -> String {
    let core = REPLY_MARKER.trim_start_matches("##- ").trim_end_matches(" -##");
    match text.find(core) {
        // Both slices end at a '\n' or at the found marker, so they are on character boundaries.
        Some(position) => text[..text[..position].rfind('\n').unwrap_or(0)].to_owned(),
        None => text.to_owned(),
    }
}

/// One line of the reply, looked at once.
struct Line<'a> {
    /// As written, without the line break.
    raw: &'a str,
    /// See [`comparison_form`].
    lower: String,
    /// Starts with '>' (in the first column).
    quoted: bool,
}

impl Line<'_> {
    fn blank(&self) -> bool {
        self.lower.is_empty()
    }

    fn text(&self) -> bool {
        !self.blank() && !self.quoted
    }
}

/// Line breaks as '\n' (CRLF, LF and a lone CR), invisible characters removed, no-break spaces as spaces.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\u{A0}' | '\u{202F}' | '\u{2007}' => out.push(' '),
            c if is_invisible(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Bidirectional formatting characters, which Arabic and Hebrew clients put around names and addresses.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A line as the rules compare it: trimmed, lower-cased, full-width colons as ':', no bidirectional controls.
fn comparison_form(raw: &str) -> String {
    raw.trim()
        .chars()
        .filter(|&c| !is_bidi_control(c))
        .map(|c| if c == '：' { ':' } else { c })
        .collect::<String>()
        .to_lowercase()
}

/// The comparable form of a line: no quote marks, no surrounding space, lower case.
fn comparable(line: &str) -> String {
    line.trim().trim_start_matches(|c: char| c == '>' || c.is_whitespace()).to_lowercase()
}

/// The first distinctive lines of the notification we sent: not the marker, not short or blank lines.
fn distinctive_lines(sent: &str) -> Vec<String> {
    normalise(sent)
        .lines()
        .map(comparable)
        .filter(|line| line.chars().filter(|c| c.is_alphanumeric()).count() >= 8 && !line.contains(MARKER_CORE))
        .take(SENT_LINES)
        .collect()
}

/// Whether a line is (the start of) one of the sent notification's distinctive lines.
fn is_sent_line(line: &Line<'_>, sent: &[String]) -> bool {
    let comparable = comparable(line.raw);
    comparable.chars().count() >= 8
        && sent.iter().any(|s| *s == comparable || (comparable.chars().count() >= 20 && s.starts_with(&comparable)))
}

/// Whether the text has a clock time ("9:00") or a year ("2026").
fn has_time_or_year(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.windows(4).any(|w| {
        (w[0].is_ascii_digit() && w[1] == b':' && w[2].is_ascii_digit() && w[3].is_ascii_digit())
            || ((w[0] == b'1' && w[1] == b'9') || (w[0] == b'2' && w[1] == b'0'))
                && w[2].is_ascii_digit()
                && w[3].is_ascii_digit()
    })
}

/// Whether an attribution candidate names a date, a time or an address, as clients' attributions do.
fn has_date_or_address(text: &str) -> bool {
    text.contains('@') || has_time_or_year(text)
}

/// The key of a "Key: value" line, lower-cased, without bold marks.
fn header_key(lower: &str) -> Option<&str> {
    let (key, _) = lower.split_once(':')?;
    let key = key.trim().trim_matches('*').trim();
    (!key.is_empty() && key.chars().count() <= 24).then_some(key)
}

fn key_in(lower: &str, keys: &[&str]) -> bool {
    header_key(lower).is_some_and(|key| keys.contains(&key))
}

/// Whether the line is any header-block line ("From:", "Sent:", "To:", "Subject:" in some language).
fn is_header_line(lower: &str) -> bool {
    [FROM_KEYS, DATE_KEYS, TO_KEYS, SUBJECT_KEYS].iter().any(|keys| key_in(lower, keys))
}

/// Whether an Outlook-style header block starts here: a "From:" line and, within the next lines, two more of
/// "Sent:", "To:" and "Subject:".
fn is_header_block(lines: &[Line<'_>], index: usize) -> bool {
    if !key_in(&lines[index].lower, FROM_KEYS) {
        return false;
    }
    let following = lines[index + 1..].iter().take(6).filter(|line| line.text());
    let kinds = [DATE_KEYS, TO_KEYS, SUBJECT_KEYS];
    let mut seen = [false; 3];
    for line in following {
        for (kind, keys) in kinds.iter().enumerate() {
            if key_in(&line.lower, keys) {
                seen[kind] = true;
            }
        }
    }
    seen.iter().filter(|&&seen| seen).count() >= 2
}

/// How many lines (1 to 3) an attribution starting here takes: "On <date>, <name> wrote:" in some language,
/// possibly wrapped, or a line with a date or time and an address that ends with ':'.
fn attribution_length(lines: &[Line<'_>], index: usize) -> Option<usize> {
    let mut joined = String::new();
    for (offset, line) in lines[index..].iter().take(3).enumerate() {
        if !line.text() {
            return None;
        }
        if offset > 0 {
            joined.push(' ');
        }
        joined.push_str(&line.lower);
        let candidate = joined.trim_end();
        let ending = ATTRIBUTION_ENDINGS.iter().any(|ending| candidate.ends_with(ending));
        // A wrapped attribution wraps because of the address; without one, two lines are just text.
        let dated = if offset == 0 { has_date_or_address(candidate) } else { candidate.contains('@') };
        if (ending && (dated || (offset == 0 && followed_by_quote(lines, index + 1))))
            || (candidate.ends_with(':') && candidate.contains('@') && has_time_or_year(candidate))
        {
            return Some(offset + 1);
        }
        // Only a line with a date goes on to the next: wrapped attributions start with the date.
        if offset == 0 && !has_date_or_address(candidate) {
            return None;
        }
    }
    None
}

/// Whether the next non-blank line (within two) is quoted.
fn followed_by_quote(lines: &[Line<'_>], from: usize) -> bool {
    lines.iter().skip(from).take(3).find(|line| !line.blank()).is_some_and(|line| line.quoted)
}

/// A line made of one delimiter character: `_____`, `-----`, `=====`.
fn is_delimiter(lower: &str) -> bool {
    let mut chars = lower.chars();
    let Some(first) = chars.next() else { return false };
    matches!(first, '_' | '-' | '=' | '~' | '*') && lower.chars().count() >= 5 && chars.all(|c| c == first)
}

/// An "-----Original Message-----" line, or any "--- words ---" line followed by a header line.
fn is_separator(lines: &[Line<'_>], index: usize) -> bool {
    let lower = &lines[index].lower;
    if !(lower.starts_with("---") && lower.ends_with("---")) || is_delimiter(lower) {
        return false;
    }
    let inner = lower.trim_matches(|c: char| c == '-' || c.is_whitespace());
    ORIGINAL_MESSAGE.contains(&inner)
        || lines[index + 1..].iter().take(2).find(|line| !line.blank()).is_some_and(|line| is_header_line(&line.lower))
}

fn is_marker(lower: &str) -> bool {
    lower.contains(MARKER_CORE)
}

/// A delimiter line that introduces quoted history or a list footer, not one a person drew.
fn is_history_delimiter(lines: &[Line<'_>], index: usize) -> bool {
    if !is_delimiter(&lines[index].lower) {
        return false;
    }
    lines[index + 1..].iter().filter(|line| !line.blank()).take(3).enumerate().any(|(offset, line)| {
        line.quoted
            || is_marker(&line.lower)
            || key_in(&line.lower, FROM_KEYS)
            || LIST_FOOTER_LINES.iter().any(|word| line.lower.contains(word))
            || (offset == 0 && attribution_length_of(line))
    })
}

/// Whether a single line reads as an attribution on its own.
fn attribution_length_of(line: &Line<'_>) -> bool {
    let lower = line.lower.trim_end();
    lower.ends_with(':')
        && has_date_or_address(lower)
        && (lower.contains('@') || ATTRIBUTION_ENDINGS.iter().any(|ending| lower.ends_with(ending)))
}

fn is_tagline(lower: &str) -> bool {
    lower.chars().count() <= TAGLINE_MAX_CHARS
        && (TAGLINES.iter().any(|tagline| lower.starts_with(tagline))
            || (TAGLINE_ENDINGS.iter().any(|ending| lower.trim_end_matches('.').ends_with(ending))
                && TAGLINE_DEVICES.iter().any(|device| lower.contains(device))))
}

fn is_list_footer(lower: &str) -> bool {
    lower.split("google").skip(1).any(|after| LIST_GROUPS.iter().any(|g| after.trim_start().starts_with(g)))
        && LIST_SUBSCRIBED.iter().any(|word| lower.contains(word))
}

fn is_signature(raw: &str) -> bool {
    raw.trim_end() == "--" && raw.trim_start().starts_with("--")
}

/// Whether everything from this (unquoted, non-blank) line on is history, a signature or a footer.
fn ends_the_reply(lines: &[Line<'_>], index: usize, sent: &[String]) -> bool {
    let line = &lines[index];
    is_marker(&line.lower)
        || is_sent_line(line, sent)
        || is_signature(line.raw)
        || is_header_block(lines, index)
        || is_separator(lines, index)
        || is_history_delimiter(lines, index)
        || is_tagline(&line.lower)
        || is_list_footer(&line.lower)
}

/// Whether a kept line just above the end of the reply belongs to the history: an attribution, a header line, a
/// delimiter, or a line naming our address.
fn leads_into_history(line: &Line<'_>) -> bool {
    is_delimiter(&line.lower)
        || attribution_length_of(line)
        || (line.lower.ends_with(':') && has_date_or_address(&line.lower))
        || line.lower.contains("support@")
        || (is_header_line(&line.lower) && has_date_or_address(&line.lower))
}

/// The new text of a reply, without quoted history, signature, tagline or footer; `sent` is the plain text of the
/// notification it answers, when known. Falls back to the whole text when nothing would be left.
pub fn reply_text(text: &str, sent: Option<&str>) -> String {
    let text = normalise(text);
    let sent = sent.map(distinctive_lines).unwrap_or_default();
    let mut all = text.split('\n');
    let lines: Vec<Line<'_>> = all
        .by_ref()
        .take(MAX_LINES)
        .map(|raw| {
            let lower = comparison_form(raw);
            // A quote mark is at the start of the line; " > x" is text (format=flowed keeps that space).
            Line { raw, quoted: raw.starts_with('>'), lower }
        })
        .collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut ended = false;
    let mut quoted_notification = false;
    let mut index = 0;
    while index < lines.len() {
        let line = &lines[index];
        if line.quoted {
            // Where the quoted copy of our notification starts, the line that introduces it is an attribution,
            // whatever its language: the last line above ending in a colon, with any lead-in above that.
            if !quoted_notification && is_sent_line(line, &sent) {
                quoted_notification = true;
                drop_attribution(&mut kept);
            }
            index += 1;
            continue;
        }
        if line.blank() {
            kept.push("");
            index += 1;
            continue;
        }
        if ends_the_reply(&lines, index, &sent) {
            ended = true;
            break;
        }
        if let Some(length) = attribution_length(&lines, index) {
            if followed_by_quote(&lines, index + length) {
                // The quote it introduces is skipped line by line; the text after it is the person's again.
                index += length;
                continue;
            }
            ended = true;
            break;
        }
        // Text that begins with '>' was space-stuffed so as not to read as a quote; the space is not the person's.
        let raw = line.raw.strip_prefix(' ').filter(|rest| rest.starts_with('>')).unwrap_or(line.raw);
        kept.push(raw.trim_end());
        index += 1;
    }
    if ended {
        drop_lead_in(&mut kept);
    }
    let mut reply = collapse(&kept);
    if !ended {
        for rest in all {
            reply.push('\n');
            reply.push_str(rest);
        }
    }
    let reply = reply.trim().to_owned();
    if reply.is_empty() { text.trim().to_owned() } else { reply }
}

/// Drops the line introducing a quote of our notification (it ends in a colon) and the lead-in above it.
fn drop_attribution(kept: &mut Vec<&str>) {
    while kept.last().is_some_and(|line| line.trim().is_empty()) {
        kept.pop();
    }
    if kept.last().is_some_and(|line| comparison_form(line).ends_with(':')) {
        kept.pop();
        drop_lead_in(kept);
    }
}

/// Drops the lines just above the end of the reply that introduce the history (up to four).
fn drop_lead_in(kept: &mut Vec<&str>) {
    let mut dropped = 0;
    while dropped < 4 {
        while kept.last().is_some_and(|line| line.trim().is_empty()) {
            kept.pop();
        }
        let Some(last) = kept.last() else { break };
        let line = Line { raw: last, quoted: false, lower: comparison_form(last) };
        if !leads_into_history(&line) {
            break;
        }
        kept.pop();
        dropped += 1;
    }
}

/// The kept lines, with at most one blank line in a row.
fn collapse(kept: &[&str]) -> String {
    let mut out = String::new();
    let mut blank = false;
    for line in kept {
        if line.is_empty() {
            blank = true;
            continue;
        }
        if blank && !out.is_empty() {
            out.push('\n');
        }
        blank = false;
        out.push_str(line);
        out.push('\n');
    }
    out
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

    #[test]
    fn keeps_typed_lines_that_look_like_headers() {
        let typed = "The documents we need:\n- the annex\n\nOn Monday we can meet.\nFrom next week we are closed.\n\
                     Od: 10:00 do 14:00\nThis is what she wrote:\n\"All fine.\"";
        assert_eq!(
            reply_text(&format!("{typed}\n\nOn Mon, 1 Dec 2026 at 10:00, Besa <b@x.org> wrote:\n> old"), None),
            typed
        );
    }

    #[test]
    fn cuts_at_attributions_headers_and_separators_in_many_languages() {
        let cases = [
            "Le lun. 1 déc. 2026 à 10:00, Besa <b@x.org> a écrit :\n> old",
            "Am Mo., 1. Dez. 2026 um 10:00 Uhr schrieb Besa <b@x.org>:\n> old",
            "El lun, 1 dic 2026 a las 10:00, Besa (<b@x.org>) escribió:\n> old",
            "W dniu 1.12.2026 o 10:00, Besa <b@x.org> pisze:\n> old",
            "2026年12月1日(月) 10:00 Besa <b@x.org>:\n> old",
            "2016-03-03 17:21 GMT+01:00 Besa <b@x.org>:\n> old",
            "Op ma 1 dec. 2026 om 10:00 schreef Besa <b@x.org>:\n> old",
            "On Mon, 1 Dec 2026 at 10:00, civicdesk\n<support@desk.example.org>\nwrote:\n\n> old",
            "De : civicdesk <support@desk.example.org>\nEnvoyé : lundi 1 décembre 2026 10:00\nÀ : Arta\nObjet : [#1] x",
            "Von: civicdesk <support@desk.example.org>\nGesendet: Montag, 1. Dezember 2026 10:00\nAn: Arta\nBetreff: x",
            "Van: civicdesk\nVerzonden: maandag 1 december 2026 10:00\nAan: Arta\nOnderwerp: x",
            "От: civicdesk\nОтправлено: 1 декабря 2026 г. 10:00\nКому: Arta\nТема: x",
            "差出人: civicdesk\n送信日時: 2026年12月1日 10:00\n宛先: Arta\n件名: x",
            "发件人: civicdesk\n发送时间: 2026年12月1日 10:00\n收件人: Arta\n主题: x",
            "-------- Original message --------\nFrom: civicdesk <support@desk.example.org>\nDate: 01/12/2026 10:00",
            "-------- Originalnachricht --------\nVon: civicdesk",
            "-----Wiadomość oryginalna-----\nOd: civicdesk",
            "=========\ncivicdesk <support@desk.example.org> wrote on 1/12/2026 10:00:\n> old",
            "Sent from my Android device with K-9 Mail. Please excuse my brevity.",
            "Get Outlook for iOS<https://aka.ms/o0ukef>",
            "Sent from Yahoo Mail on Android",
            "Sent with Proton Mail secure email.",
            "Von meinem iPhone gesendet",
            "Envoyé de mon iPhone",
            "Отправлено с iPhone",
            "发自我的iPhone",
            "-- \nArta Morina\nGreen Valley",
            "_______________________________________________\nNetwork mailing list\nhttps://lists.example.org/mailman/listinfo/net",
            "You received this message because you are subscribed to the Google Groups \"Net\" group.",
        ];
        for case in cases {
            assert_eq!(reply_text(&format!("Thanks!\n\n{case}"), None), "Thanks!", "{case:?}");
        }
    }

    #[test]
    fn keeps_what_was_typed_between_quotes() {
        let reply = "On Mon, 1 Dec 2026 at 10:00, civicdesk <support@desk.example.org> wrote:\n> Can you send it?\n\n\
                     Yes, on Monday.\n\n> And the list?\n\nTomorrow.\n\n> Reference: #1\n\nArta";
        assert_eq!(reply_text(reply, None), "Yes, on Monday.\n\nTomorrow.\n\nArta");
    }

    #[test]
    fn cuts_at_the_notification_we_sent() {
        let sent = format!(
            "{REPLY_MARKER}\nTo answer, reply to this email and write above the line at the top.\n\nHello Arta,\n\n\
             Besa Gashi replied to your request:\n\n> Can you send it?\n"
        );
        // A client that neither quotes nor writes a known attribution, and rewrapped our marker away.
        let reply = "Yes, Monday.\n\nArta\n\n1.12.2026 10:00 skribis civicdesk <support@desk.example.org>:\n\n\
                     Hello Arta,\n\nBesa Gashi replied to your request:\n";
        assert_eq!(reply_text(reply, Some(&sent)), "Yes, Monday.\n\nArta");
        assert_eq!(reply_text("Yes.\n\nHELLO ARTA,\nmore", Some(&sent)), "Yes.");
        // A quoted copy under an attribution in a language no rule knows, the marker dropped.
        let quoted = "Ndiyo.\nAsante!\n\nJumamosi, civicdesk alituandikia hivi:\n> To answer, reply to this email \
                      and write above the line at the top.\n>\n> Hello Arta,\n";
        assert_eq!(reply_text(quoted, Some(&sent)), "Ndiyo.\nAsante!");
        assert_eq!(reply_text(quoted, None), "Ndiyo.\nAsante!\n\nJumamosi, civicdesk alituandikia hivi:");
    }

    #[test]
    fn removes_invisible_characters_and_reads_every_line_ending() {
        assert_eq!(reply_text("a\u{200B}b\u{FEFF}\rc\r\n\u{00AD}d\n\nSent from my iPhone", None), "ab\nc\nd");
    }

    #[test]
    fn stays_linear_on_large_replies() {
        let line = "On Mon at 10:00 something wrote: and more and more text here\n";
        let big = format!("{}{}", line.repeat(50_000), "\u{200B}x ".repeat(1_000_000));
        let start = std::time::Instant::now();
        let _ = reply_text(&big, Some(&big));
        let delimiters = "-----\n\n\n".repeat(100_000);
        let _ = reply_text(&delimiters, None);
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "{:?}", start.elapsed());
    }

    #[test]
    fn cut_at_marker_keeps_the_text_above() {
        assert_eq!(cut_at_marker(&format!("New request\n\n> {REPLY_MARKER}\n> old")), "New request\n");
        assert_eq!(cut_at_marker("no marker"), "no marker");
    }
}
