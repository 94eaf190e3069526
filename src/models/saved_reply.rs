//! Saved replies: answers staff give again and again, one template per language.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::saved_replies;
use crate::text_enum;

text_enum! {
    /// Who may use a saved reply.
    pub enum SavedReplyScope {
        /// All staff of the network.
        Network => "network",
        /// The staff of one office.
        Office => "office",
        /// Its owner only.
        Personal => "personal",
    }
}

/// A saved reply.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = saved_replies, check_for_backend(diesel::pg::Pg))]
pub struct SavedReply {
    /// Identifier.
    pub id: Uuid,
    /// What staff look it up by.
    pub name: String,
    /// A grouping of the staff's choosing.
    pub category: Option<String>,
    /// Who may use it.
    pub scope: SavedReplyScope,
    /// The office of an office-wide reply.
    pub office_id: Option<Uuid>,
    /// Who created it (the only user of a personal reply).
    pub owner_id: Uuid,
    /// The template of each language, by BCP 47 tag.
    pub bodies: serde_json::Value,
    /// What using it also does (status, priority, tags).
    pub actions: serde_json::Value,
    /// How many messages were written with it.
    pub usage_count: i32,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was deleted (kept for the messages that name it).
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A new saved reply.
#[derive(Debug, Insertable)]
#[diesel(table_name = saved_replies, treat_none_as_default_value = false)]
pub struct NewSavedReply {
    /// See [`SavedReply::id`].
    pub id: Uuid,
    /// See [`SavedReply::name`].
    pub name: String,
    /// See [`SavedReply::category`].
    pub category: Option<String>,
    /// See [`SavedReply::scope`].
    pub scope: SavedReplyScope,
    /// See [`SavedReply::office_id`].
    pub office_id: Option<Uuid>,
    /// See [`SavedReply::owner_id`].
    pub owner_id: Uuid,
    /// See [`SavedReply::bodies`].
    pub bodies: serde_json::Value,
    /// See [`SavedReply::actions`].
    pub actions: serde_json::Value,
}

/// Changes to a saved reply; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = saved_replies)]
pub struct SavedReplyChanges {
    /// See [`SavedReply::name`].
    pub name: Option<String>,
    /// See [`SavedReply::category`].
    pub category: Option<Option<String>>,
    /// See [`SavedReply::bodies`].
    pub bodies: Option<serde_json::Value>,
    /// See [`SavedReply::actions`].
    pub actions: Option<serde_json::Value>,
    /// See [`SavedReply::deleted_at`].
    pub deleted_at: Option<Option<DateTime<Utc>>>,
}

/// What a listing of saved replies asks for.
#[derive(Debug, Clone, Default)]
pub struct SavedReplyFilter {
    /// The user listing (their personal replies are included).
    pub user_id: Uuid,
    /// Their office (its replies are included).
    pub office_id: Option<Uuid>,
    /// Words the name must contain (case-insensitive).
    pub q: Option<String>,
    /// Only this category.
    pub category: Option<String>,
    /// Only replies with a body in this language.
    pub language: Option<String>,
    /// Only this scope.
    pub scope: Option<SavedReplyScope>,
    /// After this (name, id).
    pub after: Option<(String, Uuid)>,
    /// At most this many.
    pub limit: i64,
}

impl SavedReply {
    /// Inserts a saved reply.
    pub fn insert(conn: &mut PgConnection, new: &NewSavedReply) -> QueryResult<SavedReply> {
        diesel::insert_into(saved_replies::table).values(new).returning(SavedReply::as_returning()).get_result(conn)
    }

    /// The saved reply with this id, unless deleted.
    pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<SavedReply>> {
        saved_replies::table
            .find(id)
            .filter(saved_replies::deleted_at.is_null())
            .select(SavedReply::as_select())
            .first(conn)
            .optional()
    }

    /// Applies `changes`.
    pub fn update(conn: &mut PgConnection, id: Uuid, changes: &SavedReplyChanges) -> QueryResult<SavedReply> {
        diesel::update(saved_replies::table.find(id))
            .set((changes, saved_replies::updated_at.eq(diesel::dsl::now)))
            .returning(SavedReply::as_returning())
            .get_result(conn)
    }

    /// Counts one more use.
    pub fn count_use(conn: &mut PgConnection, id: Uuid) -> QueryResult<usize> {
        diesel::update(saved_replies::table.find(id))
            .set(saved_replies::usage_count.eq(saved_replies::usage_count + 1))
            .execute(conn)
    }

    /// The saved replies `filter.user_id` may use (every office's with `all_offices`), matching the filter, by
    /// name.
    pub fn list(conn: &mut PgConnection, filter: &SavedReplyFilter, all_offices: bool) -> QueryResult<Vec<SavedReply>> {
        use diesel::dsl::sql;
        use diesel::sql_types::{Bool, Text};
        let mut query = saved_replies::table
            .filter(saved_replies::deleted_at.is_null())
            .select(SavedReply::as_select())
            .into_boxed();
        let usable = saved_replies::scope
            .eq(SavedReplyScope::Network)
            .or(saved_replies::scope.eq(SavedReplyScope::Personal).and(saved_replies::owner_id.eq(filter.user_id)));
        query = match (all_offices, filter.office_id) {
            (true, _) => query.filter(usable.or(saved_replies::scope.eq(SavedReplyScope::Office))),
            (false, Some(office)) => query.filter(usable.or(saved_replies::office_id.eq(office))),
            (false, None) => query.filter(usable),
        };
        if let Some(q) = &filter.q {
            query =
                query.filter(saved_replies::name.ilike(format!("%{}%", crate::models::organization::escape_like(q))));
        }
        if let Some(category) = &filter.category {
            query = query.filter(saved_replies::category.eq(category.clone()));
        }
        if let Some(language) = &filter.language {
            query = query
                .filter(sql::<Bool>("jsonb_exists(saved_replies.bodies, ").bind::<Text, _>(language.clone()).sql(")"));
        }
        if let Some(scope) = filter.scope {
            query = query.filter(saved_replies::scope.eq(scope));
        }
        if let Some((name, id)) = &filter.after {
            query = query.filter(
                sql::<Bool>("(saved_replies.name, saved_replies.id) > (")
                    .bind::<Text, _>(name.clone())
                    .sql(", ")
                    .bind::<diesel::sql_types::Uuid, _>(*id)
                    .sql(")"),
            );
        }
        query.order((saved_replies::name.asc(), saved_replies::id.asc())).limit(filter.limit).load(conn)
    }
}
