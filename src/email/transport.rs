//! Where messages go: an SMTP server (pooled connections, STARTTLS or TLS through rustls, optional auth), or,
//! with no server configured, `.eml` files in a folder.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{MailSettings, redact_url};

/// Why a message could not be handed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFailure {
    /// Worth trying again: a 4xx answer, a timeout, a refused or dropped connection.
    Transient(String),
    /// Will not work however often it is tried: a 5xx answer, such as an unknown mailbox.
    Permanent(String),
}

/// The configured way out.
pub enum Transport {
    /// An SMTP server, and the longest one delivery may take.
    Smtp(AsyncSmtpTransport<Tokio1Executor>, Duration),
    /// `.eml` files in a folder.
    Files(AsyncFileTransport<Tokio1Executor>, PathBuf),
}

impl Transport {
    /// The transport the settings describe; creates the folder of the file transport.
    pub fn from_settings(settings: &MailSettings) -> anyhow::Result<Transport> {
        match &settings.smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .with_context(|| format!("SMTP_URL {} is not valid", redact_url(url)))?
                    .timeout(Some(settings.smtp_timeout))
                    .pool_config(PoolConfig::new().max_size(settings.smtp_pool_size))
                    .build();
                // One delivery is a handful of exchanges; a server that stops answering must not hold a worker.
                Ok(Transport::Smtp(transport, settings.smtp_timeout.saturating_mul(3)))
            }
            None => {
                std::fs::create_dir_all(&settings.outbox_dir)
                    .with_context(|| format!("could not create {}", settings.outbox_dir.display()))?;
                Ok(Transport::Files(AsyncFileTransport::new(&settings.outbox_dir), settings.outbox_dir.clone()))
            }
        }
    }

    /// Says where mail goes, for the start-up log.
    pub fn describe(&self, settings: &MailSettings) -> String {
        match self {
            Transport::Smtp(..) => format!("SMTP {}", settings.smtp_url.as_deref().map(redact_url).unwrap_or_default()),
            Transport::Files(_, dir) => format!("no SMTP_URL set: writing messages to {}", dir.display()),
        }
    }

    /// Hands one message over.
    pub async fn send(&self, message: Message) -> Result<(), SendFailure> {
        match self {
            Transport::Smtp(smtp, limit) => match tokio::time::timeout(*limit, smtp.send(message)).await {
                Err(_) => Err(SendFailure::Transient(format!("no answer from the SMTP server within {limit:?}"))),
                Ok(sent) => sent.map(|_| ()).map_err(|error| {
                    // lettre's is_permanent() is true for 5xx answers only; everything else (4xx, timeouts, I/O,
                    // TLS) may work later.
                    if error.is_permanent() {
                        SendFailure::Permanent(error.to_string())
                    } else {
                        SendFailure::Transient(error.to_string())
                    }
                }),
            },
            Transport::Files(files, _) => {
                files.send(message).await.map(|_| ()).map_err(|error| SendFailure::Transient(error.to_string()))
            }
        }
    }
}
