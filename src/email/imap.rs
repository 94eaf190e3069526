//! The IMAP poller: logs in over TLS, takes new messages from a folder, ingests them, and flags (or moves) each
//! one only after its ingestion committed, so that nothing is lost if the process stops halfway.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::StreamExt;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::sync::watch;

use crate::config::ImapSettings;
use crate::db::DbPool;
use crate::domain::inbound::{InboundSettings, IngestError};
use crate::models::inbound_email::InboundSource;

/// What one poll did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FetchSummary {
    /// Messages ingested (including ignored, refused and duplicates) and flagged or moved.
    pub taken: usize,
    /// Messages refused as malformed or too large, flagged so they are not fetched again.
    pub refused: usize,
    /// Messages left for the next poll after a temporary failure.
    pub left: usize,
}

fn tls_config(settings: &ImapSettings) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &settings.ca_file {
        for certificate in CertificateDer::pem_file_iter(path).with_context(|| format!("IMAP_CA_FILE {path}"))? {
            roots.add(certificate.with_context(|| format!("a certificate in {path}"))?)?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Fetches every unseen message of the folder once.
pub async fn fetch_once(
    settings: &ImapSettings,
    pool: &DbPool,
    inbound: &Arc<InboundSettings>,
) -> anyhow::Result<FetchSummary> {
    let tcp = tokio::net::TcpStream::connect((settings.host.as_str(), settings.port))
        .await
        .with_context(|| format!("could not connect to {}:{}", settings.host, settings.port))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls_config(settings)?));
    let server_name = ServerName::try_from(settings.host.clone()).context("IMAP host name")?;
    let tls = connector.connect(server_name, tcp).await.context("TLS handshake with the IMAP server")?;
    let mut client = async_imap::Client::new(tls);
    let _greeting = client.read_response().await;
    let mut session =
        client.login(&settings.user, &settings.password).await.map_err(|(error, _)| error).context("IMAP login")?;
    session.select(&settings.folder).await.with_context(|| format!("selecting {}", settings.folder))?;
    let mut uids: Vec<u32> =
        session.uid_search("UNSEEN").await.context("searching for new messages")?.into_iter().collect();
    uids.sort_unstable();
    let mut summary = FetchSummary::default();
    for uid in uids {
        let uid = uid.to_string();
        let mut raw = None;
        {
            let mut fetched = session.uid_fetch(&uid, "BODY.PEEK[]").await.context("fetching a message")?;
            while let Some(item) = fetched.next().await {
                if let Some(body) = item.context("fetching a message")?.body() {
                    raw = Some(body.to_vec());
                }
            }
        }
        let Some(raw) = raw else { continue };
        let (pool, inbound) = (pool.clone(), inbound.clone());
        let outcome = tokio::task::spawn_blocking(move || -> anyhow::Result<Result<(), IngestError>> {
            let mut conn = pool.get().context("no database connection")?;
            Ok(crate::email::inbound::ingest(&mut conn, &inbound, &raw, InboundSource::Imap).map(|_| ()))
        })
        .await??;
        match outcome {
            Err(IngestError::Temporary(why)) => {
                tracing::warn!(%uid, %why, "IMAP message left for the next poll");
                summary.left += 1;
                continue;
            }
            Err(error) => {
                tracing::warn!(%uid, %error, "IMAP message refused");
                summary.refused += 1;
            }
            Ok(()) => summary.taken += 1,
        }
        // Only now, with the ingestion committed, is the message marked as done.
        match &settings.move_to {
            Some(folder) => session.uid_mv(&uid, folder).await.with_context(|| format!("moving to {folder}"))?,
            None => {
                let flagged: Vec<_> = session.uid_store(&uid, "+FLAGS (\\Seen)").await?.collect().await;
                for result in flagged {
                    result.context("flagging a message as seen")?;
                }
            }
        }
    }
    session.logout().await.ok();
    Ok(summary)
}

/// Polls until `shutdown` turns true.
pub async fn run_poller(
    settings: ImapSettings,
    pool: DbPool,
    inbound: Arc<InboundSettings>,
    mut shutdown: watch::Receiver<bool>,
) {
    tracing::info!(host = %settings.host, folder = %settings.folder, "IMAP poller ready");
    loop {
        if *shutdown.borrow() {
            break;
        }
        match fetch_once(&settings, &pool, &inbound).await {
            Ok(summary) if summary != FetchSummary::default() => tracing::info!(?summary, "IMAP poll"),
            Ok(_) => {}
            Err(error) => tracing::warn!(error = ?error, "IMAP poll failed; trying again later"),
        }
        tokio::select! {
            _ = shutdown.changed() => {}
            _ = tokio::time::sleep(settings.poll_interval) => {}
        }
    }
}

/// Reads `imaps://user:password@host:993/Folder` (user and password percent-encoded).
pub fn parse_url(url: &str) -> anyhow::Result<(String, String, String, u16, String)> {
    let Some(rest) = url.strip_prefix("imaps://") else { bail!("IMAP_URL must start with imaps:// (TLS)") };
    let (authority, folder) = rest.split_once('/').unwrap_or((rest, "INBOX"));
    let (credentials, host_port) = authority.rsplit_once('@').context("IMAP_URL needs user:password@")?;
    let (user, password) = credentials.split_once(':').context("IMAP_URL needs user:password@")?;
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().context("IMAP_URL port")?),
        None => (host_port, 993),
    };
    if host.is_empty() {
        bail!("IMAP_URL names no host");
    }
    let folder = if folder.is_empty() { "INBOX".to_owned() } else { percent_decode(folder)? };
    Ok((percent_decode(user)?, percent_decode(password)?, host.to_owned(), port, folder))
}

fn percent_decode(text: &str) -> anyhow::Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3])?;
            out.push(u8::from_str_radix(hex, 16).context("bad percent-encoding in IMAP_URL")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8(out)?)
}

/// The default pause between polls.
pub const DEFAULT_POLL: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_imap_urls() {
        let (user, password, host, port, folder) =
            parse_url("imaps://desk%40example.org:p%40ss@mail.example.org/Help%20Desk").unwrap();
        assert_eq!(
            (user.as_str(), password.as_str(), host.as_str(), port, folder.as_str()),
            ("desk@example.org", "p@ss", "mail.example.org", 993, "Help Desk")
        );
        assert_eq!(parse_url("imaps://u:p@127.0.0.1:10993").unwrap().4, "INBOX");
        assert!(parse_url("imap://u:p@host").is_err());
        assert!(parse_url("imaps://host").is_err());
    }
}
