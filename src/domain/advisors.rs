//! Advisor profiles: managed by admins and coordinators; advisors set their own availability.

use chrono::{DateTime, Utc};
use diesel::{Connection, PgConnection};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::error::{DomainError, DomainResult, FieldError};
use crate::domain::routing::{self, primary_language};
use crate::domain::values;
use crate::models::advisor_profile::{AdvisorProfileChanges, NewAdvisorProfile, OpenCountRepair};
use crate::models::{AdvisorProfile, User};
use crate::vocabulary::{Category, Role};

/// Most languages a profile lists.
const LANGUAGES_MAX: usize = 20;

/// An advisor as routing sees them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdvisorView {
    /// The advisor's user id.
    pub user_id: Uuid,
    /// Name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// The advisor's office.
    pub office_id: Option<Uuid>,
    /// Whether the user is active.
    pub active: bool,
    /// The assistance areas the advisor covers.
    pub categories: Vec<Category>,
    /// Primary language subtags the advisor works in.
    pub languages: Vec<String>,
    /// Most open tickets routing gives them.
    pub capacity: i32,
    /// Whether they take new work; `false` is "away".
    pub available: bool,
    /// When an away advisor is back.
    pub away_until: Option<DateTime<Utc>>,
    /// Whether they take work right now (available, or back from being away).
    pub available_now: bool,
    /// Their open tickets (new, open, pending).
    pub open_tickets: i64,
    /// When routing last gave them a ticket.
    pub last_assigned_at: Option<DateTime<Utc>>,
}

/// Changes to a profile; absent fields stay as they are. Advisors may change only `available` and `away_until`
/// of their own profile.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAdvisor {
    /// The assistance areas covered (the whole list).
    pub categories: Option<Vec<Category>>,
    /// Languages worked in, as BCP 47 tags (the whole list; stored as primary subtags).
    #[schema(example = json!(["sq", "en"]))]
    pub languages: Option<Vec<String>>,
    /// Most open tickets routing gives the advisor, 1 to 10000.
    #[schema(minimum = 1, maximum = 10000)]
    pub capacity: Option<i32>,
    /// `false` sets the advisor away: routing skips them and their open tickets go to colleagues or the queue.
    pub available: Option<bool>,
    /// When an away advisor is back (routing counts them available again after it); `null` clears it.
    #[serde(default, deserialize_with = "crate::domain::patch::nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub away_until: Option<Option<DateTime<Utc>>>,
}

fn view(profile: AdvisorProfile, user: User) -> AdvisorView {
    let open_tickets = i64::from(profile.open_tickets);
    AdvisorView {
        available_now: profile.is_available(Utc::now()),
        user_id: user.id,
        name: user.name,
        email: user.email,
        office_id: user.office_id,
        active: user.active,
        categories: profile.categories,
        languages: profile.languages,
        capacity: profile.capacity,
        available: profile.available,
        away_until: profile.away_until,
        open_tickets,
        last_assigned_at: profile.last_assigned_at,
    }
}

/// Gives an advisor a profile if they have none: every category, in their own language.
pub fn ensure_profile(conn: &mut PgConnection, user: &User) -> DomainResult<()> {
    if user.role == Role::Advisor {
        AdvisorProfile::insert_if_missing(
            conn,
            &NewAdvisorProfile {
                user_id: user.id,
                categories: Category::ALL.to_vec(),
                languages: vec![primary_language(&user.language)],
            },
        )?;
    }
    Ok(())
}

/// Every advisor (optionally of one office) with their load (staff).
pub fn list(conn: &mut PgConnection, caller: &Caller, office_id: Option<Uuid>) -> DomainResult<Vec<AdvisorView>> {
    caller.require_staff()?;
    let advisors = AdvisorProfile::list(conn, office_id)?;
    Ok(advisors.into_iter().map(|(profile, user)| view(profile, user)).collect())
}

/// One advisor (staff).
pub fn get(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> DomainResult<AdvisorView> {
    caller.require_staff()?;
    let user = User::find(conn, id)?.filter(|u| u.role == Role::Advisor).ok_or(DomainError::NotFound("advisor"))?;
    let profile = AdvisorProfile::find(conn, id)?.ok_or(DomainError::NotFound("advisor"))?;
    Ok(view(profile, user))
}

fn check_languages(tags: Vec<String>) -> Result<Vec<String>, FieldError> {
    if tags.len() > LANGUAGES_MAX {
        return Err(FieldError::new("languages", format!("at most {LANGUAGES_MAX} languages")));
    }
    let mut languages = Vec::with_capacity(tags.len());
    for (index, tag) in tags.iter().enumerate() {
        let tag = values::language(&format!("languages[{index}]"), tag)?;
        let primary = primary_language(&tag);
        if !languages.contains(&primary) {
            languages.push(primary);
        }
    }
    Ok(languages)
}

/// Changes a profile: admins and coordinators anything, advisors their own availability. Setting an advisor
/// away hands their open tickets to colleagues (or the office queue) in the same transaction.
pub fn update(conn: &mut PgConnection, caller: &Caller, id: Uuid, input: UpdateAdvisor) -> DomainResult<AdvisorView> {
    let only_availability = input.categories.is_none() && input.languages.is_none() && input.capacity.is_none();
    if !(caller.id() == id && only_availability) {
        caller.require_manager()?;
    }
    let mut errors = Vec::new();
    let mut categories = input.categories;
    if let Some(list) = categories.as_mut() {
        list.sort_by_key(|c| c.as_str());
        list.dedup();
    }
    let languages = match input.languages.map(check_languages).transpose() {
        Ok(languages) => languages,
        Err(error) => {
            errors.push(error);
            None
        }
    };
    if input.capacity.is_some_and(|c| !(1..=10_000).contains(&c)) {
        errors.push(FieldError::new("capacity", "must be between 1 and 10000"));
    }
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors));
    }
    // Coming back clears the return date; going away keeps the one given.
    let away_until = match (input.available, input.away_until) {
        (Some(true), None) => Some(None),
        (_, away_until) => away_until,
    };
    let changes = AdvisorProfileChanges {
        categories,
        languages,
        capacity: input.capacity,
        available: input.available,
        away_until,
    };
    conn.transaction(|conn| {
        let user = User::find(conn, id)?.filter(|u| u.role == Role::Advisor).ok_or(DomainError::NotFound("advisor"))?;
        routing::lock_for_release(conn, id)?;
        let before = AdvisorProfile::find(conn, id)?.ok_or(DomainError::NotFound("advisor"))?;
        let profile = if changes.is_empty() { before.clone() } else { AdvisorProfile::update(conn, id, &changes)? };
        let now = Utc::now();
        if before.is_available(now) && !profile.is_available(now) {
            routing::release_tickets(conn, id, Some(caller.id()))?;
            // The count the releases left.
            let profile = AdvisorProfile::find(conn, id)?.ok_or(DomainError::NotFound("advisor"))?;
            return Ok(view(profile, user));
        }
        Ok(view(profile, user))
    })
}

/// Compares every advisor's open-ticket count with their tickets and, with `correct`, corrects the wrong ones;
/// returns the counts that were wrong. One short transaction per advisor, which locks only that profile: exact
/// while tickets keep changing (see [`AdvisorProfile::repair_open_count`]), and never in the way for long.
pub fn repair_open_counts(conn: &mut PgConnection, correct: bool) -> DomainResult<Vec<OpenCountRepair>> {
    let mut wrong = Vec::new();
    for user_id in AdvisorProfile::all_ids(conn)? {
        if let Some(repair) = conn.transaction(|conn| AdvisorProfile::repair_open_count(conn, user_id, correct))? {
            wrong.push(repair);
        }
    }
    Ok(wrong)
}
