//! `civicdesk fetch-mail`: takes in the new messages of the IMAP folder once.

use std::sync::Arc;

use anyhow::Context;

use crate::config::Settings;
use crate::domain::keys;
use crate::startup::prepare_database;

/// Polls the folder once and prints what became of its messages.
pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let imap = settings.imap.as_ref().context("set IMAP_URL (imaps://user:password@host:993/INBOX)")?;
    let pool = prepare_database(settings).await?;
    let key = keys::load_signing_key(&pool, settings.mail.secret.as_deref()).await?;
    let inbound = Arc::new(settings.inbound_settings(key));
    let summary = crate::email::imap::fetch_once(imap, &pool, &inbound).await?;
    println!("taken {}, refused {}, left for later {}", summary.taken, summary.refused, summary.left);
    Ok(())
}
