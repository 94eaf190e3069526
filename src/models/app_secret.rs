//! Secrets the service generates for itself and shares between its processes through the database.

use diesel::prelude::*;

use crate::schema::app_secrets;

/// Server-generated secrets.
pub struct AppSecret;

impl AppSecret {
    /// The secret `name`, created with `fresh` if it does not exist yet. Concurrent first calls agree on one value.
    pub fn get_or_create(conn: &mut PgConnection, name: &str, fresh: &[u8]) -> QueryResult<Vec<u8>> {
        diesel::insert_into(app_secrets::table)
            .values((app_secrets::name.eq(name), app_secrets::value.eq(fresh)))
            .on_conflict_do_nothing()
            .execute(conn)?;
        app_secrets::table.find(name).select(app_secrets::value).first(conn)
    }
}
