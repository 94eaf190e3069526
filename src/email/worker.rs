//! The outbox delivery worker: takes due notifications, sends them, records the outcome.
//!
//! Delivery is at least once. A worker claims a batch (`FOR UPDATE SKIP LOCKED`, status `sending`, a lease) in a
//! short transaction, sends outside any transaction, then records each outcome. Several workers never hold the
//! same row. If a worker dies between sending and recording, the lease runs out and the notification is sent again
//! with the same Message-ID, so mail clients show it once and reply matching is unaffected.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use tokio::sync::watch;

use crate::config::{Settings, WorkerSettings};
use crate::db::{self, DbPool};
use crate::domain::keys;
use crate::domain::notifications::snapshot::{Snapshot, SnapshotError};
use crate::domain::notifications::{self, snapshot};
use crate::email::compose::{Composer, Outgoing};
use crate::email::transport::{SendFailure, Transport};
use crate::models::OutboxEntry;
use crate::models::stored_file::{StoredFile, from_hex};

/// What became of one notification.
#[derive(Debug)]
enum Outcome {
    Sent { message_id: String, to: String, subject: String, text: String },
    Retry { error: String, delay: Duration },
    Failed { error: String },
}

/// A delivery worker.
#[derive(Clone)]
pub struct Worker {
    pool: DbPool,
    transport: Arc<Transport>,
    composer: Arc<Composer>,
    settings: WorkerSettings,
    attachments_max_bytes: u64,
}

/// Why a notification's snapshot cannot be rendered.
#[derive(Debug)]
enum Unreadable {
    /// Written by a newer release (during a rolling upgrade): a worker of that release will send it.
    Later(String),
    /// It never will be.
    Never(String),
}

/// The snapshot stored with a notification; `None` for a row queued before snapshots.
fn stored_snapshot(entry: &OutboxEntry) -> Option<Result<Snapshot, Unreadable>> {
    let (Some(version), Some(stored)) = (entry.snapshot_version, entry.snapshot.as_ref()) else { return None };
    Some(snapshot::decode(version, stored).map_err(|error| match error {
        SnapshotError::Newer(_) => Unreadable::Later(error.to_string()),
        SnapshotError::Unsupported(_) | SnapshotError::Malformed { .. } => Unreadable::Never(error.to_string()),
    }))
}

/// Captures and stores the snapshot of a row queued before snapshots (see [`notifications::capture_late`]); a
/// database that went away is a reason to try again later, anything else (the ticket or the recipient gone) is not.
fn capture_snapshot(conn: &mut diesel::PgConnection, entry: &OutboxEntry) -> Result<Snapshot, Unreadable> {
    let captured = notifications::capture_late(conn, entry).and_then(|snapshot| {
        let (version, stored) = snapshot::encode(&snapshot);
        OutboxEntry::set_snapshot(conn, entry.id, version, &stored)?;
        Ok(snapshot)
    });
    captured.map_err(|error| match error.is_temporary() {
        true => Unreadable::Later(format!("capturing its snapshot: {error}")),
        false => Unreadable::Never(format!("capturing its snapshot: {error}")),
    })
}

impl Worker {
    /// A worker for these settings, with the signing key loaded from where every process finds it
    /// ([`keys::load_signing_key`]).
    pub async fn build(settings: &Settings, pool: DbPool) -> anyhow::Result<Worker> {
        let key = keys::load_signing_key(&pool, settings.mail.secret.as_deref()).await?;
        Worker::new(settings, pool, key)
    }

    /// A worker for these settings that signs reply addresses and rating links with `key`, the one the rest of
    /// the process was started with.
    pub fn new(settings: &Settings, pool: DbPool, key: Vec<u8>) -> anyhow::Result<Worker> {
        let transport = Transport::from_settings(&settings.mail)?;
        tracing::info!(transport = %transport.describe(&settings.mail), "outbox worker ready");
        Ok(Worker {
            pool,
            transport: Arc::new(transport),
            composer: Arc::new(Composer::new(&settings.mail, key)?),
            settings: settings.worker.clone(),
            attachments_max_bytes: settings.mail.attachments_max_bytes,
        })
    }

    /// Delivers until `shutdown` turns true; a batch under way is finished first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                break;
            }
            let delivered = match self.deliver_due().await {
                Ok(count) => count,
                Err(error) => {
                    tracing::error!(error = ?error, "outbox delivery failed");
                    0
                }
            };
            // A full batch suggests more is due: go on at once.
            if delivered as i64 >= self.settings.batch_size {
                continue;
            }
            tokio::select! {
                _ = shutdown.changed() => {}
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
        tracing::info!("outbox worker stopped");
    }

    /// Claims one batch of due notifications, sends them concurrently and records the outcomes; returns how many
    /// it took.
    pub async fn deliver_due(&self) -> anyhow::Result<usize> {
        let (limit, lease) = (self.settings.batch_size, self.settings.lease.as_secs_f64());
        let entries = db::run(&self.pool, move |conn| -> anyhow::Result<_> {
            Ok(OutboxEntry::claim(conn, limit, lease, snapshot::VERSION)?)
        })
        .await?;
        if entries.is_empty() {
            return Ok(0);
        }
        // Rendered from what each says, as captured when it was queued; only rows queued before snapshots
        // existed have theirs captured now (once: it is stored).
        let mut snapshots: Vec<Option<Result<Snapshot, Unreadable>>> = entries.iter().map(stored_snapshot).collect();
        let missing: Vec<(usize, OutboxEntry)> =
            snapshots.iter().enumerate().filter(|(_, s)| s.is_none()).map(|(n, _)| (n, entries[n].clone())).collect();
        if !missing.is_empty() {
            let captured = db::run(&self.pool, move |conn| -> anyhow::Result<_> {
                Ok(missing.into_iter().map(|(n, entry)| (n, capture_snapshot(conn, &entry))).collect::<Vec<_>>())
            })
            .await?;
            for (n, snapshot) in captured {
                snapshots[n] = Some(snapshot);
            }
        }
        let snapshots: Vec<Result<Snapshot, Unreadable>> =
            snapshots.into_iter().map(|s| s.unwrap_or(Err(Unreadable::Never("no snapshot".to_owned())))).collect();
        let mut contents = self.load_files(&snapshots).await?;
        let sends = entries.iter().zip(snapshots).enumerate().map(|(n, (entry, snapshot))| {
            let files = contents.remove(&n);
            self.send_one(entry, snapshot, files)
        });
        let outcomes = futures_util::future::join_all(sends).await;
        let count = entries.len();
        let results: Vec<_> = entries.into_iter().map(|e| e.id).zip(outcomes).collect();
        db::run(&self.pool, move |conn| -> anyhow::Result<()> {
            for (id, outcome) in &results {
                match outcome {
                    Outcome::Sent { message_id, to, subject, text } => {
                        OutboxEntry::mark_sent(conn, *id, message_id, to, subject, text)?;
                    }
                    Outcome::Retry { error, delay } => {
                        let due = Utc::now() + chrono::Duration::from_std(*delay).unwrap_or(chrono::TimeDelta::zero());
                        OutboxEntry::mark_retry(conn, *id, error, due)?;
                    }
                    Outcome::Failed { error } => {
                        tracing::warn!(outbox_id = %id, %error, "notification failed for good");
                        OutboxEntry::mark_failed(conn, *id, error)?;
                    }
                }
            }
            Ok(())
        })
        .await?;
        Ok(count)
    }

    /// The contents of the files that travel attached: those of each quoted message whose files together stay
    /// within `MAIL_ATTACHMENTS_MAX_BYTES` (larger sets are linked instead), keyed by position in the batch.
    async fn load_files(
        &self,
        snapshots: &[Result<Snapshot, Unreadable>],
    ) -> anyhow::Result<HashMap<usize, Vec<Vec<u8>>>> {
        let max = self.attachments_max_bytes;
        let wanted: Vec<(usize, Vec<Vec<u8>>)> = snapshots
            .iter()
            .enumerate()
            .filter_map(|(n, snapshot)| {
                let files = &snapshot.as_ref().ok()?.message.as_ref()?.attachments;
                let total: u64 = files.iter().map(|file| u64::try_from(file.size).unwrap_or(u64::MAX)).sum();
                (!files.is_empty() && total <= max)
                    .then(|| (n, files.iter().map(|file| from_hex(&file.sha256)).collect()))
            })
            .collect();
        if wanted.is_empty() {
            return Ok(HashMap::new());
        }
        db::run(&self.pool, move |conn| -> anyhow::Result<_> {
            let mut loaded = HashMap::new();
            for (n, hashes) in wanted {
                let files =
                    hashes.iter().map(|hash| StoredFile::read(conn, hash, None)).collect::<Result<Vec<_>, _>>()?;
                loaded.insert(n, files);
            }
            Ok(loaded)
        })
        .await
    }

    async fn send_one(
        &self,
        entry: &OutboxEntry,
        snapshot: Result<Snapshot, Unreadable>,
        files: Option<Vec<Vec<u8>>>,
    ) -> Outcome {
        let composed = match snapshot {
            Ok(snapshot) => self.composer.compose(entry, &snapshot, files.as_deref()).map_err(|e| format!("{e:#}")),
            Err(Unreadable::Later(error)) => return self.later(entry, error),
            Err(Unreadable::Never(error)) => Err(error),
        };
        let outgoing = match composed {
            Ok(outgoing) => outgoing,
            Err(error) => return Outcome::Failed { error: format!("cannot compose the message: {error}") },
        };
        let Outgoing { message, message_id, to, subject, text } = outgoing;
        match self.transport.send(message).await {
            Ok(()) => {
                tracing::debug!(outbox_id = %entry.id, %message_id, "notification sent");
                Outcome::Sent { message_id, to, subject, text }
            }
            Err(SendFailure::Permanent(error)) => Outcome::Failed { error },
            Err(SendFailure::Transient(error)) => self.later(entry, error),
        }
    }

    /// A temporary failure: tried again after a backoff, or given up on after the last attempt.
    fn later(&self, entry: &OutboxEntry, error: String) -> Outcome {
        if entry.attempts >= self.settings.max_attempts {
            return Outcome::Failed { error: format!("gave up after {} attempts: {error}", entry.attempts) };
        }
        tracing::info!(outbox_id = %entry.id, attempt = entry.attempts, %error, "notification will be retried");
        Outcome::Retry { error, delay: self.backoff(entry.attempts) }
    }

    /// Exponential backoff with jitter: base x 2^(attempt-1), capped, times a random factor in [0.5, 1.0].
    fn backoff(&self, attempt: i32) -> Duration {
        let exponent = u32::try_from(attempt.saturating_sub(1)).unwrap_or(0).min(20);
        let delay = self.settings.retry_base.saturating_mul(1 << exponent).min(self.settings.retry_max);
        delay.mul_f64(rand::rng().random_range(0.5..=1.0))
    }
}
