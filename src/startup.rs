//! Building and running the application: database, migrations, HTTP server.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, middleware, web};
use anyhow::Context;

use crate::config::Settings;
use crate::db::{self, DbPool};
use crate::routes;
use crate::telemetry;

/// A built application, bound to its port and ready to run.
pub struct Application {
    port: u16,
    server: Server,
    pool: DbPool,
}

impl Application {
    /// Creates the database if needed, applies migrations, and binds the HTTP server (port 0 picks a free port).
    pub async fn build(settings: &Settings) -> anyhow::Result<Application> {
        let pool = prepare_database(settings).await?;
        let listener = TcpListener::bind(settings.listen_address)
            .with_context(|| format!("could not listen on {}", settings.listen_address))?;
        let port = listener.local_addr()?.port();
        let server = http_server(listener, pool.clone(), settings.http_workers)?;
        Ok(Application { port, server, pool })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The application's database pool.
    pub fn pool(&self) -> DbPool {
        self.pool.clone()
    }

    /// Serves until the process is told to stop (SIGINT or SIGTERM), then finishes in-flight requests.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.server.await.context("the HTTP server failed")
    }
}

/// Creates the database if it is missing, applies migrations and builds the pool.
pub async fn prepare_database(settings: &Settings) -> anyhow::Result<DbPool> {
    let database_url = settings.database_url.clone();
    let pool_size = settings.database_pool_size;
    let timeout = settings.database_pool_timeout;
    tokio::task::spawn_blocking(move || -> anyhow::Result<DbPool> {
        drop(db::connect_and_migrate(&database_url)?);
        db::build_pool(&database_url, pool_size, timeout)
    })
    .await
    .context("database preparation panicked")?
}

fn http_server(listener: TcpListener, pool: DbPool, workers: usize) -> anyhow::Result<Server> {
    let pool = web::Data::new(pool);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(middleware::from_fn(telemetry::log_requests))
            .app_data(pool.clone())
            .configure(routes::configure)
    })
    .workers(workers)
    .listen(listener)?
    .run();
    Ok(server)
}
