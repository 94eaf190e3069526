//! Building and running the application: database, migrations, signing key, HTTP server and the background tasks
//! beside it.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, middleware, web};
use anyhow::Context;

use tokio::sync::watch;

use crate::config::{ImapSettings, Settings};
use crate::db::notify::Heard;
use crate::db::{self, DbPool};
use crate::domain::caller::AuthCache;
use crate::domain::inbound::InboundSettings;
use crate::domain::keys;
use crate::domain::network::{self, NetworkCache};
use crate::email::worker::Worker;
use crate::routes;
use crate::routes::inbound::InboundEndpoint;
use crate::routes::satisfaction::RatingLinks;
use crate::telemetry;

/// A built application, bound to its port and ready to run.
pub struct Application {
    port: u16,
    server: Server,
    pool: DbPool,
    worker: Option<Worker>,
    webhooks: Option<crate::webhooks::WebhookWorker>,
    sla_interval: std::time::Duration,
    poller: Option<(ImapSettings, Arc<InboundSettings>)>,
}

impl Application {
    /// Creates the database if needed, applies migrations, and binds the HTTP server (port 0 picks a free port).
    pub async fn build(settings: &Settings) -> anyhow::Result<Application> {
        let pool = prepare_database(settings).await?;
        let listener = TcpListener::bind(settings.listen_address)
            .with_context(|| format!("could not listen on {}", settings.listen_address))?;
        let port = listener.local_addr()?.port();
        let key = keys::load_signing_key(&pool, settings.mail.secret.as_deref()).await?;
        let inbound_settings = Arc::new(settings.inbound_settings(key.clone()));
        let inbound =
            InboundEndpoint { settings: inbound_settings.clone(), secret: settings.inbound.http_secret.clone() };
        let links = RatingLinks {
            secret: inbound_settings.secret.clone(),
            valid_for: chrono::TimeDelta::days(settings.satisfaction_link_days.into()),
        };
        let auth_cache = Arc::new(AuthCache::new(settings.auth_cache));
        let network = listen_for_network_changes(&settings.database_url)?;
        let metrics = crate::metrics::MetricsEndpoint::new(&settings.metrics);
        let caches = Caches { auth: auth_cache, network };
        let endpoints = Endpoints {
            inbound,
            links,
            uploads: settings.uploads.clone(),
            webhooks: settings.webhooks.clone(),
            rate_limit: settings.rate_limit.clone(),
            replies: crate::domain::saved_replies::ReplySettings {
                default_language: settings.default_language.clone(),
            },
        };
        let server = http_server(listener, pool.clone(), endpoints, caches, metrics, settings.http_workers)?;
        let (worker, webhooks) = match settings.worker.in_serve {
            true => (
                Some(Worker::new(settings, pool.clone(), key)?),
                Some(crate::webhooks::WebhookWorker::new(settings, pool.clone())?),
            ),
            false => (None, None),
        };
        let poller = match (&settings.imap, settings.worker.in_serve) {
            (Some(imap), true) => Some((imap.clone(), inbound_settings)),
            _ => None,
        };
        let sla_interval = settings.worker.sla_interval;
        Ok(Application { port, server, pool, worker, webhooks, sla_interval, poller })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The application's database pool.
    pub fn pool(&self) -> DbPool {
        self.pool.clone()
    }

    /// Serves (and, when the worker runs in this process, delivers the outbox and runs the escalation
    /// scheduler) until the process is told to stop (SIGINT or SIGTERM); then finishes in-flight requests and the
    /// email batch under way.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let (stop, stopped) = watch::channel(false);
        let escalation = self
            .worker
            .as_ref()
            .map(|_| tokio::spawn(crate::escalation::run(self.pool.clone(), self.sla_interval, stopped.clone())));
        let worker = self.worker.map(|worker| tokio::spawn(worker.run(stopped.clone())));
        let webhooks = self.webhooks.map(|webhooks| tokio::spawn(webhooks.run(stopped.clone())));
        let poller = self.poller.map(|(imap, inbound)| {
            tokio::spawn(crate::email::imap::run_poller(imap, self.pool.clone(), inbound, stopped))
        });
        let served = self.server.await.context("the HTTP server failed");
        let _ = stop.send(true);
        if let Some(worker) = worker {
            worker.await.context("the outbox worker panicked")?;
        }
        if let Some(webhooks) = webhooks {
            webhooks.await.context("the webhook worker panicked")?;
        }
        if let Some(escalation) = escalation {
            escalation.await.context("the escalation scheduler panicked")?;
        }
        if let Some(poller) = poller {
            poller.await.context("the IMAP poller panicked")?;
        }
        served
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return interrupt.await.unwrap_or_default(),
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.unwrap_or_default();
}

/// Creates the database if it is missing, applies migrations and builds the pool.
pub async fn prepare_database(settings: &Settings) -> anyhow::Result<DbPool> {
    let database_url = settings.database_url.clone();
    let pool_size = settings.database_pool_size;
    let timeout = settings.database_pool_timeout;
    // Not `db::run`: that checks a connection out of a pool, and this is what creates the database and then the
    // pool. Connecting and migrating block, so they run on the blocking pool all the same.
    tokio::task::spawn_blocking(move || -> anyhow::Result<DbPool> {
        drop(db::connect_and_migrate(&database_url)?);
        db::build_pool(&database_url, pool_size, timeout)
    })
    .await
    .context("database preparation panicked")?
}

/// A cache of the network's configuration, kept current by a listener thread (which ends with the cache).
fn listen_for_network_changes(database_url: &str) -> anyhow::Result<Arc<NetworkCache>> {
    let cache = Arc::new(NetworkCache::new());
    let (alive, heard) = (Arc::downgrade(&cache), Arc::downgrade(&cache));
    crate::db::notify::spawn_listener(
        database_url.to_owned(),
        network::CHANGED_CHANNEL,
        move || alive.strong_count() > 0,
        move |event| {
            let Some(cache) = heard.upgrade() else { return };
            match event {
                Heard::Listening => cache.set_listening(true),
                Heard::Alive => cache.alive(),
                Heard::Lost => cache.set_listening(false),
                Heard::Notified(_) => cache.invalidate(),
            }
        },
    )
    .context("could not start the configuration listener")?;
    Ok(cache)
}

/// The process-wide caches the handlers share.
struct Caches {
    auth: Arc<AuthCache>,
    network: Arc<NetworkCache>,
}

/// What the endpoints of inbound mail, rating links, uploads, webhooks and saved replies, and the rate limiter,
/// are configured with.
struct Endpoints {
    inbound: InboundEndpoint,
    links: RatingLinks,
    uploads: crate::domain::uploads::UploadLimits,
    webhooks: crate::domain::webhooks::WebhookSettings,
    rate_limit: crate::domain::rate_limits::RateLimitSettings,
    replies: crate::domain::saved_replies::ReplySettings,
}

fn http_server(
    listener: TcpListener,
    pool: DbPool,
    endpoints: Endpoints,
    caches: Caches,
    metrics_endpoint: crate::metrics::MetricsEndpoint,
    workers: usize,
) -> anyhow::Result<Server> {
    let Endpoints { inbound, links, uploads, webhooks, rate_limit, replies } = endpoints;
    let replies = web::Data::new(replies);
    let limits = web::Data::new(uploads);
    let webhooks = web::Data::new(webhooks);
    let rate_limit = web::Data::new(rate_limit);
    let auth_cache = web::Data::from(caches.auth);
    let network = web::Data::from(caches.network);
    let pool = web::Data::new(pool);
    let inbound = web::Data::new(inbound);
    let links = web::Data::new(links);
    let metrics = web::Data::new(crate::metrics::Metrics::default());
    let metrics_endpoint = web::Data::new(metrics_endpoint);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(middleware::from_fn(routes::forget_network_on_change))
            .wrap(middleware::from_fn(routes::rate_limit::limit))
            .wrap(middleware::from_fn(telemetry::log_requests))
            .app_data(pool.clone())
            .app_data(network.clone())
            .app_data(inbound.clone())
            .app_data(links.clone())
            .app_data(auth_cache.clone())
            .app_data(metrics.clone())
            .app_data(metrics_endpoint.clone())
            .app_data(limits.clone())
            .app_data(webhooks.clone())
            .app_data(rate_limit.clone())
            .app_data(replies.clone())
            .configure(routes::configure)
    })
    .workers(workers)
    .listen(listener)?
    .run();
    Ok(server)
}
