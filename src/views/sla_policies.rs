//! SLA policies as the API shows them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::models::SlaPolicy;
use crate::vocabulary::{BreachAction, Category, Priority};

/// Service-level targets for the tickets of one priority (and, if set, one category).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = SlaPolicy)]
pub struct SlaPolicyView {
    /// Identifier.
    pub id: Uuid,
    /// The priority it applies to.
    pub priority: Priority,
    /// The category it is narrowed to; `null` applies to every category without a narrower policy.
    pub category: Option<Category>,
    /// Business minutes from submission to the first public staff reply.
    pub first_response_minutes: i32,
    /// Business minutes from submission to resolution, without the time spent waiting on the requester.
    pub resolution_minutes: i32,
    /// The assignee is warned when this share of a target (in percent) has passed.
    pub warn_at_percent: i32,
    /// What a breach does besides telling the office coordinators.
    pub breach_action: BreachAction,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<SlaPolicy> for SlaPolicyView {
    fn from(policy: SlaPolicy) -> Self {
        SlaPolicyView {
            id: policy.id,
            priority: policy.priority,
            category: policy.category,
            first_response_minutes: policy.first_response_minutes,
            resolution_minutes: policy.resolution_minutes,
            warn_at_percent: policy.warn_at_percent,
            breach_action: policy.breach_action,
            created_at: policy.created_at,
            updated_at: policy.updated_at,
        }
    }
}
