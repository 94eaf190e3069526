//! SLA policies: who may manage them and what a valid policy is. A change applies to tickets submitted
//! afterwards and to tickets whose due times are recomputed (a priority change, say); running tickets keep theirs.

use diesel::PgConnection;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::values::Checks;
use crate::models::SlaPolicy;
use crate::models::sla_policy::SlaPolicyFields;
use crate::vocabulary::{BreachAction, Category, Priority};

/// Longest target accepted, in minutes (a year of business time is far beyond any real promise).
pub const TARGET_MAX_MINUTES: i32 = 525_600;

/// An SLA policy, as created or replaced.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicyInput {
    /// The priority it applies to.
    pub priority: Priority,
    /// Narrow it to one category; absent or `null` covers every category without a narrower policy.
    pub category: Option<Category>,
    /// Business minutes from submission to the first public staff reply.
    #[schema(minimum = 1, maximum = 525600, example = 960)]
    pub first_response_minutes: i32,
    /// Business minutes from submission to resolution, without time spent waiting on the requester.
    #[schema(minimum = 1, maximum = 525600, example = 4800)]
    pub resolution_minutes: i32,
    /// Warn the assignee when this share of a target (percent) has passed; 75 when absent.
    #[schema(minimum = 1, maximum = 99, example = 75)]
    pub warn_at_percent: Option<i32>,
    /// What a breach does besides telling the office coordinators; `notify` when absent.
    pub breach_action: Option<BreachAction>,
}

impl SlaPolicyInput {
    fn validate(self) -> DomainResult<SlaPolicyFields> {
        let mut checks = Checks::default();
        for (field, value) in
            [("first_response_minutes", self.first_response_minutes), ("resolution_minutes", self.resolution_minutes)]
        {
            if !(1..=TARGET_MAX_MINUTES).contains(&value) {
                checks.fail(field, "must be between 1 and 525600 minutes");
            }
        }
        let warn_at_percent = self.warn_at_percent.unwrap_or(75);
        if !(1..=99).contains(&warn_at_percent) {
            checks.fail("warn_at_percent", "must be between 1 and 99");
        }
        checks.finish()?;
        Ok(SlaPolicyFields {
            priority: self.priority,
            category: self.category,
            first_response_minutes: self.first_response_minutes,
            resolution_minutes: self.resolution_minutes,
            warn_at_percent,
            breach_action: self.breach_action.unwrap_or(BreachAction::Notify),
        })
    }
}

/// Every policy (staff).
pub fn list(conn: &mut PgConnection, caller: &Caller) -> DomainResult<Vec<SlaPolicy>> {
    caller.require_staff()?;
    Ok(SlaPolicy::list(conn)?)
}

/// One policy (staff).
pub fn get(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> DomainResult<SlaPolicy> {
    caller.require_staff()?;
    SlaPolicy::find(conn, id)?.ok_or(DomainError::NotFound("SLA policy"))
}

/// Creates a policy (admins and coordinators).
pub fn create(conn: &mut PgConnection, caller: &Caller, input: SlaPolicyInput) -> DomainResult<SlaPolicy> {
    caller.require_manager()?;
    let fields = input.validate()?;
    Ok(SlaPolicy::insert(conn, Uuid::now_v7(), &fields)?)
}

/// Replaces a policy (admins and coordinators).
pub fn update(conn: &mut PgConnection, caller: &Caller, id: Uuid, input: SlaPolicyInput) -> DomainResult<SlaPolicy> {
    caller.require_manager()?;
    let fields = input.validate()?;
    SlaPolicy::update(conn, id, &fields)?.ok_or(DomainError::NotFound("SLA policy"))
}

/// Deletes a policy (admins and coordinators); its tickets keep their due times.
pub fn delete(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> DomainResult<()> {
    caller.require_manager()?;
    match SlaPolicy::delete(conn, id)? {
        0 => Err(DomainError::NotFound("SLA policy")),
        _ => Ok(()),
    }
}
