//! `civicdesk serve` (the default): the HTTP API, and the outbox worker, escalation scheduler and IMAP poller
//! beside it unless `OUTBOX_WORKER=false`.

use crate::config::Settings;
use crate::startup::Application;

/// Serves until SIGINT or SIGTERM.
pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let application = Application::build(settings).await?;
    tracing::info!(port = application.port(), settings = ?settings, "civicdesk is listening");
    application.run_until_stopped().await
}
