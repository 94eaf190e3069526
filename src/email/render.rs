//! Rendering notifications: one text and one HTML layout (`templates/`), and a phrase catalog per language
//! (`locales/`). A recipient gets their preferred language (`sr-Latn`, then `sr`, then English).

use std::collections::HashMap;

use anyhow::Context;
use minijinja::{Environment, context};
use serde::Deserialize;

use crate::models::outbox::NotificationKind;
use crate::vocabulary::SlaClock;
use crate::vocabulary::TicketStatus;

/// The first line of every notification. Replies are cut here first: whatever the client, the new text stands
/// above it and the quoted notification below.
pub const REPLY_MARKER: &str = "##- Please type your reply above this line -##";

/// The languages with a catalog, as file names under `locales/`.
const CATALOGS: &[(&str, &str)] = &[
    ("en", include_str!("locales/en.json")),
    ("sq", include_str!("locales/sq.json")),
    ("sr", include_str!("locales/sr.json")),
    ("sr-latn", include_str!("locales/sr-latn.json")),
    ("mk", include_str!("locales/mk.json")),
    ("bs", include_str!("locales/bs.json")),
    ("tr", include_str!("locales/tr.json")),
];

/// The phrases of one language.
#[derive(Debug, Deserialize)]
struct Catalog {
    greeting: String,
    ticket_received: String,
    staff_reply: String,
    status_now: String,
    ticket_assigned: String,
    requester_reply: String,
    reply_reopened: String,
    ticket_reopened: String,
    ticket_unassigned: String,
    sla_warning: String,
    sla_breached: String,
    rate_prompt: String,
    rate_satisfied: String,
    rate_not_satisfied: String,
    reply_hint: String,
    footer: String,
    labels: HashMap<String, String>,
    statuses: HashMap<String, String>,
    clocks: HashMap<String, String>,
}

impl Catalog {
    fn status(&self, status: TicketStatus) -> String {
        self.statuses.get(status.as_str()).cloned().unwrap_or_else(|| status.to_string())
    }

    fn clock(&self, clock: SlaClock) -> String {
        self.clocks.get(clock.as_str()).cloned().unwrap_or_else(|| clock.to_string())
    }

    fn label(&self, key: &str) -> String {
        self.labels.get(key).cloned().unwrap_or_else(|| key.to_owned())
    }
}

/// Everything a notification says.
#[derive(Debug, Clone)]
pub struct Notification<'a> {
    /// What it is about.
    pub kind: NotificationKind,
    /// The recipient's preferred language (BCP 47).
    pub language: &'a str,
    /// The recipient's name.
    pub recipient_name: &'a str,
    /// The ticket's reference number.
    pub reference: i64,
    /// The ticket's subject.
    pub ticket_subject: &'a str,
    /// The ticket's status now.
    pub status: TicketStatus,
    /// The requesting organisation's name.
    pub organization: &'a str,
    /// Who wrote the message quoted, if any.
    pub author: Option<&'a str>,
    /// The message quoted, if any.
    pub quote: Option<&'a str>,
    /// The status a change or reply set, if any.
    pub new_status: Option<TicketStatus>,
    /// Whether a reply reopened the ticket.
    pub reopened: bool,
    /// For a service-level notice: the clock and its due time (already formatted for the reader).
    pub sla: Option<(SlaClock, String)>,
    /// The rating links (satisfied, not satisfied; each opens a page with the button that records it) of a "resolved" email to the requester.
    pub rating_links: Option<(String, String)>,
}

/// A rendered notification.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The subject, tagged with the reference: `[#1042] ...`.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

/// The layouts and catalogs, parsed once.
pub struct Templates {
    environment: Environment<'static>,
    catalogs: HashMap<&'static str, Catalog>,
}

/// Replaces `{name}` placeholders.
fn fill(phrase: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(phrase.to_owned(), |text, (key, value)| text.replace(&format!("{{{key}}}"), value))
}

impl Templates {
    /// Parses the layouts and every catalog; an error here is a bug in the files shipped with the binary.
    pub fn load() -> anyhow::Result<Templates> {
        let mut environment = Environment::new();
        environment.add_template("notification.txt", include_str!("templates/notification.txt"))?;
        environment.add_template("notification.html", include_str!("templates/notification.html"))?;
        let mut catalogs = HashMap::new();
        for (language, json) in CATALOGS {
            let catalog: Catalog = serde_json::from_str(json).with_context(|| format!("locales/{language}.json"))?;
            catalogs.insert(*language, catalog);
        }
        Ok(Templates { environment, catalogs })
    }

    /// The catalog for a BCP 47 tag: the whole tag, then its primary language, then English.
    fn catalog(&self, language: &str) -> (&'static str, &Catalog) {
        let tag = language.to_ascii_lowercase();
        let primary = tag.split('-').next().unwrap_or_default().to_owned();
        for candidate in [tag.as_str(), primary.as_str(), "en"] {
            if let Some((name, catalog)) = self.catalogs.get_key_value(candidate) {
                return (name, catalog);
            }
        }
        unreachable!("the English catalog is always loaded")
    }

    /// Renders a notification in the recipient's language.
    pub fn render(&self, notification: &Notification<'_>) -> anyhow::Result<Rendered> {
        let (language, catalog) = self.catalog(notification.language);
        let reference = format!("{}", notification.reference);
        let author = notification.author.unwrap_or_default();
        let values = [
            ("name", notification.recipient_name),
            ("reference", reference.as_str()),
            ("organization", notification.organization),
            ("author", author),
        ];
        let status_line = |status: TicketStatus| fill(&catalog.status_now, &[("status", &catalog.status(status))]);
        let (intro, outro) = match notification.kind {
            NotificationKind::TicketReceived => (fill(&catalog.ticket_received, &values), None),
            NotificationKind::StaffReply => {
                (fill(&catalog.staff_reply, &values), notification.new_status.map(status_line))
            }
            NotificationKind::StatusChanged => {
                (status_line(notification.new_status.unwrap_or(notification.status)), None)
            }
            NotificationKind::TicketAssigned => (fill(&catalog.ticket_assigned, &values), None),
            NotificationKind::RequesterReply => {
                (fill(&catalog.requester_reply, &values), notification.reopened.then(|| catalog.reply_reopened.clone()))
            }
            NotificationKind::TicketReopened => (fill(&catalog.ticket_reopened, &values), None),
            NotificationKind::TicketUnassigned => (fill(&catalog.ticket_unassigned, &values), None),
            NotificationKind::SlaWarning | NotificationKind::SlaBreached => {
                let phrase = match notification.kind {
                    NotificationKind::SlaWarning => &catalog.sla_warning,
                    _ => &catalog.sla_breached,
                };
                let (clock, due) = notification.sla.clone().unwrap_or((SlaClock::Resolution, String::new()));
                let clock = catalog.clock(clock);
                let mut with_clock = values.to_vec();
                with_clock.extend([("clock", clock.as_str()), ("due", due.as_str())]);
                (fill(phrase, &with_clock), None)
            }
        };
        let rating = notification.rating_links.as_ref().map(|(satisfied, not_satisfied)| {
            context! {
                prompt => catalog.rate_prompt,
                satisfied_label => catalog.rate_satisfied, satisfied,
                not_satisfied_label => catalog.rate_not_satisfied, not_satisfied,
            }
        });
        let subject = format!("[#{}] {}", notification.reference, notification.ticket_subject);
        let facts = vec![
            context! { label => catalog.label("reference"), value => format!("#{reference}") },
            context! { label => catalog.label("subject"), value => notification.ticket_subject },
            context! { label => catalog.label("status"), value => catalog.status(notification.status) },
        ];
        let quote_lines: Vec<&str> = notification.quote.map(|q| q.lines().collect()).unwrap_or_default();
        let page = context! {
            language, subject, marker => REPLY_MARKER, hint => catalog.reply_hint,
            greeting => fill(&catalog.greeting, &values), intro, outro,
            quote => notification.quote, quote_lines, facts, rating, footer => catalog.footer,
        };
        let text = self.environment.get_template("notification.txt")?.render(&page)?;
        let html = self.environment.get_template("notification.html")?.render(&page)?;
        Ok(Rendered { subject, text, html })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(kind: NotificationKind, language: &'static str) -> Notification<'static> {
        Notification {
            kind,
            language,
            recipient_name: "Ana <script>",
            reference: 1042,
            ticket_subject: "Грант & budget",
            status: TicketStatus::Pending,
            organization: "Green Valley",
            author: Some("Besa"),
            quote: Some("First line\nSecond line"),
            new_status: Some(TicketStatus::Pending),
            reopened: false,
            sla: Some((SlaClock::FirstResponse, "2026-12-01 10:00 Europe/Tirane".to_owned())),
            rating_links: None,
        }
    }

    #[test]
    fn every_kind_renders_in_every_language() {
        let templates = Templates::load().unwrap();
        for (language, _) in CATALOGS {
            for kind in NotificationKind::ALL {
                let rendered = templates.render(&sample(*kind, language)).unwrap();
                assert_eq!(rendered.subject, "[#1042] Грант & budget");
                assert!(rendered.text.starts_with(REPLY_MARKER), "{language} {kind}");
                assert!(rendered.text.contains("#1042"), "{language} {kind}: {}", rendered.text);
                assert!(!rendered.text.contains('{'), "no unfilled placeholder: {}", rendered.text);
            }
        }
    }

    #[test]
    fn html_is_escaped_and_languages_fall_back() {
        let templates = Templates::load().unwrap();
        let rendered = templates.render(&sample(NotificationKind::StaffReply, "en")).unwrap();
        assert!(rendered.html.contains("Ana &lt;script&gt;"));
        assert!(rendered.text.contains("Ana <script>"));
        assert!(rendered.text.contains("> Second line"));
        let serbian_latin = templates.render(&sample(NotificationKind::StaffReply, "sr-Latn")).unwrap();
        assert!(serbian_latin.text.contains("Zdravo"));
        let serbian = templates.render(&sample(NotificationKind::StaffReply, "sr")).unwrap();
        assert!(serbian.text.contains("Здраво"));
        let unknown = templates.render(&sample(NotificationKind::StaffReply, "de-AT")).unwrap();
        assert!(unknown.text.contains("Hello"));
    }

    #[test]
    fn service_level_notices_name_the_clock_and_rating_links_appear() {
        let templates = Templates::load().unwrap();
        let breach = templates.render(&sample(NotificationKind::SlaBreached, "en")).unwrap();
        assert!(
            breach.text.contains("missed its first response target, which was due 2026-12-01 10:00"),
            "{}",
            breach.text
        );
        let warning = templates.render(&sample(NotificationKind::SlaWarning, "sq")).unwrap();
        assert!(warning.text.contains("përgjigjen e parë"), "{}", warning.text);
        let mut resolved = sample(NotificationKind::StatusChanged, "en");
        resolved.rating_links = Some(("https://x/good?a=1&b=2".to_owned(), "https://x/bad".to_owned()));
        let rendered = templates.render(&resolved).unwrap();
        assert!(rendered.text.contains("Satisfied: https://x/good?a=1&b=2"), "{}", rendered.text);
        assert!(rendered.html.contains("good?a=1&amp;b=2\">Satisfied</a>"), "{}", rendered.html);
        assert!(rendered.html.contains("Not satisfied</a>"));
    }
}
