//! Saved replies: the answers advisors give again and again, one template per language, rendered with the
//! ticket's facts in the requester's language, and what using one also does (its `actions`, as a macro).
//!
//! Templates use the emails' engine (minijinja), restricted to `{{ placeholder }}` substitutions from a fixed set:
//! no statements, filters or expressions, so what a template does and how long its text grows are bounded by the
//! template itself. A template is checked when it is saved (every placeholder, its syntax, and a trial render with
//! the longest values the placeholders can take), so that using it never fails on the template.

use std::collections::BTreeMap;

use diesel::PgConnection;
use minijinja::{Environment, UndefinedBehavior, context};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::error::{DomainError, DomainResult, FieldError};
use crate::domain::values::{self, BODY_MAX, Checks, NAME_MAX};
use crate::models::saved_reply::{NewSavedReply, SavedReply, SavedReplyChanges, SavedReplyFilter, SavedReplyScope};
use crate::models::{Office, Organization, Ticket, User};
use crate::vocabulary::{Priority, Role, TicketStatus};

/// The placeholders a saved reply may use.
pub const PLACEHOLDERS: &[&str] = &[
    "requester.name",
    "requester.email",
    "ticket.reference",
    "ticket.subject",
    "ticket.status",
    "ticket.priority",
    "ticket.category",
    "organization.name",
    "advisor.name",
    "advisor.email",
    "office.name",
    "office.email",
];

/// The longest category.
pub const CATEGORY_MAX: usize = 100;

/// The work one render may do (minijinja's fuel: about one unit per instruction), far above what any reply needs
/// and far below what makes a request slow.
const FUEL: u64 = 50_000;

/// What rendering saved replies is configured with.
#[derive(Debug, Clone)]
pub struct ReplySettings {
    /// The network's default language (`DEFAULT_LANGUAGE`): the fallback before English.
    pub default_language: String,
}

impl Default for ReplySettings {
    fn default() -> Self {
        ReplySettings { default_language: "en".to_owned() }
    }
}

/// What using a saved reply also does to the ticket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SavedReplyActions {
    /// The status to set (a `status` given with the message wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TicketStatus>,
    /// The priority to set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Tags to add.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_tags: Vec<String>,
    /// Tags to remove.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_tags: Vec<String>,
}

/// A new saved reply.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSavedReply {
    /// What staff look it up by (1 to 200 characters).
    #[schema(example = "Registration: documents needed")]
    pub name: String,
    /// A grouping of your choosing (up to 100 characters).
    pub category: Option<String>,
    /// `network` (coordinators and admins), `office` (its advisors, coordinators and admins) or `personal`.
    pub scope: SavedReplyScope,
    /// The office of an `office` reply (required for it, refused otherwise).
    pub office_id: Option<Uuid>,
    /// The template per language (BCP 47 tags such as `en`, `sq`, `sr`, `sr-Latn`, `mk`, `bs`, `tr`), at least one.
    #[schema(example = json!({"en": "Dear {{ requester.name }},\n\nabout request #{{ ticket.reference }}: ..."}))]
    pub bodies: BTreeMap<String, String>,
    /// What using it also does.
    #[serde(default)]
    pub actions: SavedReplyActions,
}

/// Changes to a saved reply; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeSavedReply {
    /// See [`CreateSavedReply::name`].
    pub name: Option<String>,
    /// See [`CreateSavedReply::category`]; `null` removes it.
    #[serde(default, deserialize_with = "crate::domain::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub category: Option<Option<String>>,
    /// The templates (replace the earlier ones).
    pub bodies: Option<BTreeMap<String, String>>,
    /// What using it also does (replaces the earlier actions).
    pub actions: Option<SavedReplyActions>,
}

/// The engine saved replies render with: plain text, unknown values are errors, and a work limit.
fn environment() -> Environment<'static> {
    let mut environment = Environment::new();
    environment.set_undefined_behavior(UndefinedBehavior::Strict);
    environment.set_fuel(Some(FUEL));
    environment.set_recursion_limit(20);
    environment
}

/// The longest value of every placeholder, for the trial render at save time: a template that fits with these
/// fits with any ticket.
fn longest_context() -> minijinja::Value {
    let name = "n".repeat(NAME_MAX);
    let email = "e".repeat(254);
    context! {
        requester => context! { name => name, email => email },
        ticket => context! {
            reference => i64::MAX, subject => "s".repeat(values::SUBJECT_MAX), status => "resolved",
            priority => "urgent", category => "partnership_networking"
        },
        organization => context! { name => name },
        advisor => context! { name => name, email => email },
        office => context! { name => name, email => email },
    }
}

/// Refuses anything but text and `{{ placeholder }}` substitutions of [`PLACEHOLDERS`].
fn check_substitutions(field: &str, source: &str) -> Result<(), FieldError> {
    let shown = |text: &str| text.chars().take(60).collect::<String>();
    if source.contains("{%") {
        return Err(FieldError::new(field, "may use {{ placeholders }} only, no {% ... %} statements"));
    }
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| FieldError::new(field, "has a {{ without its }}"))?;
        let inner = after[..end].trim_matches(|c: char| c == '-' || c.is_whitespace());
        if !PLACEHOLDERS.contains(&inner) {
            return Err(FieldError::new(
                field,
                format!(
                    "uses the unknown placeholder {{{{ {} }}}}; the placeholders are {}",
                    shown(inner),
                    PLACEHOLDERS.join(", ")
                ),
            ));
        }
        rest = &after[end + 2..];
    }
    Ok(())
}

/// Checks one template: its substitutions, its syntax, and a trial render with the longest values.
fn check_template(field: &str, source: &str) -> Result<String, FieldError> {
    let source = values::bounded_text(field, source, BODY_MAX, true)?;
    check_substitutions(field, &source)?;
    let environment = environment();
    let template = environment.template_from_str(&source).map_err(|error| {
        FieldError::new(field, format!("is not a valid template: {}", error.detail().unwrap_or("syntax error")))
    })?;
    let mut unknown: Vec<String> =
        template.undeclared_variables(true).into_iter().filter(|name| !PLACEHOLDERS.contains(&name.as_str())).collect();
    unknown.sort();
    if let Some(first) = unknown.first() {
        return Err(FieldError::new(
            field,
            format!("uses the unknown placeholder {{{{ {first} }}}}; the placeholders are {}", PLACEHOLDERS.join(", ")),
        ));
    }
    let rendered = template.render(longest_context()).map_err(|error| {
        FieldError::new(field, format!("cannot be rendered: {}", error.detail().unwrap_or("template error")))
    })?;
    if rendered.chars().count() > BODY_MAX {
        return Err(FieldError::new(field, format!("can render to more than {BODY_MAX} characters")));
    }
    Ok(source)
}

fn check_bodies(checks: &mut Checks, bodies: &BTreeMap<String, String>) -> serde_json::Value {
    if bodies.is_empty() {
        checks.fail("bodies", "needs a body in at least one language");
    }
    let mut map = serde_json::Map::new();
    for (language, body) in bodies {
        let field = format!("bodies.{language}");
        let tag = checks.check(values::language(&field, language));
        let body = checks.check(check_template(&field, body));
        if map.insert(tag, serde_json::Value::String(body)).is_some() {
            checks.fail(field, "is given twice (tags differ only in case)");
        }
    }
    serde_json::Value::Object(map)
}

fn check_actions(checks: &mut Checks, actions: &SavedReplyActions) -> serde_json::Value {
    if actions.status == Some(TicketStatus::New) {
        checks.fail("actions.status", "a reply never makes a ticket new; use open, pending, resolved or closed");
    }
    let mut clean = actions.clone();
    for (name, tags) in [("actions.add_tags", &mut clean.add_tags), ("actions.remove_tags", &mut clean.remove_tags)] {
        match crate::domain::tags::normalize_all(name, tags) {
            Ok(normalised) => *tags = normalised,
            Err(DomainError::Invalid(errors)) => errors.into_iter().for_each(|e| checks.fail(e.field, e.message)),
            Err(_) => {}
        }
    }
    serde_json::to_value(&clean).unwrap_or_default()
}

fn check_category(checks: &mut Checks, category: Option<&str>) -> Option<String> {
    category.map(|c| checks.check(values::bounded_text("category", c, CATEGORY_MAX, false)))
}

/// Whether the caller may create or change a reply of `scope` (for `office`, of `office_id`; for `personal`,
/// owned by `owner`).
fn may_manage(caller: &Caller, scope: SavedReplyScope, office_id: Option<Uuid>, owner: Uuid) -> bool {
    match scope {
        SavedReplyScope::Personal => owner == caller.id(),
        SavedReplyScope::Network => matches!(caller.role(), Role::Admin | Role::Coordinator),
        SavedReplyScope::Office => {
            matches!(caller.role(), Role::Admin | Role::Coordinator) || caller.user.office_id == office_id
        }
    }
}

/// Whether the caller may use (and see) a saved reply.
fn may_use(caller: &Caller, reply: &SavedReply) -> bool {
    match reply.scope {
        SavedReplyScope::Network => true,
        SavedReplyScope::Office => {
            matches!(caller.role(), Role::Admin | Role::Coordinator) || caller.user.office_id == reply.office_id
        }
        SavedReplyScope::Personal => reply.owner_id == caller.id(),
    }
}

/// Saves a new saved reply (staff).
pub fn create(conn: &mut PgConnection, caller: &Caller, input: CreateSavedReply) -> DomainResult<SavedReply> {
    caller.require_staff()?;
    let mut checks = Checks::default();
    let name = checks.check(values::bounded_text("name", &input.name, NAME_MAX, false));
    let category = check_category(&mut checks, input.category.as_deref());
    let bodies = check_bodies(&mut checks, &input.bodies);
    let actions = check_actions(&mut checks, &input.actions);
    match (input.scope, input.office_id) {
        (SavedReplyScope::Office, None) => checks.fail("office_id", "an office reply names its office"),
        (SavedReplyScope::Network | SavedReplyScope::Personal, Some(_)) => {
            checks.fail("office_id", "only an office reply names an office")
        }
        _ => {}
    }
    checks.finish()?;
    if let Some(office) = input.office_id
        && Office::find(conn, office)?.is_none()
    {
        return Err(DomainError::invalid("office_id", "no such office"));
    }
    if !may_manage(caller, input.scope, input.office_id, caller.id()) {
        return Err(DomainError::Forbidden(match input.scope {
            SavedReplyScope::Network => "network-wide saved replies are managed by coordinators and admins".to_owned(),
            _ => "advisors manage the saved replies of their own office".to_owned(),
        }));
    }
    Ok(SavedReply::insert(
        conn,
        &NewSavedReply {
            id: Uuid::now_v7(),
            name,
            category,
            scope: input.scope,
            office_id: input.office_id,
            owner_id: caller.id(),
            bodies,
            actions,
        },
    )?)
}

/// A saved reply the caller may use.
pub fn get(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> DomainResult<SavedReply> {
    caller.require_staff()?;
    SavedReply::find(conn, id)?.filter(|reply| may_use(caller, reply)).ok_or(DomainError::NotFound("saved reply"))
}

/// Changes a saved reply the caller may manage.
pub fn update(conn: &mut PgConnection, caller: &Caller, id: Uuid, input: ChangeSavedReply) -> DomainResult<SavedReply> {
    let reply = get(conn, caller, id)?;
    if !may_manage(caller, reply.scope, reply.office_id, reply.owner_id) {
        return Err(DomainError::Forbidden("you may use this saved reply but not change it".to_owned()));
    }
    let mut checks = Checks::default();
    let changes = SavedReplyChanges {
        name: input.name.as_deref().map(|name| checks.check(values::bounded_text("name", name, NAME_MAX, false))),
        category: input.category.map(|category| check_category(&mut checks, category.as_deref())),
        bodies: input.bodies.as_ref().map(|bodies| check_bodies(&mut checks, bodies)),
        actions: input.actions.as_ref().map(|actions| check_actions(&mut checks, actions)),
        deleted_at: None,
    };
    checks.finish()?;
    Ok(SavedReply::update(conn, id, &changes)?)
}

/// Deletes a saved reply the caller may manage (kept for the messages written with it).
pub fn delete(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> DomainResult<()> {
    let reply = get(conn, caller, id)?;
    if !may_manage(caller, reply.scope, reply.office_id, reply.owner_id) {
        return Err(DomainError::Forbidden("you may use this saved reply but not delete it".to_owned()));
    }
    let changes = SavedReplyChanges { deleted_at: Some(Some(chrono::Utc::now())), ..SavedReplyChanges::default() };
    SavedReply::update(conn, id, &changes)?;
    Ok(())
}

/// The saved replies the caller may use that match `filter` (its user and office are the caller's).
pub fn list(conn: &mut PgConnection, caller: &Caller, mut filter: SavedReplyFilter) -> DomainResult<Vec<SavedReply>> {
    caller.require_staff()?;
    filter.user_id = caller.id();
    // Coordinators and admins see every office's replies.
    filter.office_id = match caller.role() {
        Role::Admin | Role::Coordinator => None,
        _ => caller.user.office_id,
    };
    let all_offices = matches!(caller.role(), Role::Admin | Role::Coordinator);
    let mut replies = SavedReply::list(conn, &filter, all_offices)?;
    replies.retain(|reply| may_use(caller, reply));
    Ok(replies)
}

/// The body of a saved reply for a requester speaking `language`: the exact tag, its primary language, the
/// network's `default` language, then English.
fn body_for<'a>(bodies: &'a serde_json::Value, language: &str, default: &str) -> Option<&'a str> {
    let map = bodies.as_object()?;
    let find = |tag: &str| map.iter().find(|(key, _)| key.eq_ignore_ascii_case(tag)).and_then(|(_, v)| v.as_str());
    let primary = language.split('-').next().unwrap_or_default();
    [language, primary, default, "en"].into_iter().find_map(find)
}

/// A saved reply rendered for a ticket: its text and what it also does.
#[derive(Debug, Clone)]
pub struct UsedReply {
    /// The reply.
    pub id: Uuid,
    /// Its text, rendered.
    pub body: String,
    /// What it also does (tags normalised).
    pub actions: SavedReplyActions,
}

/// Renders saved reply `id` (one the caller may use) for `ticket`, in its requester's language, and counts the use.
pub fn use_for(
    conn: &mut PgConnection,
    caller: &Caller,
    settings: &ReplySettings,
    id: Uuid,
    ticket: &Ticket,
) -> DomainResult<UsedReply> {
    let reply = SavedReply::find(conn, id)?
        .filter(|reply| may_use(caller, reply))
        .ok_or_else(|| DomainError::invalid("saved_reply_id", "no saved reply you may use has this id"))?;
    let requester = User::find(conn, ticket.requester_id)?.ok_or(DomainError::NotFound("user"))?;
    let source = body_for(&reply.bodies, &requester.language, &settings.default_language).ok_or_else(|| {
        DomainError::invalid(
            "saved_reply_id",
            format!("the saved reply has no body in {}, the default language or English", requester.language),
        )
    })?;
    let organization = Organization::find(conn, ticket.organization_id)?.map(|o| o.name).unwrap_or_default();
    let office = Office::find(conn, ticket.office_id)?.ok_or(DomainError::NotFound("office"))?;
    let values = context! {
        requester => context! { name => requester.name, email => requester.email },
        ticket => context! {
            reference => ticket.reference, subject => ticket.subject, status => ticket.status.as_str(),
            priority => ticket.priority.as_str(), category => ticket.category.as_str()
        },
        organization => context! { name => organization },
        advisor => context! { name => caller.user.name, email => caller.user.email },
        office => context! { name => office.name, email => office.contact_email },
    };
    let body = environment().render_str(source, values).map_err(|error| {
        DomainError::invalid("saved_reply_id", format!("the saved reply cannot be rendered: {error}"))
    })?;
    let actions: SavedReplyActions = serde_json::from_value(reply.actions.clone()).unwrap_or_default();
    SavedReply::count_use(conn, reply.id)?;
    Ok(UsedReply { id: reply.id, body, actions })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_checked_when_saved() {
        assert!(check_template("bodies.en", "Dear {{ requester.name }}, #{{ ticket.reference }}").is_ok());
        assert!(check_template("bodies.en", "{{requester.name}} {{- office.email -}}").is_ok());
        // Only substitutions: no statements, filters or expressions (their work and output are unbounded).
        assert!(check_template("bodies.en", "{% if ticket.priority == 'urgent' %}Soon{% endif %}").is_err());
        assert!(check_template("bodies.en", "{{ 'x' * 100000000 }}").is_err());
        assert!(check_template("bodies.en", "{{ requester.name ~ requester.name }}").is_err());
        assert!(check_template("bodies.en", "Hi {{ requester.name").is_err());
        let unknown = check_template("bodies.en", "Hi {{ requester.shoe_size }}").unwrap_err();
        assert_eq!(unknown.field, "bodies.en");
        assert!(unknown.message.contains("requester.shoe_size"), "{}", unknown.message);
        // Unknown even in a branch the trial render does not take.
        assert!(check_template("bodies.en", "{% if false %}{{ secret }}{% endif %}").is_err());
        assert!(check_template("bodies.en", "{{ requester.name | nosuchfilter }}").is_err());
        assert!(check_template("bodies.en", "{% if %}").is_err());
        assert!(
            check_template(
                "bodies.en",
                "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"
            )
            .is_err()
        );
    }

    #[test]
    fn bodies_fall_back_by_language() {
        let bodies = serde_json::json!({"en": "en", "sr": "sr", "sr-Latn": "sr-Latn", "sq": "sq"});
        assert_eq!(body_for(&bodies, "sr-Latn", "en"), Some("sr-Latn"));
        assert_eq!(body_for(&bodies, "sr-latn", "en"), Some("sr-Latn"));
        assert_eq!(body_for(&bodies, "sq", "en"), Some("sq"));
        assert_eq!(body_for(&bodies, "de", "en"), Some("en"));
        assert_eq!(body_for(&bodies, "de", "sq"), Some("sq"));
        let only_sr = serde_json::json!({"sr": "sr"});
        assert_eq!(body_for(&only_sr, "sr-Latn", "en"), Some("sr"));
        assert_eq!(body_for(&only_sr, "tr", "en"), None);
    }
}
