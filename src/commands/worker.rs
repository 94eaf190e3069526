//! `civicdesk worker`: the outbox worker, the webhook worker, the escalation scheduler and (with `IMAP_URL`) the IMAP poller, without
//! the HTTP server.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::watch;

use crate::config::Settings;
use crate::domain::keys;
use crate::email::worker::Worker;
use crate::startup::{prepare_database, shutdown_signal};

/// Runs the background work until SIGINT or SIGTERM, then finishes what is under way.
pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let pool = prepare_database(settings).await?;
    let key = keys::load_signing_key(&pool, settings.mail.secret.as_deref()).await?;
    let worker = Worker::new(settings, pool.clone(), key.clone())?;
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(worker.run(stopped.clone()));
    let webhooks = tokio::spawn(crate::webhooks::WebhookWorker::new(settings, pool.clone())?.run(stopped.clone()));
    let escalation = tokio::spawn(crate::escalation::run(pool.clone(), settings.worker.sla_interval, stopped.clone()));
    let poller = settings.imap.as_ref().map(|imap| {
        let inbound = Arc::new(settings.inbound_settings(key));
        tokio::spawn(crate::email::imap::run_poller(imap.clone(), pool, inbound, stopped))
    });
    shutdown_signal().await;
    tracing::info!("stopping: finishing the batch under way");
    let _ = stop.send(true);
    if let Some(poller) = poller {
        poller.await.context("the IMAP poller panicked")?;
    }
    escalation.await.context("the escalation scheduler panicked")?;
    webhooks.await.context("the webhook worker panicked")?;
    running.await.context("the outbox worker panicked")
}
