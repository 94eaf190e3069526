//! `satisfaction_ratings`: one requester verdict per ticket.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use uuid::Uuid;

use crate::schema::satisfaction_ratings;
use crate::vocabulary::Rating;

/// A rating, as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = satisfaction_ratings, check_for_backend(diesel::pg::Pg))]
pub struct SatisfactionRating {
    /// The ticket rated.
    pub ticket_id: Uuid,
    /// Who rated it.
    pub rated_by: Uuid,
    /// The verdict.
    pub rating: Rating,
    /// What they added, if anything.
    pub comment: Option<String>,
    /// When they rated it (a new rating replaces the earlier one).
    pub rated_at: DateTime<Utc>,
}

impl SatisfactionRating {
    /// Stores the rating of `ticket_id`, replacing an earlier one; a rating without a comment keeps the comment
    /// given before (the button of a link, pressed again after a rating with a comment).
    pub fn upsert(
        conn: &mut PgConnection,
        ticket_id: Uuid,
        rated_by: Uuid,
        rating: Rating,
        comment: Option<&str>,
    ) -> QueryResult<SatisfactionRating> {
        diesel::insert_into(satisfaction_ratings::table)
            .values((
                satisfaction_ratings::ticket_id.eq(ticket_id),
                satisfaction_ratings::rated_by.eq(rated_by),
                satisfaction_ratings::rating.eq(rating),
                satisfaction_ratings::comment.eq(comment),
            ))
            .on_conflict(satisfaction_ratings::ticket_id)
            .do_update()
            .set((
                satisfaction_ratings::rated_by.eq(excluded(satisfaction_ratings::rated_by)),
                satisfaction_ratings::rating.eq(excluded(satisfaction_ratings::rating)),
                satisfaction_ratings::comment.eq(diesel::dsl::sql::<
                    diesel::sql_types::Nullable<diesel::sql_types::Text>,
                >(
                    "COALESCE(EXCLUDED.comment, satisfaction_ratings.comment)"
                )),
                satisfaction_ratings::rated_at.eq(diesel::dsl::now),
            ))
            .returning(SatisfactionRating::as_returning())
            .get_result(conn)
    }

    /// The rating of `ticket_id`, if it has one.
    pub fn find(conn: &mut PgConnection, ticket_id: Uuid) -> QueryResult<Option<SatisfactionRating>> {
        satisfaction_ratings::table.find(ticket_id).select(SatisfactionRating::as_select()).first(conn).optional()
    }
}
