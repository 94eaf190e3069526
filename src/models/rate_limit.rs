//! The rate limiter's counters: hits per budget key and one-minute window, shared by every server process.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text, Timestamptz};

/// What one counted request found.
#[derive(Debug, QueryableByName)]
pub struct Counted {
    /// The budget's hits in this window, this request included.
    #[diesel(sql_type = Integer)]
    pub hits: i32,
    /// The hits counted against `also` in this window (another budget the request must stay within).
    #[diesel(sql_type = Integer)]
    pub also: i32,
    /// The hits counted against `failures` in this window (failed authentications from the request's address).
    #[diesel(sql_type = Integer)]
    pub failures: i32,
}

/// Counts one hit against `key` in the window starting at `window`, and reads the hits counted against `also` and
/// `failures` in it: one statement, one round trip.
pub fn hit(
    conn: &mut PgConnection,
    key: &str,
    also: &str,
    failures: &str,
    window: DateTime<Utc>,
) -> QueryResult<Counted> {
    diesel::sql_query(
        "WITH hit AS (
             INSERT INTO rate_limit_hits (key, window_start, hits) VALUES ($1, $2, 1)
             ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limit_hits.hits + 1
             RETURNING hits)
         SELECT (SELECT hits FROM hit) AS hits,
                coalesce((SELECT hits FROM rate_limit_hits WHERE key = $3 AND window_start = $2), 0) AS also,
                coalesce((SELECT hits FROM rate_limit_hits WHERE key = $4 AND window_start = $2), 0) AS failures",
    )
    .bind::<Text, _>(key)
    .bind::<Timestamptz, _>(window)
    .bind::<Text, _>(also)
    .bind::<Text, _>(failures)
    .get_result(conn)
}

/// Counts one hit against each of `keys` in the window starting at `window`.
pub fn count(conn: &mut PgConnection, keys: &[String], window: DateTime<Utc>) -> QueryResult<usize> {
    diesel::sql_query(
        "INSERT INTO rate_limit_hits (key, window_start, hits) SELECT key, $2, 1 FROM unnest($1::text[]) AS key
         ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limit_hits.hits + 1",
    )
    .bind::<diesel::sql_types::Array<Text>, _>(keys)
    .bind::<Timestamptz, _>(window)
    .execute(conn)
}

/// Forgets windows that ended before `before`.
pub fn forget_before(conn: &mut PgConnection, before: DateTime<Utc>) -> QueryResult<usize> {
    diesel::sql_query("DELETE FROM rate_limit_hits WHERE window_start < $1")
        .bind::<Timestamptz, _>(before)
        .execute(conn)
}
