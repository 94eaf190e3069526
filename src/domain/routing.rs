//! Routing: which office and which advisor get a ticket, and why.
//!
//! 1. The active routing rules are tried in order; the first that matches names an office (its pool) or one
//!    advisor. When none matches, the national office of the ticket's country takes it, or the regional office
//!    when the country has none.
//! 2. Within the office, an advisor qualifies when they are active, available (or back from being away), cover
//!    the ticket's category and are below their capacity of open tickets. A rule's named advisor wins when they
//!    qualify. Otherwise those who speak the requester's language come first, then the lowest load (open tickets
//!    / capacity), then whoever was assigned least recently (round-robin).
//! 3. When nobody qualifies, the ticket waits unassigned in the office queue and the office's coordinators are
//!    alerted.
//!
//! Each advisor's open tickets are counted on their profile; one statement picks the advisor, locks only that
//! profile and counts the ticket on it ([`AdvisorProfile::pick`]), so routings to one office run side by side and
//! never overfill an advisor. The rules, offices and calendars come from the process's [`Network`], not from the
//! database. Every decision is recorded as a staff-only `routed` event that explains it.

use std::cmp::Ordering;

use chrono::Utc;
use diesel::{Connection, PgConnection};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::edit::Edit;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::{self, Event, EventDetails};
use crate::domain::network::Network;
use crate::models::advisor_profile::{OfficeAdvisor, Pick};
use crate::models::ticket::TicketKey;
use crate::models::ticket_event::EventKind;
use crate::models::{AdvisorProfile, Office, RoutingRule, Ticket, User};
use crate::vocabulary::{Category, Priority, Role};

/// What routing looks at.
#[derive(Debug, Clone)]
pub struct RoutingInput<'a> {
    /// The ticket's country.
    pub country: &'a str,
    /// The ticket's category.
    pub category: Category,
    /// The ticket's priority.
    pub priority: Priority,
    /// The requesting organisation.
    pub organization_id: Uuid,
    /// The subject.
    pub subject: &'a str,
    /// The request's text.
    pub body: &'a str,
    /// The requester's preferred language (BCP 47).
    pub language: &'a str,
}

/// The rule that decided, as the explanation names it.
#[derive(Debug, Clone, Serialize)]
pub struct MatchedRule {
    /// The rule's id.
    pub id: Uuid,
    /// The rule's name.
    pub name: String,
}

/// One advisor routing looked at, and what it found.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// The advisor.
    pub advisor_id: Uuid,
    /// Their name.
    pub name: String,
    /// Whether they could take the ticket.
    pub eligible: bool,
    /// Why not, when they could not.
    pub excluded_because: Option<String>,
    /// Whether they speak the requester's language.
    pub speaks_language: bool,
    /// Their open tickets (new, open, pending) before this one.
    pub open_tickets: i64,
    /// Their capacity.
    pub capacity: i32,
}

/// Why routing decided as it did; stored in the `routed` event's details.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The rule that matched, if any.
    pub rule: Option<MatchedRule>,
    /// How the office was chosen.
    pub target: String,
    /// The office chosen.
    pub office_id: Uuid,
    /// Its code.
    pub office_code: String,
    /// Every advisor of the office, in the order they were ranked (eligible first).
    pub candidates: Vec<Candidate>,
    /// The advisor chosen, if any.
    pub assignee_id: Option<Uuid>,
    /// The decision in words.
    pub outcome: String,
}

/// Routing's answer.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The office whose queue takes the ticket.
    pub office_id: Uuid,
    /// The advisor who takes it, if anyone can.
    pub assignee_id: Option<Uuid>,
    /// Why.
    pub explanation: Explanation,
}

/// Whether `text` contains `phrase` (both lower-cased) as whole words.
fn contains_phrase(text: &str, phrase: &str) -> bool {
    if phrase.is_empty() {
        return false;
    }
    let mut start = 0;
    while let Some(found) = text[start..].find(phrase) {
        let begin = start + found;
        let end = begin + phrase.len();
        let before_ok = text[..begin].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
        let after_ok = text[end..].chars().next().is_none_or(|c| !c.is_alphanumeric());
        if before_ok && after_ok {
            return true;
        }
        start = begin + text[begin..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// Whether `rule` matches the ticket: every non-empty matcher must have a match.
pub fn rule_matches(rule: &RoutingRule, input: &RoutingInput<'_>) -> bool {
    let text = || format!("{}\n{}", input.subject, input.body).to_lowercase();
    (rule.countries.is_empty() || rule.countries.iter().any(|c| c == input.country))
        && (rule.categories.is_empty() || rule.categories.contains(&input.category))
        && (rule.priorities.is_empty() || rule.priorities.contains(&input.priority))
        && (rule.organization_ids.is_empty() || rule.organization_ids.contains(&input.organization_id))
        && (rule.keywords.is_empty() || {
            let text = text();
            rule.keywords.iter().any(|k| contains_phrase(&text, &k.to_lowercase()))
        })
}

/// The primary language subtag of a BCP 47 tag (`sr-Latn` -> `sr`).
pub fn primary_language(tag: &str) -> String {
    tag.split('-').next().unwrap_or(tag).to_ascii_lowercase()
}

/// Decides the office and advisor for a ticket, and counts it on the advisor's profile. `current` is the assignee
/// of a ticket being routed again: the ticket does not count against them, and keeping them counts nothing new.
pub fn route(
    conn: &mut PgConnection,
    network: &Network,
    input: &RoutingInput<'_>,
    current: Option<Uuid>,
) -> DomainResult<Decision> {
    let matched = network.rules().iter().find(|rule| rule_matches(rule, input));
    let (office, named_advisor, target) = match matched {
        Some(rule) => target_of(conn, network, rule)?,
        None => default_office(network, input.country)?,
    };
    let rule = matched.map(|r| MatchedRule { id: r.id, name: r.name.clone() });
    choose_in_office(conn, office, input, named_advisor, current, rule, target)
}

fn target_of<'n>(
    conn: &mut PgConnection,
    network: &'n Network,
    rule: &RoutingRule,
) -> DomainResult<(&'n Office, Option<Uuid>, String)> {
    if let Some(advisor_id) = rule.target_advisor_id {
        let advisor = User::find(conn, advisor_id)?;
        if let Some(office) = advisor.as_ref().and_then(|a| a.office_id).and_then(|id| network.office(id)) {
            let name = advisor.map(|a| a.name).unwrap_or_default();
            let target = format!("rule \"{}\" names advisor {name} of office {}", rule.name, office.code);
            return Ok((office, Some(advisor_id), target));
        }
    }
    match rule.target_office_id {
        Some(office_id) => {
            let office = network.office(office_id).ok_or(DomainError::NotFound("office"))?;
            let target = format!("rule \"{}\" sends it to office {}", rule.name, office.code);
            Ok((office, None, target))
        }
        None => Err(DomainError::Internal(anyhow::anyhow!("routing rule {} has no usable target", rule.id))),
    }
}

fn default_office<'n>(network: &'n Network, country: &str) -> DomainResult<(&'n Office, Option<Uuid>, String)> {
    let office = network.default_office(country).ok_or_else(|| {
        DomainError::Conflict(format!(
            "no office can take tickets from {country}: create a national office for it or the regional office"
        ))
    })?;
    let target = if office.is_regional && office.country != country {
        format!("no rule matched and {country} has no national office: the regional office {}", office.code)
    } else {
        format!("no rule matched: the national office {} of {country}", office.code)
    };
    Ok((office, None, target))
}

/// How many times a pick that found every advisor who could take it held tries again (1, 2, 4, 8, then 16 ms
/// apart: about 0.2 s in all) before it waits for their rows.
const PICK_RETRIES: u32 = 16;

/// Why `advisor` cannot take a ticket of `category` at `now`, if they cannot.
fn exclusion(advisor: &OfficeAdvisor, category: Category, now: chrono::DateTime<Utc>) -> Option<String> {
    if !advisor.active {
        Some("inactive".to_owned())
    } else if !advisor.is_available(now) {
        Some(match advisor.away_until {
            Some(back) => format!("away until {}", back.to_rfc3339()),
            None => "away".to_owned(),
        })
    } else if !advisor.categories.contains(&category) {
        Some(format!("does not cover {category}"))
    } else if advisor.open_tickets >= advisor.capacity {
        Some(format!("at capacity ({}/{})", advisor.open_tickets, advisor.capacity))
    } else {
        None
    }
}

/// Picks an advisor of `office` (or none) with [`AdvisorProfile::pick`], and explains the choice.
fn choose_in_office(
    conn: &mut PgConnection,
    office: &Office,
    input: &RoutingInput<'_>,
    named_advisor: Option<Uuid>,
    current: Option<Uuid>,
    rule: Option<MatchedRule>,
    target: String,
) -> DomainResult<Decision> {
    let now = Utc::now();
    let language = primary_language(input.language);
    let pick = Pick {
        office_id: office.id,
        now,
        category: input.category,
        language: language.clone(),
        named: named_advisor,
        current,
    };
    let chosen_id = |advisors: &[OfficeAdvisor]| advisors.iter().find(|a| a.chosen).map(|a| a.user_id);
    let mut advisors = AdvisorProfile::pick(conn, &pick, false)?;
    let mut tries = 0;
    // Everyone of the best group (named advisor, language) who could take it was held by other transactions at that
    // instant. Those finish in a moment: try again shortly, without waiting on their rows. (The statement may keep
    // locks on rows it found changed and passed over, so waiting on rows now, in an order of its own, could
    // deadlock with another routing doing the same.) Only after a while does it wait for them.
    while chosen_id(&advisors).is_none() && advisors.iter().any(|a| exclusion(a, input.category, now).is_none()) {
        if tries == PICK_RETRIES {
            advisors = AdvisorProfile::pick(conn, &pick, true)?;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1 << tries.min(4)));
        tries += 1;
        advisors = AdvisorProfile::pick(conn, &pick, false)?;
    }
    let chosen_id = chosen_id(&advisors);

    let mut ranked: Vec<(Candidate, Option<chrono::DateTime<Utc>>)> = advisors
        .into_iter()
        .map(|advisor| {
            // The statement checked the chosen advisor on the row it locked, which is newer than what it read.
            let excluded_because = match Some(advisor.user_id) == chosen_id {
                true => None,
                false => exclusion(&advisor, input.category, now),
            };
            let candidate = Candidate {
                advisor_id: advisor.user_id,
                name: advisor.name,
                eligible: excluded_because.is_none(),
                excluded_because,
                speaks_language: advisor.languages.contains(&language),
                open_tickets: i64::from(advisor.open_tickets),
                capacity: advisor.capacity,
            };
            (candidate, advisor.last_assigned_at)
        })
        .collect();
    ranked.sort_by(|(a, a_last), (b, b_last)| {
        b.eligible
            .cmp(&a.eligible)
            .then(b.speaks_language.cmp(&a.speaks_language))
            // Lower load ratio first: a.open/a.cap < b.open/b.cap, compared without division.
            .then((a.open_tickets * i64::from(b.capacity)).cmp(&(b.open_tickets * i64::from(a.capacity))))
            .then(match (a_last, b_last) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(x), Some(y)) => x.cmp(y),
            })
            .then(a.advisor_id.cmp(&b.advisor_id))
    });
    let candidates: Vec<Candidate> = ranked.into_iter().map(|(candidate, _)| candidate).collect();
    let eligible = candidates.iter().filter(|c| c.eligible).count();
    let chosen = chosen_id.and_then(|id| candidates.iter().find(|c| c.advisor_id == id));

    let outcome = match (chosen, named_advisor) {
        (Some(c), Some(id)) if c.advisor_id == id => format!("assigned to {}, the advisor the rule names", c.name),
        (Some(c), _) => {
            let language_note = if c.speaks_language {
                format!("speaks {language}")
            } else {
                format!("nobody eligible speaks {language}")
            };
            let named_note = match named_advisor {
                Some(_) => "the advisor the rule names cannot take it; ",
                None => "",
            };
            let busy_note = match candidates.first() {
                Some(first) if first.advisor_id != c.advisor_id && named_advisor.is_none() => {
                    format!(" ({} was being given another ticket at that instant)", first.name)
                }
                _ => String::new(),
            };
            format!(
                "{named_note}assigned to {}: {language_note}, {} of {} open tickets; {eligible} of {} advisors could take it{busy_note}",
                c.name,
                c.open_tickets,
                c.capacity,
                candidates.len()
            )
        }
        (None, _) => format!(
            "no advisor of {} can take it ({} considered): left unassigned in the office queue, coordinators alerted",
            office.code,
            candidates.len()
        ),
    };
    let assignee_id = chosen.map(|c| c.advisor_id);
    Ok(Decision {
        office_id: office.id,
        assignee_id,
        explanation: Explanation {
            rule,
            target,
            office_id: office.id,
            office_code: office.code.clone(),
            candidates,
            assignee_id,
            outcome,
        },
    })
}

/// The audit events of a routing decision for `ticket_id`: the explanation, and an alert to the office's
/// coordinators when nobody could take the ticket.
pub fn decision_events(
    conn: &mut PgConnection,
    ticket_id: Uuid,
    actor: Option<Uuid>,
    previous_assignee: Option<Uuid>,
    decision: &Decision,
) -> DomainResult<Vec<Event>> {
    let id = |id: Option<Uuid>| id.map(|id| id.to_string());
    let routed = events::staff_event(
        ticket_id,
        actor,
        EventKind::Routed,
        (id(previous_assignee), id(decision.assignee_id)),
        EventDetails::Routed(decision.explanation.clone()),
    );
    let mut events = vec![routed];
    if decision.assignee_id.is_none() {
        let coordinator_ids: Vec<Uuid> = User::active_in_office(conn, decision.office_id, Role::Coordinator)?
            .into_iter()
            .map(|user| user.id)
            .collect();
        events.push(events::staff_event(
            ticket_id,
            None,
            EventKind::CoordinatorsAlerted,
            (None, None),
            EventDetails::CoordinatorsAlerted {
                office_id: decision.office_id,
                coordinator_ids,
                reason: decision.explanation.outcome.clone(),
            },
        ));
    }
    Ok(events)
}

/// The routing input of an existing ticket: its fields, its first message and its requester's language.
fn input_of<'a>(ticket: &'a Ticket, body: &'a str, language: &'a str) -> RoutingInput<'a> {
    RoutingInput {
        country: &ticket.country,
        category: ticket.category,
        priority: ticket.priority,
        organization_id: ticket.organization_id,
        subject: &ticket.subject,
        body,
        language,
    }
}

/// The first message of a ticket and its requester's language, which routing reads besides the ticket itself.
fn request_text_and_language(conn: &mut PgConnection, ticket: &Ticket) -> DomainResult<(String, String)> {
    let body = crate::models::Message::first_body(conn, ticket.id)?.unwrap_or_default();
    let language = User::find(conn, ticket.requester_id)?.map(|u| u.language).unwrap_or_else(|| "en".to_owned());
    Ok((body, language))
}

/// Applies `decision` to an existing, locked ticket: moves it, and records the explanation and the changes.
fn apply(conn: &mut PgConnection, ticket: &Ticket, actor: Option<Uuid>, decision: &Decision) -> DomainResult<Ticket> {
    let mut edit = Edit::new(ticket, actor);
    for event in decision_events(conn, ticket.id, actor, ticket.assignee_id, decision)? {
        edit.record(event);
    }
    edit.set_office(decision.office_id);
    edit.assign_routed(decision.assignee_id);
    edit.save(conn)
}

/// Runs routing again for a ticket (staff, on demand), from the rules on, in one transaction.
pub fn reroute(conn: &mut PgConnection, network: &Network, caller: &Caller, key: TicketKey) -> DomainResult<Ticket> {
    caller.require_staff()?;
    conn.transaction(|conn| {
        let scope = caller.ticket_scope();
        let actor = caller.id();
        // The ticket first, then profiles: every change to a ticket takes its locks in this order.
        let ticket = Ticket::lock_visible(conn, key, scope)?.ok_or(DomainError::NotFound("ticket"))?;
        if !ticket.status.is_active() {
            return Err(DomainError::Conflict(format!(
                "ticket #{} is {}: only open work is routed",
                ticket.reference, ticket.status
            )));
        }
        let (body, language) = request_text_and_language(conn, &ticket)?;
        // The current advisor's profile before the pick's (which passes over held rows): the count change to come
        // is then this transaction's to make without waiting while it holds another profile.
        if let Some(current) = ticket.assignee_id.filter(|_| ticket.status.is_active()) {
            AdvisorProfile::lock(conn, current)?;
        }
        let decision = route(conn, network, &input_of(&ticket, &body, &language), ticket.assignee_id)?;
        apply(conn, &ticket, Some(actor), &decision)
    })
}

/// Locks what releasing `advisor_id`'s tickets will change: their open tickets, then their profile (the order in
/// which every change to a ticket takes them), so that the count changes to come are this transaction's to make.
/// Call it before changing the advisor.
pub fn lock_for_release(conn: &mut PgConnection, advisor_id: Uuid) -> DomainResult<()> {
    Ticket::lock_active_of_assignee(conn, advisor_id)?;
    AdvisorProfile::lock(conn, advisor_id)?;
    Ok(())
}

/// Hands the open tickets of an advisor who can no longer take them (deactivated, away, no longer an advisor) to
/// another advisor of each ticket's office, or back to the office queue. Call [`lock_for_release`] first.
pub fn release_tickets(conn: &mut PgConnection, advisor_id: Uuid, actor: Option<Uuid>) -> DomainResult<usize> {
    let tickets = Ticket::lock_active_of_assignee(conn, advisor_id)?;
    for ticket in &tickets {
        let office = Office::find(conn, ticket.office_id)?.ok_or(DomainError::NotFound("office"))?;
        let (body, language) = request_text_and_language(conn, ticket)?;
        let target = format!("its advisor can no longer take it: re-routed within office {}", office.code);
        let input = input_of(ticket, &body, &language);
        let decision = choose_in_office(conn, &office, &input, None, ticket.assignee_id, None, target)?;
        apply(conn, ticket, actor, &decision)?;
    }
    Ok(tickets.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_match_whole_words_only() {
        assert!(contains_phrase("we need ipa funds", "ipa"));
        assert!(contains_phrase("ipa", "ipa"));
        assert!(contains_phrase("about the civil society facility.", "civil society facility"));
        assert!(!contains_phrase("participation", "ipa"));
        assert!(!contains_phrase("tipa", "ipa"));
        assert!(contains_phrase("regjistrimi i shoqatës", "shoqatës"));
        assert!(contains_phrase("ärger ipa", "ipa"));
        assert!(!contains_phrase("x", ""));
    }

    #[test]
    fn primary_language_ignores_script_and_region() {
        assert_eq!(primary_language("sr-Latn"), "sr");
        assert_eq!(primary_language("SQ"), "sq");
    }
}
