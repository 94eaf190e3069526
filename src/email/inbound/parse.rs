//! Reading a raw RFC 5322 message into the parts ingestion needs, behind our own type so that the parser
//! (mailparse) can be swapped. Charsets (UTF-8, windows-1250/1251/1254, ISO-8859-2/5/9, ...), quoted-printable,
//! base64, RFC 2047 encoded words and RFC 2231 file names are decoded here.

use crate::email::inbound::flowed;
use mailparse::{DispositionType, MailAddr, MailHeaderMap, ParsedMail};

/// A file attached to a message.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// The file name, as sent (decoded), or `attachment`.
    pub filename: String,
    /// The media type, such as `application/pdf`.
    pub content_type: String,
    /// The content.
    pub data: Vec<u8>,
}

/// An email as ingestion sees it.
#[derive(Debug, Clone, Default)]
pub struct InboundMessage {
    /// The Message-ID, with angle brackets.
    pub message_id: Option<String>,
    /// Message-IDs of In-Reply-To.
    pub in_reply_to: Vec<String>,
    /// Message-IDs of References, oldest first.
    pub references: Vec<String>,
    /// The sender's address, lower-cased.
    pub from: Option<String>,
    /// The sender's display name.
    pub from_name: Option<String>,
    /// Every address the message was sent or delivered to (To, Cc, Delivered-To, X-Original-To, Envelope-To).
    pub recipients: Vec<String>,
    /// The subject, decoded.
    pub subject: String,
    /// Every header, names lower-cased, values decoded.
    pub headers: Vec<(String, String)>,
    /// The first plain-text part, decoded (and unwrapped when it was `format=flowed`).
    pub text: Option<String>,
    /// The first HTML part, decoded.
    pub html: Option<String>,
    /// Attached files.
    pub attachments: Vec<Attachment>,
    /// Whether the message is a delivery-status report (a bounce).
    pub delivery_report: bool,
    /// The Message-ID of the message a delivery report is about.
    pub reported_message_id: Option<String>,
    /// The diagnostic of a delivery report.
    pub report_diagnostic: Option<String>,
}

impl InboundMessage {
    /// The first value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// Message-IDs (`<...>`) in a header value.
pub fn message_ids(value: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find('<') {
        let Some(length) = rest[start..].find('>') else { break };
        let id = &rest[start..=start + length];
        if id.len() > 2 && id.len() <= 998 && !id.contains(char::is_whitespace) {
            ids.push(id.to_owned());
        }
        rest = &rest[start + length + 1..];
    }
    ids
}

/// The first address of an address-list header value, with its display name.
pub fn first_address(value: &str) -> Option<(Option<String>, String)> {
    addresses(value).into_iter().next()
}

fn addresses(value: &str) -> Vec<(Option<String>, String)> {
    let Ok(list) = mailparse::addrparse(value) else { return Vec::new() };
    let mut found = Vec::new();
    for entry in list.iter() {
        match entry {
            MailAddr::Single(single) => {
                found.push((single.display_name.clone(), single.addr.trim().to_ascii_lowercase()));
            }
            MailAddr::Group(group) => {
                for single in &group.addrs {
                    found.push((single.display_name.clone(), single.addr.trim().to_ascii_lowercase()));
                }
            }
        }
    }
    found
}

/// Parses a raw message; fails only when it is not a message at all.
pub fn parse(raw: &[u8], max_attachments: usize) -> Result<InboundMessage, String> {
    let mail = mailparse::parse_mail(raw).map_err(|error| format!("not a readable message: {error}"))?;
    if mail.headers.is_empty() {
        return Err("not a message: no headers".to_owned());
    }
    // RFC 5322 field names are printable ASCII without a colon; anything else means this is not a message.
    let valid_name = |name: &str| !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':');
    if let Some(bad) = mail.headers.iter().map(|h| h.get_key()).find(|name| !valid_name(name)) {
        return Err(format!("not a message: {:?} is not a header name", bad.chars().take(40).collect::<String>()));
    }
    let headers: Vec<(String, String)> =
        mail.headers.iter().map(|h| (h.get_key().to_ascii_lowercase(), h.get_value())).collect();
    let first = |name: &str| mail.headers.get_first_value(name);
    let from = first("From").map(|v| addresses(&v)).and_then(|list| list.into_iter().next());
    let mut recipients = Vec::new();
    for name in ["To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To"] {
        for value in mail.headers.get_all_values(name) {
            recipients.extend(addresses(&value).into_iter().map(|(_, address)| address));
        }
    }
    recipients.dedup();
    let mut message = InboundMessage {
        message_id: first("Message-ID").and_then(|v| message_ids(&v).into_iter().next()),
        in_reply_to: first("In-Reply-To").map(|v| message_ids(&v)).unwrap_or_default(),
        references: first("References").map(|v| message_ids(&v)).unwrap_or_default(),
        from_name: from.as_ref().and_then(|(name, _)| name.clone()).filter(|n| !n.trim().is_empty()),
        from: from.map(|(_, address)| address).filter(|a| a.contains('@')),
        recipients,
        subject: first("Subject").unwrap_or_default().trim().to_owned(),
        headers,
        ..InboundMessage::default()
    };
    message.delivery_report = mail.ctype.mimetype == "multipart/report"
        && mail.ctype.params.get("report-type").is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"));
    walk(&mail, &mut message, max_attachments);
    Ok(message)
}

fn walk(part: &ParsedMail<'_>, message: &mut InboundMessage, max_attachments: usize) {
    let mimetype = part.ctype.mimetype.as_str();
    if mimetype.starts_with("multipart/") {
        for sub in &part.subparts {
            walk(sub, message, max_attachments);
        }
        return;
    }
    if message.delivery_report {
        match mimetype {
            "message/delivery-status" => {
                // RFC 3464 fields are header lines; mailparse parses the message, not this part's fields, and
                // only the one diagnostic line is kept, so two prefix matches do.
                let status = part.get_body().unwrap_or_default();
                message.report_diagnostic = status
                    .lines()
                    .find(|l| l.to_ascii_lowercase().starts_with("diagnostic-code:"))
                    .or_else(|| status.lines().find(|l| l.to_ascii_lowercase().starts_with("status:")))
                    .map(|l| l.trim().to_owned());
                return;
            }
            "message/rfc822" | "text/rfc822-headers" => {
                let original = part.get_body_raw().unwrap_or_default();
                if let Ok((headers, _)) = mailparse::parse_headers(&original) {
                    message.reported_message_id =
                        headers.get_first_value("Message-ID").and_then(|v| message_ids(&v).into_iter().next());
                }
                return;
            }
            _ => {}
        }
    }
    let disposition = part.get_content_disposition();
    let filename = disposition.params.get("filename").cloned().or_else(|| part.ctype.params.get("name").cloned());
    let is_attachment = disposition.disposition == DispositionType::Attachment
        || (filename.is_some() && !mimetype.starts_with("text/"));
    if !is_attachment && mimetype == "text/plain" && message.text.is_none() {
        let param = |name: &str| part.ctype.params.get(name).map(|v| v.trim().to_ascii_lowercase());
        message.text = part.get_body().ok().map(|body| match param("format").as_deref() {
            Some("flowed") => flowed::decode(&body, param("delsp").as_deref() == Some("yes")),
            _ => body,
        });
    } else if !is_attachment && mimetype == "text/html" && message.html.is_none() {
        message.html = part.get_body().ok();
    } else if (is_attachment || filename.is_some()) && message.attachments.len() < max_attachments {
        let filename = crate::domain::files::clean_name(filename.as_deref().unwrap_or_default());
        message.attachments.push(Attachment {
            filename,
            content_type: mimetype.chars().take(255).collect(),
            data: part.get_body_raw().unwrap_or_default(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_message_ids_in_headers() {
        assert_eq!(message_ids("<a@b> <c@d>\r\n <e@f>"), ["<a@b>", "<c@d>", "<e@f>"]);
        assert!(message_ids("no ids here").is_empty());
        assert_eq!(message_ids("<broken"), Vec::<String>::new());
    }
}
