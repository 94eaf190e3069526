//! Routing rules as the API shows them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::models::RoutingRule;
use crate::vocabulary::{Category, Priority};

/// A routing rule.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = RoutingRule)]
pub struct RoutingRuleView {
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

impl From<RoutingRule> for RoutingRuleView {
    fn from(rule: RoutingRule) -> Self {
        RoutingRuleView {
            id: rule.id,
            name: rule.name,
            position: rule.position,
            active: rule.active,
            countries: rule.countries,
            categories: rule.categories,
            priorities: rule.priorities,
            organization_ids: rule.organization_ids,
            keywords: rule.keywords,
            target_office_id: rule.target_office_id,
            target_advisor_id: rule.target_advisor_id,
            created_at: rule.created_at,
            updated_at: rule.updated_at,
        }
    }
}
