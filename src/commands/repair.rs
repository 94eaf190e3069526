//! `civicdesk admin repair-open-counts`: every advisor's open-ticket count checked against their tickets.

use crate::config::Settings;
use crate::db;
use crate::domain;

/// Prints each wrong count (advisor, recorded, real) and, unless `check_only`, corrects it. With `check_only` a
/// wrong count fails the command (exit code 1), for monitoring.
pub fn run(settings: &Settings, check_only: bool) -> anyhow::Result<()> {
    let mut conn = db::connect_and_migrate(&settings.database_url)?;
    let wrong = domain::advisors::repair_open_counts(&mut conn, !check_only)?;
    for repair in &wrong {
        println!("advisor {}: recorded {} open tickets, has {}", repair.user_id, repair.recorded, repair.actual);
    }
    match (wrong.len(), check_only) {
        (0, _) => eprintln!("every advisor's open-ticket count is right"),
        (n, false) => eprintln!("corrected {n} open-ticket count(s)"),
        (n, true) => anyhow::bail!("{n} open-ticket count(s) are wrong; run it without --check to correct them"),
    }
    Ok(())
}
