//! Inbound mail from an IMAP folder. The poller stays logged in and waits with IDLE where the server offers it
//! (and polls every `IMAP_POLL_SECS` where it does not); it takes in each unseen message and flags or moves it
//! only after its ingestion committed, so that nothing is lost if the process stops halfway. A message that can
//! never be taken in is set aside; one that failed for a passing reason is left unseen for the next pass.

mod connect;
mod take;

use std::sync::Arc;
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::types::UnsolicitedResponse;
use tokio::sync::watch;

use crate::config::{ImapSettings, ImapTls};
use crate::db::DbPool;
use crate::domain::inbound::InboundSettings;
use connect::{Doing, Session, within};

pub use connect::ImapError;
pub use take::FetchSummary;

/// How long one IDLE lasts before it is renewed: below the 29 minutes after which RFC 2177 lets a server log an
/// idle client out.
const IDLE_RENEWAL: Duration = Duration::from_secs(25 * 60);
/// The first pause after a failure; it doubles up to the poll interval.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// Takes in the folder's unseen messages once (`civicdesk fetch-mail`).
pub async fn fetch_once(
    settings: &ImapSettings,
    pool: &DbPool,
    inbound: &Arc<InboundSettings>,
) -> anyhow::Result<FetchSummary> {
    warn_if_plaintext(settings);
    let (mut session, _) = connect::open(settings).await?;
    let summary = take::take_unseen(&mut session, &mut take::Folders::default(), settings, pool, inbound, None).await?;
    log_out(session).await;
    Ok(summary)
}

/// Takes in new mail until `shutdown` turns true: IDLE between passes where the server can, a pass every poll
/// interval where it cannot; after a failure it reconnects, waiting longer each time up to the poll interval.
pub async fn run_poller(
    settings: ImapSettings,
    pool: DbPool,
    inbound: Arc<InboundSettings>,
    mut shutdown: watch::Receiver<bool>,
) {
    tracing::info!(host = %settings.host, folder = %settings.folder, "IMAP poller ready");
    warn_if_plaintext(&settings);
    let mut backoff = Backoff::new(settings.poll_interval);
    while !stopping(&shutdown) {
        let pause = match serve(&settings, &pool, &inbound, &mut shutdown, &mut backoff).await {
            Ok(()) => settings.poll_interval,
            Err(error) => {
                let pause = backoff.next();
                tracing::warn!(%error, ?pause, "IMAP session failed; reconnecting");
                pause
            }
        };
        tokio::select! {
            _ = stopped(&mut shutdown) => {}
            _ = tokio::time::sleep(pause) => {}
        }
    }
    tracing::info!("IMAP poller stopped");
}

/// One session: passes with IDLE between them until shutdown, or a single pass where the server cannot IDLE.
async fn serve(
    settings: &ImapSettings,
    pool: &DbPool,
    inbound: &Arc<InboundSettings>,
    shutdown: &mut watch::Receiver<bool>,
    backoff: &mut Backoff,
) -> Result<(), ImapError> {
    // Connecting may take up to its timeout when the server is unreachable: a stop does not wait for it.
    let (mut session, can_idle) = tokio::select! {
        opened = connect::open(settings) => opened?,
        _ = stopped(shutdown) => return Ok(()),
    };
    tracing::debug!(can_idle, "IMAP session open");
    let mut folders = take::Folders::default();
    let mut rechecked = false;
    loop {
        // What the server reported before this pass, the pass sees anyway.
        new_mail_reported(&session);
        let summary = take::take_unseen(&mut session, &mut folders, settings, pool, inbound, Some(&*shutdown)).await?;
        backoff.reset();
        if summary != FetchSummary::default() {
            tracing::info!(?summary, "IMAP pass");
        }
        if stopping(shutdown) || !can_idle {
            log_out(session).await;
            return Ok(());
        }
        // Mail that arrived during the pass was reported then, not again once IDLE starts: one more pass.
        if new_mail_reported(&session) && !rechecked {
            rechecked = true;
            continue;
        }
        rechecked = false;
        // Messages left after a temporary failure are tried again after the poll interval, new mail or not.
        let renewal = if summary.left > 0 { settings.poll_interval } else { IDLE_RENEWAL };
        let (idled, woke) = idle(session, renewal, shutdown).await?;
        session = idled;
        if woke == Woke::Shutdown {
            log_out(session).await;
            return Ok(());
        }
    }
}

/// Why an IDLE ended.
#[derive(Debug, PartialEq, Eq)]
enum Woke {
    /// The server reported a change to the folder.
    NewMail,
    /// Time to renew it, or to try again what was left.
    Renewal,
    /// The process is stopping.
    Shutdown,
}

async fn idle(
    session: Session,
    renewal: Duration,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(Session, Woke), ImapError> {
    let mut handle = session.idle();
    within("starting IDLE", handle.init()).await?;
    let woke = {
        // The server's keep-alives restart the library's timeout, so the renewal is timed here.
        let (news, _interrupt) = handle.wait_with_timeout(renewal);
        tokio::select! {
            news = news => match news.doing("waiting in IDLE")? {
                IdleResponse::NewData(_) => Woke::NewMail,
                IdleResponse::Timeout => Woke::Renewal,
                // The stream ended while nobody interrupted it: the server closed the connection.
                IdleResponse::ManualInterrupt => {
                    return Err(ImapError::Command {
                        doing: "waiting in IDLE",
                        source: async_imap::error::Error::ConnectionLost,
                    });
                }
            },
            _ = tokio::time::sleep(renewal) => Woke::Renewal,
            _ = stopped(shutdown) => Woke::Shutdown,
        }
    };
    tracing::debug!(?woke, "IMAP IDLE ended");
    let session = within("ending IDLE", handle.done()).await?;
    Ok((session, woke))
}

/// Whether the server reported new messages since the last look (and forgets what it reported).
fn new_mail_reported(session: &Session) -> bool {
    let mut reported = false;
    while let Ok(response) = session.unsolicited_responses.try_recv() {
        reported |= matches!(response, UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_));
    }
    reported
}

async fn log_out(mut session: Session) {
    if let Err(error) = within("logging out", session.logout()).await {
        tracing::debug!(%error, "IMAP logout");
    }
}

fn warn_if_plaintext(settings: &ImapSettings) {
    if settings.tls == ImapTls::StartTlsIfOffered {
        tracing::warn!(
            host = %settings.host,
            "IMAP_ALLOW_PLAINTEXT=true: if the server offers no STARTTLS, the password and the mail cross the \
             network in the clear; use it only for a server on this machine"
        );
    }
}

/// Whether the process is stopping (or whoever could tell it to is gone).
fn stopping(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}

/// Resolves once the process is stopping.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which is a stop too.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// The pause before reconnecting after a failure: doubling from a second up to the poll interval.
#[derive(Debug)]
struct Backoff {
    next: Duration,
    cap: Duration,
}

impl Backoff {
    fn new(cap: Duration) -> Backoff {
        let cap = cap.max(FIRST_RETRY);
        Backoff { next: FIRST_RETRY, cap }
    }

    fn next(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(self.cap);
        pause
    }

    fn reset(&mut self) {
        self.next = FIRST_RETRY;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_the_poll_interval() {
        let mut backoff = Backoff::new(Duration::from_secs(5));
        let pauses: Vec<u64> = (0..5).map(|_| backoff.next().as_secs()).collect();
        assert_eq!(pauses, [1, 2, 4, 5, 5]);
        backoff.reset();
        assert_eq!(backoff.next(), FIRST_RETRY);
        assert_eq!(Backoff::new(Duration::ZERO).next(), FIRST_RETRY);
    }
}
