//! SQL that diesel's query builder has no words for, written so that the statements using it stay in diesel's
//! prepared-statement cache. (`diesel::dsl::sql` marks every statement it appears in as not cacheable, which
//! costs a parse and a plan on every request; for the ticket listing that was over a millisecond.)

use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel::expression::{
    AppearsOnTable, Expression, SelectableExpression, TypedExpressionType, ValidGrouping, is_aggregate,
};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Bool, SqlType, Text, Timestamptz};
use uuid::Uuid;

/// A constant piece of SQL of type `ST`, such as a CASE expression over the row's columns.
#[derive(Debug, Clone, Copy)]
pub struct Fragment<ST> {
    sql: &'static str,
    sql_type: PhantomData<ST>,
}

/// The constant SQL `sql`, of type `ST`.
pub const fn fragment<ST>(sql: &'static str) -> Fragment<ST> {
    Fragment { sql, sql_type: PhantomData }
}

impl<ST: SqlType + TypedExpressionType> Expression for Fragment<ST> {
    type SqlType = ST;
}

impl<ST> QueryFragment<Pg> for Fragment<ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(self.sql);
        Ok(())
    }
}

/// No static id: statements are cached by their SQL text, so two fragments never share a cache entry.
impl<ST> QueryId for Fragment<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST, QS> AppearsOnTable<QS> for Fragment<ST> where Self: Expression {}
impl<ST, QS> SelectableExpression<QS> for Fragment<ST> where Self: AppearsOnTable<QS> {}
impl<ST, GB> ValidGrouping<GB> for Fragment<ST> {
    type IsAggregate = is_aggregate::Never;
}

/// `tickets.search_vector @@ civicdesk_search_query($1)`: full-text search in web-search syntax.
#[derive(Debug, Clone)]
pub struct TextSearch(pub String);

impl Expression for TextSearch {
    type SqlType = Bool;
}

impl QueryFragment<Pg> for TextSearch {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("tickets.search_vector @@ civicdesk_search_query(");
        out.push_bind_param::<Text, _>(&self.0)?;
        out.push_sql(")");
        Ok(())
    }
}

impl QueryId for TextSearch {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<QS> AppearsOnTable<QS> for TextSearch {}
impl<QS> SelectableExpression<QS> for TextSearch {}
impl<GB> ValidGrouping<GB> for TextSearch {
    type IsAggregate = is_aggregate::Never;
}

/// `(column, tickets.id) < ($1, $2)` (or `>`): the rows after a keyset position. A row comparison, so that
/// PostgreSQL walks the `(column, id)` index from the position on.
#[derive(Debug, Clone)]
pub struct KeysetAfter {
    /// The sort column, qualified (`tickets.created_at`).
    pub column: &'static str,
    /// Whether the listing runs newest first.
    pub descending: bool,
    /// The sort key of the last row seen.
    pub at: DateTime<Utc>,
    /// The id of the last row seen.
    pub id: Uuid,
}

impl Expression for KeysetAfter {
    type SqlType = Bool;
}

impl QueryFragment<Pg> for KeysetAfter {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("(");
        out.push_sql(self.column);
        out.push_sql(if self.descending { ", tickets.id) < (" } else { ", tickets.id) > (" });
        out.push_bind_param::<Timestamptz, _>(&self.at)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Uuid, _>(&self.id)?;
        out.push_sql(")");
        Ok(())
    }
}

impl QueryId for KeysetAfter {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<QS> AppearsOnTable<QS> for KeysetAfter {}
impl<QS> SelectableExpression<QS> for KeysetAfter {}
impl<GB> ValidGrouping<GB> for KeysetAfter {
    type IsAggregate = is_aggregate::Never;
}

/// A query with a literal `LIMIT`. PostgreSQL keeps one generic plan for a prepared statement only when that plan
/// looks no worse than planning anew; with a bound `LIMIT $n` it cannot tell how few rows are wanted, so it plans
/// every execution (measured: 40% fewer listings per second at a million tickets). A literal limit (one cached
/// statement per page size) lets the generic plan, an ordered index scan that stops after a page, be reused.
#[derive(Debug, Clone)]
pub struct LiteralLimit<Q> {
    /// The query, without a limit.
    pub query: Q,
    /// The most rows wanted.
    pub limit: i64,
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for LiteralLimit<Q> {
    type SqlType = Q::SqlType;
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for LiteralLimit<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(" LIMIT ");
        out.push_sql(&self.limit.to_string());
        Ok(())
    }
}

impl<Q> QueryId for LiteralLimit<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, Conn> diesel::RunQueryDsl<Conn> for LiteralLimit<Q> {}

/// `WITH first AS (<first>) <then>`: a data-changing statement run ahead of another in the same round trip (and
/// the same snapshot; foreign keys between the two are checked at the end of the statement). Cached like any
/// statement whose parts are.
pub struct WithFirst<'a, Q> {
    /// The statement run first, such as an `INSERT` whose rows `then` does not need to read.
    pub first: Boxed<'a>,
    /// The statement whose answer is the answer.
    pub then: Q,
}

impl<Q> std::fmt::Debug for WithFirst<'_, Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WithFirst")
    }
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for WithFirst<'_, Q> {
    type SqlType = Q::SqlType;
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for WithFirst<'_, Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH first AS (");
        self.first.walk_ast(out.reborrow())?;
        out.push_sql(") ");
        self.then.walk_ast(out.reborrow())
    }
}

impl<Q> QueryId for WithFirst<'_, Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, Conn> diesel::RunQueryDsl<Conn> for WithFirst<'_, Q> {}

/// A statement built at run time (such as one of several shapes of insert), runnable on its own or as a part of
/// [`WithFirst`]; cached like any statement whose parts are.
pub struct Boxed<'a>(pub Box<dyn QueryFragment<Pg> + 'a>);

impl std::fmt::Debug for Boxed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Boxed")
    }
}

impl QueryFragment<Pg> for Boxed<'_> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(out)
    }
}

impl QueryId for Boxed<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Conn> diesel::RunQueryDsl<Conn> for Boxed<'_> {}

/// The insert of `$rows` (a slice, not empty) into `$table`, as a [`Boxed`] statement. Up to three rows go in as a
/// fixed-size array, which keeps one cached statement per length: diesel never caches the insert of a `Vec`.
macro_rules! batch_insert {
    ($table:expr, $rows:expr) => {{
        let insert = || diesel::insert_into($table);
        $crate::models::sql::Boxed(match $rows {
            [a] => Box::new(insert().values(a)),
            [a, b] => Box::new(insert().values([a.clone(), b.clone()])),
            [a, b, c] => Box::new(insert().values([a.clone(), b.clone(), c.clone()])),
            rows => Box::new(insert().values(rows)),
        })
    }};
}
pub(crate) use batch_insert;
