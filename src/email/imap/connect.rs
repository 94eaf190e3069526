//! Reaching the mailbox: opening the connection (implicit TLS, STARTTLS, or plaintext only where allowed),
//! logging in and selecting the folder.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_imap::imap_proto::{Response, Status};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::config::{ImapSettings, ImapTls};

/// How long connecting, the TLS handshake and the login may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one command may take, so that a connection that went silent does not stall the poller; generous,
/// as one command may carry a message of many megabytes.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// Why talking to the IMAP server failed.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// `IMAP_CA_FILE` cannot be read or holds no usable certificate.
    #[error("IMAP_CA_FILE {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server cannot be reached.
    #[error("could not connect to {address}: {source}")]
    Connect {
        /// host:port.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS handshake failed (an untrusted certificate, say).
    #[error("TLS handshake with {address} failed: {source}")]
    Tls {
        /// host:port.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// An `imap://` server that does not offer STARTTLS, while a plaintext session is not allowed.
    #[error(
        "the IMAP server at {0} does not offer STARTTLS; use imaps://, or set IMAP_ALLOW_PLAINTEXT=true for a \
         server on this machine"
    )]
    NoStartTls(String),
    /// The server closed the connection or greeted with something other than OK.
    #[error("the IMAP server at {0} did not greet")]
    Greeting(String),
    /// The login was refused.
    #[error("the IMAP server refused the login: {0}")]
    Login(async_imap::error::Error),
    /// A command failed.
    #[error("{doing}: {source}")]
    Command {
        /// What was being done.
        doing: &'static str,
        /// Why it failed.
        source: async_imap::error::Error,
    },
    /// The server did not answer in time.
    #[error("the IMAP server did not answer in time ({0})")]
    Timeout(&'static str),
}

impl ImapError {
    /// Whether the server refused one command (NO or BAD) on a connection that is still usable.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            ImapError::Command { source: async_imap::error::Error::No(_) | async_imap::error::Error::Bad(_), .. }
        )
    }
}

/// Names what failed in an IMAP command's error.
pub(super) trait Doing<T> {
    /// The result, its error labelled `doing`.
    fn doing(self, doing: &'static str) -> Result<T, ImapError>;
}

impl<T> Doing<T> for async_imap::error::Result<T> {
    fn doing(self, doing: &'static str) -> Result<T, ImapError> {
        self.map_err(|source| ImapError::Command { doing, source })
    }
}

/// Runs one command with the command timeout.
pub(super) async fn within<T>(
    doing: &'static str,
    command: impl Future<Output = async_imap::error::Result<T>>,
) -> Result<T, ImapError> {
    tokio::time::timeout(COMMAND_TIMEOUT, command).await.map_err(|_| ImapError::Timeout(doing))?.doing(doing)
}

/// The byte stream under a session: TLS, or plaintext where allowed.
pub(super) trait Transport: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> Transport for T {}

/// A logged-in session.
pub(super) type Session = async_imap::Session<Box<dyn Transport>>;

/// Connects, logs in and selects the folder; also tells whether the server can IDLE.
pub(super) async fn open(settings: &ImapSettings) -> Result<(Session, bool), ImapError> {
    let address = format!("{}:{}", settings.host, settings.port);
    let session = tokio::time::timeout(CONNECT_TIMEOUT, log_in(settings, &address))
        .await
        .map_err(|_| ImapError::Timeout("connecting and logging in"))??;
    let mut session = session;
    let capabilities = within("asking for the server's capabilities", session.capabilities()).await?;
    let can_idle = capabilities.has_str("IDLE");
    within("selecting the folder", session.select(&settings.folder)).await?;
    Ok((session, can_idle))
}

async fn log_in(settings: &ImapSettings, address: &str) -> Result<Session, ImapError> {
    let tcp = TcpStream::connect((settings.host.as_str(), settings.port))
        .await
        .map_err(|source| ImapError::Connect { address: address.to_owned(), source })?;
    let client = match settings.tls {
        ImapTls::Implicit => {
            let mut client = async_imap::Client::new(Box::new(handshake(settings, address, tcp).await?) as _);
            greeting(&mut client, address).await?;
            client
        }
        ImapTls::StartTls | ImapTls::StartTlsIfOffered => {
            let mut plain = async_imap::Client::new(tcp);
            greeting(&mut plain, address).await?;
            match plain.run_command_and_check_ok("STARTTLS", None).await {
                // What the server may have sent after its OK is dropped with the plaintext client (RFC 3501
                // 6.2.1: nothing from before the handshake may be trusted).
                Ok(()) => {
                    async_imap::Client::new(Box::new(handshake(settings, address, plain.into_inner()).await?) as _)
                }
                Err(async_imap::error::Error::No(_) | async_imap::error::Error::Bad(_))
                    if settings.tls == ImapTls::StartTlsIfOffered =>
                {
                    // The poller warned at start that IMAP_ALLOW_PLAINTEXT is set; once per connection would be noise.
                    tracing::debug!(%address, "the IMAP server offers no STARTTLS: logging in over plaintext");
                    async_imap::Client::new(Box::new(plain.into_inner()) as Box<dyn Transport>)
                }
                Err(async_imap::error::Error::No(_) | async_imap::error::Error::Bad(_)) => {
                    return Err(ImapError::NoStartTls(address.to_owned()));
                }
                Err(source) => return Err(ImapError::Command { doing: "starting TLS", source }),
            }
        }
    };
    client.login(&settings.user, &settings.password).await.map_err(|(error, _)| ImapError::Login(error))
}

async fn greeting<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug>(
    client: &mut async_imap::Client<T>,
    address: &str,
) -> Result<(), ImapError> {
    let greeted = match client.read_response().await {
        Ok(Some(response)) => matches!(response.parsed(), Response::Data { status: Status::Ok, .. }),
        _ => false,
    };
    if !greeted {
        return Err(ImapError::Greeting(address.to_owned()));
    }
    Ok(())
}

async fn handshake(
    settings: &ImapSettings,
    address: &str,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ImapError> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls_config(settings)?));
    let server_name = ServerName::try_from(settings.host.clone()).map_err(|error| ImapError::Tls {
        address: address.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, error),
    })?;
    connector.connect(server_name, tcp).await.map_err(|source| ImapError::Tls { address: address.to_owned(), source })
}

fn tls_config(settings: &ImapSettings) -> Result<rustls::ClientConfig, ImapError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &settings.ca_file {
        let ca_error = |reason: String| ImapError::CaFile { path: path.clone(), reason };
        for certificate in CertificateDer::pem_file_iter(path).map_err(|error| ca_error(error.to_string()))? {
            let certificate = certificate.map_err(|error| ca_error(error.to_string()))?;
            roots.add(certificate).map_err(|error| ca_error(error.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| ImapError::Tls { address: settings.host.clone(), source: std::io::Error::other(error) })?;
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}
