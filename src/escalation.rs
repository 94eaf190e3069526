//! The escalation scheduler: every `SLA_CHECK_SECS` it records the service-level warnings and breaches that are
//! due (see [`crate::domain::sla::escalate`]). It runs next to the outbox worker in `serve` and `worker`; any
//! number of processes may run it at once, and each notice is still sent once. Each pass also removes uploads that
//! expired unused.

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use tokio::sync::watch;

use crate::db::{self, DbPool};
use crate::domain::sla::{self, Escalated};
use crate::domain::uploads;

/// Tickets one pass takes per kind of notice; a full batch is followed at once by another pass.
pub const BATCH: i64 = 100;

/// One pass, off the async threads.
pub async fn run_once(pool: &DbPool) -> anyhow::Result<Escalated> {
    db::run(pool, |conn| sla::escalate(conn, Utc::now(), BATCH)).await.context("escalation pass")
}

/// Runs passes every `interval` until `shutdown` turns true.
pub async fn run(pool: DbPool, interval: Duration, mut shutdown: watch::Receiver<bool>) {
    tracing::info!(interval_secs = interval.as_secs(), "escalation scheduler started");
    loop {
        if *shutdown.borrow() {
            break;
        }
        match db::run(&pool, |conn| uploads::remove_expired(conn, Utc::now(), BATCH)).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "expired uploads removed"),
            Err(error) => tracing::warn!(%error, "removing expired uploads failed"),
        }
        let forget = Utc::now() - chrono::TimeDelta::minutes(2);
        if let Err(error) = db::run(&pool, move |conn| -> anyhow::Result<_> {
            Ok(crate::models::rate_limit::forget_before(conn, forget)?)
        })
        .await
        {
            tracing::warn!(%error, "forgetting old rate-limit windows failed");
        }
        let busy = match run_once(&pool).await {
            Ok(done) => {
                if done.warnings + done.breaches > 0 {
                    tracing::info!(
                        warnings = done.warnings,
                        breaches = done.breaches,
                        "service-level notices recorded"
                    );
                }
                done.warnings.max(done.breaches) as i64 >= BATCH
            }
            Err(error) => {
                tracing::error!(error = ?error, "escalation pass failed");
                false
            }
        };
        if busy {
            continue;
        }
        tokio::select! {
            _ = shutdown.changed() => {}
            _ = tokio::time::sleep(interval) => {}
        }
    }
    tracing::info!("escalation scheduler stopped");
}
