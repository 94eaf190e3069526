//! Routing rules: an ordered list of "tickets like this go there".

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::routing_rules;
use crate::vocabulary::{Category, Priority};

/// A routing rule.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = routing_rules, check_for_backend(diesel::pg::Pg))]
pub struct RoutingRule {
    /// Identifier.
    pub id: Uuid,
    /// What the rule is for, shown in routing explanations.
    pub name: String,
    /// Rules are tried in ascending position (then creation order); the first that matches wins.
    pub position: i32,
    /// Inactive rules are skipped.
    pub active: bool,
    /// Matches tickets from any of these countries (empty: any country).
    pub countries: Vec<String>,
    /// Matches tickets in any of these categories (empty: any).
    pub categories: Vec<Category>,
    /// Matches tickets with any of these priorities (empty: any).
    pub priorities: Vec<Priority>,
    /// Matches tickets of any of these organisations (empty: any).
    pub organization_ids: Vec<Uuid>,
    /// Matches tickets whose subject or body contains any of these words or phrases, ignoring case (empty: any).
    pub keywords: Vec<String>,
    /// The office whose advisors take matching tickets.
    pub target_office_id: Option<Uuid>,
    /// The advisor who takes matching tickets (their office's pool when they cannot).
    pub target_advisor_id: Option<Uuid>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A new rule: an id and its fields.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = routing_rules)]
pub struct NewRoutingRule {
    /// See [`RoutingRule::id`].
    pub id: Uuid,
    /// Everything else.
    #[diesel(embed)]
    pub fields: RoutingRuleChanges,
}

/// A rule's fields, whole: what a new rule gets, and what a change replaces (then checked whole).
#[derive(Debug, Clone, AsChangeset, Insertable)]
#[diesel(table_name = routing_rules, treat_none_as_null = true)]
pub struct RoutingRuleChanges {
    /// See [`RoutingRule::name`].
    pub name: String,
    /// See [`RoutingRule::position`].
    pub position: i32,
    /// See [`RoutingRule::active`].
    pub active: bool,
    /// See [`RoutingRule::countries`].
    pub countries: Vec<String>,
    /// See [`RoutingRule::categories`].
    pub categories: Vec<Category>,
    /// See [`RoutingRule::priorities`].
    pub priorities: Vec<Priority>,
    /// See [`RoutingRule::organization_ids`].
    pub organization_ids: Vec<Uuid>,
    /// See [`RoutingRule::keywords`].
    pub keywords: Vec<String>,
    /// See [`RoutingRule::target_office_id`].
    pub target_office_id: Option<Uuid>,
    /// See [`RoutingRule::target_advisor_id`].
    pub target_advisor_id: Option<Uuid>,
}

impl RoutingRule {
    /// Inserts a rule.
    pub fn insert(conn: &mut PgConnection, new: &NewRoutingRule) -> QueryResult<RoutingRule> {
        diesel::insert_into(routing_rules::table).values(new).returning(RoutingRule::as_returning()).get_result(conn)
    }

    /// The rule with this id.
    pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<RoutingRule>> {
        routing_rules::table.find(id).select(RoutingRule::as_select()).first(conn).optional()
    }

    /// Every rule in the order they are tried.
    pub fn list(conn: &mut PgConnection) -> QueryResult<Vec<RoutingRule>> {
        routing_rules::table
            .order((routing_rules::position.asc(), routing_rules::created_at.asc(), routing_rules::id.asc()))
            .select(RoutingRule::as_select())
            .load(conn)
    }

    /// The active rules in the order they are tried.
    pub fn list_active(conn: &mut PgConnection) -> QueryResult<Vec<RoutingRule>> {
        routing_rules::table
            .filter(routing_rules::active.eq(true))
            .order((routing_rules::position.asc(), routing_rules::created_at.asc(), routing_rules::id.asc()))
            .select(RoutingRule::as_select())
            .load(conn)
    }

    /// The position after the last rule, so that a new rule without one goes to the end.
    pub fn next_position(conn: &mut PgConnection) -> QueryResult<i32> {
        let last: Option<i32> = routing_rules::table.select(diesel::dsl::max(routing_rules::position)).first(conn)?;
        Ok(last.map_or(10, |p| p.saturating_add(10)))
    }

    /// Replaces a rule's fields and returns it.
    pub fn update(conn: &mut PgConnection, id: Uuid, changes: &RoutingRuleChanges) -> QueryResult<RoutingRule> {
        diesel::update(routing_rules::table.find(id))
            .set((changes, routing_rules::updated_at.eq(diesel::dsl::now)))
            .returning(RoutingRule::as_returning())
            .get_result(conn)
    }

    /// Deletes a rule; returns whether it existed.
    pub fn delete(conn: &mut PgConnection, id: Uuid) -> QueryResult<bool> {
        diesel::delete(routing_rules::table.find(id)).execute(conn).map(|n| n == 1)
    }
}
