//! `civicdesk admin bootstrap`: the first administrator and a new API token for them.

use crate::config::Settings;
use crate::db;
use crate::domain;

/// Creates the administrator (or reuses an existing one); the token goes to standard output alone, so that
/// `TOKEN=$(civicdesk admin bootstrap ...)` works.
pub fn run(settings: &Settings, email: &str, name: &str) -> anyhow::Result<()> {
    let mut conn = db::connect_and_migrate(&settings.database_url)?;
    let (user, token) = domain::users::bootstrap_admin(&mut conn, email, name)?;
    eprintln!("admin {} <{}> is ready; their new API token (shown once):", user.name, user.email);
    println!("{token}");
    Ok(())
}
