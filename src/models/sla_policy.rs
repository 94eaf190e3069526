//! SLA policies: first-response and resolution targets per priority, optionally per category.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::sla_policies;
use crate::vocabulary::{BreachAction, Category, Priority};

/// Service-level targets for the tickets of one priority (and, if set, one category).
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = sla_policies, check_for_backend(diesel::pg::Pg))]
pub struct SlaPolicy {
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

/// A new SLA policy, or every field of a changed one.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = sla_policies, treat_none_as_null = true)]
pub struct SlaPolicyFields {
    /// See [`SlaPolicy::priority`].
    pub priority: Priority,
    /// See [`SlaPolicy::category`].
    pub category: Option<Category>,
    /// See [`SlaPolicy::first_response_minutes`].
    pub first_response_minutes: i32,
    /// See [`SlaPolicy::resolution_minutes`].
    pub resolution_minutes: i32,
    /// See [`SlaPolicy::warn_at_percent`].
    pub warn_at_percent: i32,
    /// See [`SlaPolicy::breach_action`].
    pub breach_action: BreachAction,
}

impl SlaPolicy {
    /// Every policy, by priority and category.
    pub fn list(conn: &mut PgConnection) -> QueryResult<Vec<SlaPolicy>> {
        sla_policies::table
            .order((sla_policies::priority.asc(), sla_policies::category.asc().nulls_first()))
            .select(SlaPolicy::as_select())
            .load(conn)
    }

    /// The policy with this id.
    pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<SlaPolicy>> {
        sla_policies::table.find(id).select(SlaPolicy::as_select()).first(conn).optional()
    }

    /// The policy for a ticket of `priority` and `category`: the one narrowed to the category, else the general one.
    pub fn applicable(
        conn: &mut PgConnection,
        priority: Priority,
        category: Category,
    ) -> QueryResult<Option<SlaPolicy>> {
        sla_policies::table
            .filter(sla_policies::priority.eq(priority))
            .filter(sla_policies::category.eq(category).or(sla_policies::category.is_null()))
            .order(sla_policies::category.asc().nulls_last())
            .select(SlaPolicy::as_select())
            .first(conn)
            .optional()
    }

    /// Inserts a policy.
    pub fn insert(conn: &mut PgConnection, id: Uuid, fields: &SlaPolicyFields) -> QueryResult<SlaPolicy> {
        diesel::insert_into(sla_policies::table)
            .values((sla_policies::id.eq(id), fields))
            .returning(SlaPolicy::as_returning())
            .get_result(conn)
    }

    /// Replaces the fields of a policy.
    pub fn update(conn: &mut PgConnection, id: Uuid, fields: &SlaPolicyFields) -> QueryResult<Option<SlaPolicy>> {
        diesel::update(sla_policies::table.find(id))
            .set((fields, sla_policies::updated_at.eq(diesel::dsl::now)))
            .returning(SlaPolicy::as_returning())
            .get_result(conn)
            .optional()
    }

    /// Deletes a policy; tickets that followed it keep their due times.
    pub fn delete(conn: &mut PgConnection, id: Uuid) -> QueryResult<usize> {
        diesel::delete(sla_policies::table.find(id)).execute(conn)
    }
}
