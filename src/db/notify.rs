//! Hearing PostgreSQL notifications (`LISTEN`) on a connection of its own, in a thread of its own.
//!
//! The listener tells its caller when it is connected and listening, each notification, and when the connection
//! is lost (it then reconnects, backing off up to five seconds). It stops when `keep_going` says so.

use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};

/// What the listener saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Connected and listening: from now on every notification on the channel is reported.
    Listening,
    /// The connection answered a check just now (every few seconds while nothing else arrives).
    Alive,
    /// A notification, with its payload.
    Notified(String),
    /// The connection was lost (or could not be made); notifications may be missed until `Listening` again.
    Lost,
}

/// How often pending notifications are read (a non-blocking read of the socket).
const POLL: Duration = Duration::from_millis(10);
/// How often the connection is checked with a query (a server gone away is noticed; one that went silent leaves
/// the check hanging, which the receiver notices by the missing `Alive`).
pub const CHECK: Duration = Duration::from_secs(5);

/// Starts a thread that listens on `channel` of the database at `database_url` and reports to `on_heard` until
/// `keep_going` returns false.
pub fn spawn_listener(
    database_url: String,
    channel: &'static str,
    keep_going: impl Fn() -> bool + Send + 'static,
    on_heard: impl Fn(Heard) + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name(format!("listen-{channel}")).spawn(move || {
        let mut backoff = Duration::from_millis(100);
        while keep_going() {
            match listen(&database_url, channel, &keep_going, &on_heard) {
                Ok(()) => return,
                Err(error) => {
                    on_heard(Heard::Lost);
                    tracing::warn!(%error, channel, "lost the notification listener's connection; reconnecting");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    })
}

/// One connection's life: `Ok` when told to stop, `Err` when the connection failed.
fn listen(
    database_url: &str,
    channel: &str,
    keep_going: &impl Fn() -> bool,
    on_heard: &impl Fn(Heard),
) -> anyhow::Result<()> {
    let mut conn = PgConnection::establish(database_url)?;
    // The channel is one of ours, a constant identifier. The name tells operators what the connection is.
    diesel::sql_query(format!("SET application_name = 'civicdesk listener ({channel})'")).execute(&mut conn)?;
    diesel::sql_query(format!("LISTEN {channel}")).execute(&mut conn)?;
    on_heard(Heard::Listening);
    let mut checked = Instant::now();
    while keep_going() {
        for notification in conn.notifications_iter() {
            on_heard(Heard::Notified(notification?.payload));
        }
        if checked.elapsed() >= CHECK {
            diesel::sql_query("SELECT 1").execute(&mut conn)?;
            checked = Instant::now();
            on_heard(Heard::Alive);
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}
