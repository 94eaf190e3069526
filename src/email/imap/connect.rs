//! Reaching the mailbox: reading `IMAP_URL`, opening the connection (implicit TLS, STARTTLS, or plaintext only
//! where allowed), logging in and selecting the folder.

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

/// What `IMAP_URL` says: `imaps://user:password@host:993/Folder` or `imap://user:password@host:143/Folder`.
#[derive(Clone, PartialEq, Eq)]
pub struct ImapUrl {
    /// How the session is protected (`imap://` means STARTTLS).
    pub tls: ImapTls,
    /// The server's host name or address.
    pub host: String,
    /// The port, 993 or 143 by default.
    pub port: u16,
    /// The login, percent-decoded.
    pub user: String,
    /// The password, percent-decoded.
    pub password: String,
    /// The folder, percent-decoded; INBOX when the URL names none.
    pub folder: String,
}

impl fmt::Debug for ImapUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapUrl")
            .field("tls", &self.tls)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("folder", &self.folder)
            .finish_non_exhaustive()
    }
}

/// Why `IMAP_URL` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ImapUrlError {
    /// Not a URL at all.
    #[error("IMAP_URL is not a URL: {0}")]
    Syntax(#[from] url::ParseError),
    /// A scheme other than imaps:// and imap://.
    #[error("IMAP_URL must start with imaps:// (TLS) or imap:// (STARTTLS), not {0}://")]
    Scheme(String),
    /// No host.
    #[error("IMAP_URL names no host")]
    NoHost,
    /// No user or password.
    #[error("IMAP_URL needs user:password@ (percent-encode @, : and / in them)")]
    NoCredentials,
    /// A percent-encoded part that is not UTF-8.
    #[error("IMAP_URL: the {0} is not UTF-8 once percent-decoded")]
    Encoding(&'static str),
}

impl ImapUrl {
    /// Reads an IMAP URL; user, password and folder are percent-decoded.
    pub fn parse(text: &str) -> Result<ImapUrl, ImapUrlError> {
        let url = url::Url::parse(text)?;
        let (tls, default_port) = match url.scheme() {
            "imaps" => (ImapTls::Implicit, 993),
            "imap" => (ImapTls::StartTls, 143),
            other => return Err(ImapUrlError::Scheme(other.to_owned())),
        };
        let host = match url.host() {
            Some(url::Host::Domain(name)) if !name.is_empty() => name.to_owned(),
            Some(url::Host::Ipv4(address)) => address.to_string(),
            Some(url::Host::Ipv6(address)) => address.to_string(),
            _ => return Err(ImapUrlError::NoHost),
        };
        let password = url.password().ok_or(ImapUrlError::NoCredentials)?;
        if url.username().is_empty() {
            return Err(ImapUrlError::NoCredentials);
        }
        let folder = decode(url.path().trim_start_matches('/'), "folder")?;
        Ok(ImapUrl {
            tls,
            host,
            port: url.port().unwrap_or(default_port),
            user: decode(url.username(), "user")?,
            password: decode(password, "password")?,
            folder: if folder.is_empty() { "INBOX".to_owned() } else { folder },
        })
    }
}

fn decode(text: &str, what: &'static str) -> Result<String, ImapUrlError> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| ImapUrlError::Encoding(what))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_imap_urls() {
        let url = ImapUrl::parse("imaps://desk%40example.org:p%40ss%3Aw@mail.example.org/Help%20Desk").unwrap();
        assert_eq!(
            (url.tls, url.user.as_str(), url.password.as_str(), url.host.as_str(), url.port, url.folder.as_str()),
            (ImapTls::Implicit, "desk@example.org", "p@ss:w", "mail.example.org", 993, "Help Desk")
        );
        let plain = ImapUrl::parse("imap://u:p@127.0.0.1:10143").unwrap();
        assert_eq!((plain.tls, plain.port, plain.folder.as_str()), (ImapTls::StartTls, 10143, "INBOX"));
        assert_eq!(ImapUrl::parse("imap://u:p@[::1]/").unwrap().host, "::1");
        assert_eq!(ImapUrl::parse("imap://u:p@mail.example.org").unwrap().port, 143);
        assert!(matches!(ImapUrl::parse("pop3://u:p@host"), Err(ImapUrlError::Scheme(_))));
        assert!(matches!(ImapUrl::parse("imaps://host"), Err(ImapUrlError::NoCredentials)));
        assert!(matches!(ImapUrl::parse("imaps://user@host"), Err(ImapUrlError::NoCredentials)));
        assert!(matches!(ImapUrl::parse("imaps://u:%ff@host"), Err(ImapUrlError::Encoding("password"))));
        assert!(!format!("{:?}", ImapUrl::parse("imaps://u:secret@host").unwrap()).contains("secret"));
    }
}
