//! Rendering notifications: one text and one HTML layout (`templates/`), and a phrase catalog per language
//! (`locales/`). A recipient gets their preferred language (`sr-Latn`, then `sr`, then English).

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use minijinja::{Environment, context};
use serde::Deserialize;

use crate::domain::notifications::snapshot::Snapshot;
use crate::models::outbox::NotificationKind;
use crate::vocabulary::{Category, Priority, SlaClock, TicketStatus};

/// The first line of every notification. Replies are cut here first: whatever the client, the new text stands
/// above it and the quoted notification below.
pub const REPLY_MARKER: &str = "##- Please type your reply above this line -##";

/// The languages with a catalog: the file under `locales/`, the BCP 47 tag the email declares, the catalog.
const CATALOGS: &[(&str, &str, &str)] = &[
    ("en", "en", include_str!("locales/en.json")),
    ("sq", "sq", include_str!("locales/sq.json")),
    ("sr", "sr", include_str!("locales/sr.json")),
    ("sr-latn", "sr-Latn", include_str!("locales/sr-latn.json")),
    ("mk", "mk", include_str!("locales/mk.json")),
    ("bs", "bs", include_str!("locales/bs.json")),
    ("tr", "tr", include_str!("locales/tr.json")),
];

/// Which way a language is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Direction {
    /// Left to right.
    Ltr,
    /// Right to left.
    Rtl,
}

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
    unassigned: String,
    files_attached: String,
    files_linked: String,
    office_contact: String,
    ticket_merged: String,
    bulk_updated: String,
    bulk_line_status: String,
    labels: HashMap<String, String>,
    statuses: HashMap<String, String>,
    clocks: HashMap<String, String>,
    priorities: HashMap<String, String>,
    categories: HashMap<String, String>,
    direction: Direction,
}

/// A word of a catalog's map, or its key when the catalog lacks it.
fn word(map: &HashMap<String, String>, key: &str) -> String {
    map.get(key).cloned().unwrap_or_else(|| key.to_owned())
}

impl Catalog {
    fn status(&self, status: TicketStatus) -> String {
        word(&self.statuses, status.as_str())
    }

    fn clock(&self, clock: SlaClock) -> String {
        word(&self.clocks, clock.as_str())
    }

    fn priority(&self, priority: Priority) -> String {
        word(&self.priorities, priority.as_str())
    }

    fn category(&self, category: Category) -> String {
        word(&self.categories, category.as_str())
    }

    fn label(&self, key: &str) -> String {
        word(&self.labels, key)
    }
}

/// One notification to render: what it is about, its snapshot, and the rating links signed for it.
#[derive(Debug, Clone)]
pub struct Notification<'a> {
    /// What it is about.
    pub kind: NotificationKind,
    /// What it says, as it was when queued.
    pub snapshot: &'a Snapshot,
    /// The rating links (satisfied, not satisfied; each opens a page with the button that records it) of a
    /// "resolved" email to the requester.
    pub rating_links: Option<(String, String)>,
    /// How the quoted message's files travel: attached to the email, or (too large together) as links.
    pub files: Files,
}

/// How the files of a quoted message travel with its notification.
#[derive(Debug, Clone, Default)]
pub enum Files {
    /// None to send.
    #[default]
    None,
    /// Attached to the email (the email lists their names).
    Attached,
    /// Too large together: the email links each file, at these download addresses.
    Linked(Vec<String>),
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
    catalogs: HashMap<&'static str, (&'static str, Catalog)>,
}

/// Replaces `{name}` placeholders.
fn fill(phrase: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(phrase.to_owned(), |text, (key, value)| text.replace(&format!("{{{key}}}"), value))
}

/// A moment in the office's time zone, as the email gives it: `2026-12-01 10:00 (Europe/Tirane)`.
fn local_time(at: DateTime<Utc>, time_zone: &str) -> String {
    let zone: chrono_tz::Tz = time_zone.parse().unwrap_or(chrono_tz::UTC);
    format!("{} ({zone})", at.with_timezone(&zone).format("%Y-%m-%d %H:%M"))
}

impl Templates {
    /// Parses the layouts and every catalog; an error here is a bug in the files shipped with the binary.
    pub fn load() -> anyhow::Result<Templates> {
        let mut environment = Environment::new();
        environment.add_template("notification.txt", include_str!("templates/notification.txt"))?;
        environment.add_template("notification.html", include_str!("templates/notification.html"))?;
        let mut catalogs = HashMap::new();
        for (file, tag, json) in CATALOGS {
            let catalog: Catalog = serde_json::from_str(json).with_context(|| format!("locales/{file}.json"))?;
            catalogs.insert(*file, (*tag, catalog));
        }
        Ok(Templates { environment, catalogs })
    }

    /// The catalog for a BCP 47 tag, with the tag it declares: the whole tag, then its primary language, then
    /// English.
    fn catalog(&self, language: &str) -> (&'static str, &Catalog) {
        let tag = language.to_ascii_lowercase();
        let primary = tag.split('-').next().unwrap_or_default().to_owned();
        for candidate in [tag.as_str(), primary.as_str(), "en"] {
            if let Some((tag, catalog)) = self.catalogs.get(candidate) {
                return (tag, catalog);
            }
        }
        unreachable!("the English catalog is always loaded")
    }

    /// Renders a notification in the recipient's language, from its snapshot alone.
    pub fn render(&self, notification: &Notification<'_>) -> anyhow::Result<Rendered> {
        let snapshot = notification.snapshot;
        let ticket = &snapshot.ticket;
        let (language, catalog) = self.catalog(&snapshot.recipient.language);
        let reference = format!("{}", ticket.reference);
        let author = snapshot.message.as_ref().map(|m| m.author.as_str()).unwrap_or_default();
        let values = [
            ("name", snapshot.recipient.name.as_str()),
            ("reference", reference.as_str()),
            ("organization", ticket.organization.as_str()),
            ("author", author),
        ];
        let zone = ticket.office.time_zone.as_str();
        let status_line = |status: TicketStatus| fill(&catalog.status_now, &[("status", &catalog.status(status))]);
        let (intro, outro) = match notification.kind {
            NotificationKind::TicketReceived => (fill(&catalog.ticket_received, &values), None),
            NotificationKind::StaffReply => (fill(&catalog.staff_reply, &values), snapshot.new_status.map(status_line)),
            NotificationKind::StatusChanged => (status_line(snapshot.new_status.unwrap_or(ticket.status)), None),
            NotificationKind::TicketAssigned => (fill(&catalog.ticket_assigned, &values), None),
            NotificationKind::RequesterReply => {
                (fill(&catalog.requester_reply, &values), snapshot.reopened.then(|| catalog.reply_reopened.clone()))
            }
            NotificationKind::TicketReopened => (fill(&catalog.ticket_reopened, &values), None),
            NotificationKind::TicketUnassigned => (fill(&catalog.ticket_unassigned, &values), None),
            NotificationKind::TicketMerged => {
                let source = snapshot.merged.as_ref().map(|m| m.reference.to_string()).unwrap_or_default();
                (fill(&catalog.ticket_merged, &[("source", &source), ("target", &reference)]), None)
            }
            NotificationKind::BulkUpdated => {
                (fill(&catalog.bulk_updated, &[("count", &snapshot.bulk.len().to_string())]), None)
            }
            NotificationKind::SlaWarning | NotificationKind::SlaBreached => {
                let phrase = match notification.kind {
                    NotificationKind::SlaWarning => &catalog.sla_warning,
                    _ => &catalog.sla_breached,
                };
                let clock = snapshot.sla.as_ref().map(|sla| sla.clock).unwrap_or(SlaClock::Resolution);
                let due = snapshot.sla.as_ref().and_then(|sla| sla.due_at).map(|at| local_time(at, zone));
                let clock = catalog.clock(clock);
                let mut with_clock = values.to_vec();
                with_clock.extend([("clock", clock.as_str()), ("due", due.as_deref().unwrap_or_default())]);
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
        let subject = match notification.kind {
            // About several tickets: no one reference in the subject.
            NotificationKind::BulkUpdated => intro.trim_end_matches([':', ' ']).to_owned(),
            _ => format!("[#{}] {}", ticket.reference, ticket.subject),
        };
        // A bulk update's tickets, one line each, where a reply's quote would stand.
        let listed: Option<String> = (!snapshot.bulk.is_empty()).then(|| {
            let lines: Vec<String> = snapshot
                .bulk
                .iter()
                .map(|line| {
                    let status = fill(&catalog.bulk_line_status, &[("status", &catalog.status(line.status))]);
                    format!("#{} {} ({status})", line.reference, line.subject)
                })
                .collect();
            lines.join("\n")
        });
        let fact = |key: &str, value: String| context! { label => catalog.label(key), value };
        let mut facts = vec![
            fact("reference", format!("#{reference}")),
            fact("subject", ticket.subject.clone()),
            fact("status", catalog.status(ticket.status)),
        ];
        // Staff see what they work with: whose request it is, how urgent, the topic and the targets.
        if snapshot.recipient.staff {
            facts.push(fact("organization", ticket.organization.clone()));
            facts.push(fact("priority", catalog.priority(ticket.priority)));
            facts.push(fact("category", catalog.category(ticket.category)));
        }
        facts.push(fact("office", ticket.office.name.clone()));
        facts.push(fact("assignee", ticket.assignee.clone().unwrap_or_else(|| catalog.unassigned.clone())));
        if snapshot.recipient.staff {
            if let Some(due) = ticket.first_response_due_at {
                facts.push(fact("first_response_due", local_time(due, zone)));
            }
            if let Some(due) = ticket.resolution_due_at {
                facts.push(fact("resolution_due", local_time(due, zone)));
            }
        }
        // A bulk update's email lists its tickets instead of one ticket's facts.
        if notification.kind == NotificationKind::BulkUpdated {
            facts.clear();
        }
        let attachments = snapshot.message.as_ref().map(|m| m.attachments.as_slice()).unwrap_or_default();
        let files = match &notification.files {
            Files::None => None,
            Files::Attached => Some((catalog.files_attached.clone(), Vec::new())),
            Files::Linked(links) => Some((catalog.files_linked.clone(), links.clone())),
        };
        let files = files.filter(|_| !attachments.is_empty()).map(|(heading, links)| {
            let list: Vec<_> = attachments
                .iter()
                .enumerate()
                .map(|(n, file)| {
                    let size = format!("{:.1} MB", file.size as f64 / 1_000_000.0);
                    context! { name => file.filename, size, link => links.get(n) }
                })
                .collect();
            context! { heading, list }
        });
        let quote = listed.as_deref().or(snapshot.message.as_ref().map(|m| m.body.as_str()));
        let quote_lines: Vec<&str> = quote.map(|q| q.lines().collect()).unwrap_or_default();
        let (direction, start, end) = match catalog.direction {
            Direction::Ltr => ("ltr", "left", "right"),
            Direction::Rtl => ("rtl", "right", "left"),
        };
        let office = &ticket.office;
        // The contact line with the address in place (the HTML part makes it a link).
        let contact = fill(&catalog.office_contact, &[("office", &office.name)]);
        let (contact_before, contact_after) = contact.split_once("{email}").unwrap_or((contact.as_str(), ""));
        let page = context! {
            language, direction, start, end, subject, marker => REPLY_MARKER, hint => catalog.reply_hint,
            greeting => fill(&catalog.greeting, &values), intro, outro,
            quote, quote_lines, files, facts, rating,
            contact_before, contact_after, office_email => office.contact_email, footer => catalog.footer,
        };
        let text = self.environment.get_template("notification.txt")?.render(&page)?;
        let html = self.environment.get_template("notification.html")?.render(&page)?;
        Ok(Rendered { subject, text, html })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::notifications::snapshot::{self, MessageFacts, OfficeFacts, Recipient, SlaFacts, TicketFacts};

    fn snapshot(language: &str, staff: bool) -> Snapshot {
        let at = |text: &str| text.parse::<DateTime<Utc>>().unwrap();
        Snapshot {
            recipient: Recipient {
                id: uuid::Uuid::nil(),
                name: "Ana <script>".to_owned(),
                email: "ana@example.org".to_owned(),
                language: language.to_owned(),
                staff,
            },
            ticket: TicketFacts {
                id: uuid::Uuid::nil(),
                reference: 1042,
                subject: "Грант & budget".to_owned(),
                status: TicketStatus::Pending,
                priority: Priority::High,
                category: Category::Funding,
                organization: "Green Valley".to_owned(),
                office: OfficeFacts {
                    name: "Albania office".to_owned(),
                    contact_email: "tirana@desk.example.org".to_owned(),
                    time_zone: "Europe/Tirane".to_owned(),
                },
                assignee: Some("Besa".to_owned()),
                first_response_due_at: Some(at("2026-12-01T09:00:00Z")),
                resolution_due_at: None,
            },
            message: Some(MessageFacts {
                author: "Besa".to_owned(),
                body: "First line\nSecond line".to_owned(),
                attachments: Vec::new(),
            }),
            new_status: Some(TicketStatus::Pending),
            reopened: false,
            sla: Some(SlaFacts { clock: SlaClock::FirstResponse, due_at: Some(at("2026-12-01T09:00:00Z")) }),
            rating: None,
            queued_at: at("2026-12-01T08:00:00Z"),
            merged: None,
            bulk: Vec::new(),
        }
    }

    fn render(kind: NotificationKind, snapshot: &Snapshot) -> Rendered {
        Templates::load()
            .unwrap()
            .render(&Notification { kind, snapshot, rating_links: None, files: Files::None })
            .unwrap()
    }

    #[test]
    fn every_kind_renders_in_every_language() {
        let templates = Templates::load().unwrap();
        for (file, tag, _) in CATALOGS {
            for staff in [false, true] {
                let mut snapshot = snapshot(file, staff);
                snapshot.merged = Some(snapshot::MergedFacts { reference: 1041, subject: "Earlier".to_owned() });
                for kind in NotificationKind::ALL {
                    snapshot.bulk = match kind {
                        NotificationKind::BulkUpdated => [1042, 1043]
                            .map(|reference| snapshot::TicketLine {
                                reference,
                                subject: "Grant".to_owned(),
                                status: TicketStatus::Closed,
                            })
                            .to_vec(),
                        _ => Vec::new(),
                    };
                    let rendered = templates
                        .render(&Notification {
                            kind: *kind,
                            snapshot: &snapshot,
                            rating_links: None,
                            files: Files::None,
                        })
                        .unwrap();
                    match kind {
                        // About several tickets: the subject says how many.
                        NotificationKind::BulkUpdated => {
                            assert!(rendered.subject.contains('2'), "{file}: {}", rendered.subject);
                            assert!(rendered.text.contains("#1043"), "{file}: {}", rendered.text);
                        }
                        NotificationKind::TicketMerged => {
                            assert!(rendered.text.contains("#1041"), "{file}: {}", rendered.text);
                            assert_eq!(rendered.subject, "[#1042] Грант & budget");
                        }
                        _ => assert_eq!(rendered.subject, "[#1042] Грант & budget"),
                    }
                    assert!(rendered.text.starts_with(REPLY_MARKER), "{file} {kind}");
                    assert!(rendered.text.contains("#1042"), "{file} {kind}: {}", rendered.text);
                    assert!(!rendered.text.contains('{'), "no unfilled placeholder: {}", rendered.text);
                    assert!(!rendered.html.contains('{'), "no unfilled placeholder: {}", rendered.html);
                    assert!(rendered.html.contains(&format!("<html lang=\"{tag}\" dir=\"ltr\">")), "{}", rendered.html);
                    for part in [&rendered.text, &rendered.html] {
                        assert!(part.contains("Albania office"), "the office in the footer: {part}");
                        assert!(part.contains("tirana@desk.example.org"), "its address in the footer: {part}");
                    }
                }
            }
        }
    }

    #[test]
    fn html_is_escaped_and_languages_fall_back() {
        let en = render(NotificationKind::StaffReply, &snapshot("en", false));
        assert!(en.html.contains("Ana &lt;script&gt;"));
        assert!(en.text.contains("Ana <script>"));
        assert!(en.text.contains("> Second line"));
        assert!(en.html.contains("href=\"mailto:tirana@desk.example.org\""), "{}", en.html);
        assert!(render(NotificationKind::StaffReply, &snapshot("sr-Latn", false)).text.contains("Zdravo"));
        assert!(render(NotificationKind::StaffReply, &snapshot("sr", false)).text.contains("Здраво"));
        let unknown = render(NotificationKind::StaffReply, &snapshot("de-AT", false));
        assert!(unknown.text.contains("Hello"));
        assert!(unknown.html.contains("<html lang=\"en\" dir=\"ltr\">"), "the language the text is in");
    }

    #[test]
    fn a_right_to_left_catalog_turns_the_layout() {
        let mut templates = Templates::load().unwrap();
        let mut catalog: Catalog = serde_json::from_str(CATALOGS[0].2).unwrap();
        catalog.direction = Direction::Rtl;
        templates.catalogs.insert("ar", ("ar", catalog));
        let snapshot = snapshot("ar", false);
        let notification = Notification {
            kind: NotificationKind::StaffReply,
            snapshot: &snapshot,
            rating_links: None,
            files: Files::None,
        };
        let html = templates.render(&notification).unwrap().html;
        assert!(html.contains("<html lang=\"ar\" dir=\"rtl\">"), "{html}");
        assert!(html.contains("border-right: 4px solid"), "the quote bar on the reading side: {html}");
        assert!(html.contains("text-align: right;") && !html.contains("text-align: left;"), "{html}");
        assert!(
            html.contains("padding-left: 12px;") && !html.contains("padding-right"),
            "labels apart from values: {html}"
        );
    }

    #[test]
    fn staff_see_priority_topic_and_targets_requesters_do_not() {
        let staff = render(NotificationKind::TicketAssigned, &snapshot("en", true));
        for line in
            ["Priority: high", "Topic: EU and other funding", "First response due: 2026-12-01 10:00 (Europe/Tirane)"]
        {
            assert!(staff.text.contains(line), "{line}: {}", staff.text);
        }
        let requester = render(NotificationKind::StaffReply, &snapshot("en", false));
        assert!(requester.text.contains("Advisor: Besa"), "{}", requester.text);
        for word in ["Priority", "Topic", "due"] {
            assert!(!requester.text.contains(word), "{word}: {}", requester.text);
        }
        let mut unassigned = snapshot("sq", false);
        unassigned.ticket.assignee = None;
        assert!(render(NotificationKind::TicketReceived, &unassigned).text.contains("ende nuk është caktuar"));
    }

    #[test]
    fn one_email_says_one_status_throughout() {
        let mut reply = snapshot("sq", false);
        reply.ticket.status = TicketStatus::Open;
        reply.new_status = None;
        let rendered = render(NotificationKind::StaffReply, &reply);
        assert!(rendered.text.contains("Statusi: e hapur"), "{}", rendered.text);
        assert!(!rendered.text.contains("zgjidhur"), "{}", rendered.text);
    }

    #[test]
    fn service_level_notices_name_the_clock_and_rating_links_appear() {
        let breach = render(NotificationKind::SlaBreached, &snapshot("en", true));
        assert!(
            breach.text.contains("missed its first response target, which was due 2026-12-01 10:00 (Europe/Tirane)"),
            "{}",
            breach.text
        );
        let warning = render(NotificationKind::SlaWarning, &snapshot("sq", true));
        assert!(warning.text.contains("përgjigjen e parë"), "{}", warning.text);
        let resolved = snapshot("en", false);
        let links = Some(("https://x/good?a=1&b=2".to_owned(), "https://x/bad".to_owned()));
        let notification = Notification {
            kind: NotificationKind::StatusChanged,
            snapshot: &resolved,
            rating_links: links,
            files: Files::None,
        };
        let rendered = Templates::load().unwrap().render(&notification).unwrap();
        assert!(rendered.text.contains("Satisfied: https://x/good?a=1&b=2"), "{}", rendered.text);
        assert!(rendered.html.contains("good?a=1&amp;b=2\""), "{}", rendered.html);
        assert!(rendered.html.contains("Not satisfied</a>"));
    }

    #[test]
    fn snapshots_stored_by_earlier_versions_render_with_todays_templates() {
        for (version, json) in snapshot::tests::STORED {
            let stored = snapshot::decode(*version, &serde_json::from_str(json).unwrap()).unwrap();
            let rendered = render(NotificationKind::StaffReply, &stored);
            assert!(rendered.text.contains("Statusi: e zgjidhur"), "{}", rendered.text);
            assert!(rendered.text.contains("Kërkesa juaj tani është: e zgjidhur."), "{}", rendered.text);
            assert!(rendered.text.contains("> The amended statute is registered."), "{}", rendered.text);
            assert!(rendered.text.contains("Kosovo office, kosovo@desk.example.org"), "{}", rendered.text);
        }
    }
}
