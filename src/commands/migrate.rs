//! `civicdesk migrate`: creates the database if needed and applies pending migrations.

use crate::config::Settings;
use crate::db;

/// Migrates, then says so on standard error.
pub fn run(settings: &Settings) -> anyhow::Result<()> {
    db::connect_and_migrate(&settings.database_url)?;
    eprintln!("migrations applied");
    Ok(())
}
