//! `civicdesk seed --demo`: the demo network (offices, advisors, CSOs, routing rules), created idempotently, with a
//! fresh token for each demo user.

use crate::config::Settings;
use crate::db;
use crate::domain;

/// Seeds the demo network when `demo` is set (there is nothing else to seed) and prints the demo logins.
pub fn run(settings: &Settings, demo: bool) -> anyhow::Result<()> {
    if !demo {
        anyhow::bail!("nothing to seed: pass --demo for the demo network");
    }
    let mut conn = db::connect_and_migrate(&settings.database_url)?;
    let logins = domain::demo::seed(&mut conn)?;
    println!("{:<12} {:<45} {:<30} token", "role", "email", "belongs to");
    for login in logins {
        println!("{:<12} {:<45} {:<30} {}", login.role, login.email, login.belongs_to, login.token);
    }
    eprintln!("demo network ready; the tokens above are new (labelled \"demo\")");
    Ok(())
}
