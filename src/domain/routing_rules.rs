//! Routing rules: who may manage them and what a valid rule is.

use diesel::PgConnection;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::values::{self, Checks, NAME_MAX};
use crate::models::routing_rule::{NewRoutingRule, RoutingRuleChanges};
use crate::models::{Office, Organization, RoutingRule, User};
use crate::vocabulary::{Category, Priority, Role};

/// Most values one matcher list holds.
const LIST_MAX: usize = 100;
/// Longest keyword accepted.
const KEYWORD_MAX: usize = 100;

/// A routing rule as written by a client: matchers and one target.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingRuleInput {
    /// What the rule is for, shown in routing explanations.
    #[schema(min_length = 1, max_length = 200, example = "EU funding in Kosovo")]
    pub name: Option<String>,
    /// Where the rule stands in the list (ascending; the first match wins); the end of the list when absent.
    pub position: Option<i32>,
    /// Inactive rules are skipped; `true` when absent.
    pub active: Option<bool>,
    /// Countries (ISO 3166-1 alpha-2) the rule matches.
    #[schema(example = json!(["XK"]))]
    pub countries: Option<Vec<String>>,
    /// Categories the rule matches.
    pub categories: Option<Vec<Category>>,
    /// Priorities the rule matches.
    pub priorities: Option<Vec<Priority>>,
    /// Organisations the rule matches.
    pub organization_ids: Option<Vec<Uuid>>,
    /// Words or phrases in the subject or body the rule matches (whole words, any case).
    #[schema(example = json!(["IPA", "civil society facility"]))]
    pub keywords: Option<Vec<String>>,
    /// Send matching tickets to this office's advisors.
    pub target_office_id: Option<Uuid>,
    /// Send matching tickets to this advisor (their office's pool when they cannot take it).
    pub target_advisor_id: Option<Uuid>,
}

/// Checks the whole rule `rule` would become, naming every bad field.
fn check(conn: &mut PgConnection, rule: &mut RoutingRuleChanges) -> DomainResult<()> {
    let mut checks = Checks::default();
    rule.name = checks.check(values::bounded_text("name", &rule.name, NAME_MAX, false));
    let lists = [
        ("countries", rule.countries.len()),
        ("categories", rule.categories.len()),
        ("priorities", rule.priorities.len()),
        ("organization_ids", rule.organization_ids.len()),
        ("keywords", rule.keywords.len()),
    ];
    for (field, length) in lists {
        if length > LIST_MAX {
            checks.fail(field, format!("at most {LIST_MAX} values"));
        }
    }
    if lists.iter().all(|(_, length)| *length == 0) {
        checks.fail(
            "countries",
            "a rule needs at least one matcher: countries, categories, priorities, organization_ids or keywords",
        );
    }
    let countries = std::mem::take(&mut rule.countries);
    for (index, country) in countries.iter().enumerate() {
        let code = checks.check(values::country(&format!("countries[{index}]"), country));
        if !rule.countries.contains(&code) {
            rule.countries.push(code);
        }
    }
    let keywords = std::mem::take(&mut rule.keywords);
    for (index, keyword) in keywords.iter().enumerate() {
        let keyword = checks.check(values::bounded_text(&format!("keywords[{index}]"), keyword, KEYWORD_MAX, false));
        if !rule.keywords.contains(&keyword) {
            rule.keywords.push(keyword);
        }
    }
    rule.categories.sort_by_key(|c| c.as_str());
    rule.categories.dedup();
    rule.priorities.sort_by_key(|p| p.as_str());
    rule.priorities.dedup();
    rule.organization_ids.sort();
    rule.organization_ids.dedup();
    for (index, organization) in rule.organization_ids.iter().enumerate() {
        if Organization::find(conn, *organization)?.is_none() {
            checks.fail(format!("organization_ids[{index}]"), "no such organization");
        }
    }
    match (rule.target_office_id, rule.target_advisor_id) {
        (Some(_), Some(_)) | (None, None) => {
            checks.fail("target_office_id", "give exactly one target: target_office_id or target_advisor_id")
        }
        (Some(office), None) => {
            if Office::find(conn, office)?.is_none() {
                checks.fail("target_office_id", "no such office");
            }
        }
        (None, Some(advisor)) => {
            if !User::find(conn, advisor)?.is_some_and(|u| u.role == Role::Advisor) {
                checks.fail("target_advisor_id", "must be an advisor");
            }
        }
    }
    checks.finish()
}

/// Every rule in the order they are tried (staff).
pub fn list(conn: &mut PgConnection, caller: &Caller) -> DomainResult<Vec<RoutingRule>> {
    caller.require_staff()?;
    Ok(RoutingRule::list(conn)?)
}

/// One rule (staff).
pub fn get(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> DomainResult<RoutingRule> {
    caller.require_staff()?;
    RoutingRule::find(conn, id)?.ok_or(DomainError::NotFound("routing rule"))
}

/// Creates a rule (admins and coordinators).
pub fn create(conn: &mut PgConnection, caller: &Caller, input: RoutingRuleInput) -> DomainResult<RoutingRule> {
    caller.require_manager()?;
    insert(conn, input)
}

/// Checks and stores a new rule, for callers that already checked who asks (the API, demo seeding).
pub fn insert(conn: &mut PgConnection, input: RoutingRuleInput) -> DomainResult<RoutingRule> {
    if input.name.is_none() {
        return Err(DomainError::invalid("name", "is required"));
    }
    let position = match input.position {
        Some(position) => position,
        None => RoutingRule::next_position(conn)?,
    };
    let mut rule = RoutingRuleChanges {
        name: input.name.unwrap_or_default(),
        position,
        active: input.active.unwrap_or(true),
        countries: input.countries.unwrap_or_default(),
        categories: input.categories.unwrap_or_default(),
        priorities: input.priorities.unwrap_or_default(),
        organization_ids: input.organization_ids.unwrap_or_default(),
        keywords: input.keywords.unwrap_or_default(),
        target_office_id: input.target_office_id,
        target_advisor_id: input.target_advisor_id,
    };
    check(conn, &mut rule)?;
    Ok(RoutingRule::insert(conn, &NewRoutingRule { id: Uuid::now_v7(), fields: rule })?)
}

/// Changes a rule (admins and coordinators). Absent fields stay; giving one target replaces the other.
pub fn update(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
    input: RoutingRuleInput,
) -> DomainResult<RoutingRule> {
    caller.require_manager()?;
    let current = RoutingRule::find(conn, id)?.ok_or(DomainError::NotFound("routing rule"))?;
    let new_target = input.target_office_id.is_some() || input.target_advisor_id.is_some();
    let mut rule = RoutingRuleChanges {
        name: input.name.unwrap_or(current.name),
        position: input.position.unwrap_or(current.position),
        active: input.active.unwrap_or(current.active),
        countries: input.countries.unwrap_or(current.countries),
        categories: input.categories.unwrap_or(current.categories),
        priorities: input.priorities.unwrap_or(current.priorities),
        organization_ids: input.organization_ids.unwrap_or(current.organization_ids),
        keywords: input.keywords.unwrap_or(current.keywords),
        target_office_id: if new_target { input.target_office_id } else { current.target_office_id },
        target_advisor_id: if new_target { input.target_advisor_id } else { current.target_advisor_id },
    };
    check(conn, &mut rule)?;
    Ok(RoutingRule::update(conn, id, &rule)?)
}

/// Deletes a rule (admins and coordinators).
pub fn delete(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> DomainResult<()> {
    caller.require_manager()?;
    if RoutingRule::delete(conn, id)? { Ok(()) } else { Err(DomainError::NotFound("routing rule")) }
}
