//! The subcommands of `civicdesk`, one file each. `main.rs` parses the command line, loads the settings, starts
//! logging and hands over to [`run`].

pub mod bootstrap;
pub mod fetch_mail;
pub mod ingest_email;
pub mod migrate;
pub mod repair;
pub mod seed;
pub mod serve;
pub mod worker;

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{AdminCommand, Command};
use crate::config::{EMBEDDED_DATABASE, Settings, redact_url};
use crate::db::embedded::Cluster;

/// Runs `command` and answers with the process's exit code; a failure is written to standard error.
///
/// Without `DATABASE_URL`, the embedded cluster is opened first (created and started as needed) and let go of
/// afterwards: the last process using it stops it.
pub async fn run(command: Command, settings: &Settings) -> ExitCode {
    let cluster = match open_database(settings).await {
        Ok(cluster) => cluster,
        Err(error) => {
            eprintln!("civicdesk: {error:#}");
            return setup_failed(&command);
        }
    };
    crate::domain::notifications::set_hourly_cap(settings.notifications_per_hour);
    // The cluster's own URL: it may live elsewhere than configured (see `db::embedded::FALLBACK_ROOT`).
    let settings = match &cluster {
        Some(cluster) => Settings { database_url: cluster.database_url(EMBEDDED_DATABASE), ..settings.clone() },
        None => settings.clone(),
    };
    let code = run_command(command, &settings).await;
    if let Some(cluster) = cluster {
        match tokio::task::spawn_blocking(move || cluster.release()).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => eprintln!("civicdesk: could not stop the embedded PostgreSQL: {error:#}"),
            Err(error) => eprintln!("civicdesk: stopping the embedded PostgreSQL panicked: {error}"),
        }
    }
    code
}

async fn run_command(command: Command, settings: &Settings) -> ExitCode {
    let done = match command {
        // A mail server reads its answer from the exit code: the command decides it.
        Command::IngestEmail => return ingest_email::run(settings),
        Command::Serve => serve::run(settings).await,
        Command::Worker => worker::run(settings).await,
        Command::FetchMail => fetch_mail::run(settings).await,
        Command::Migrate => migrate::run(settings),
        Command::Seed { demo } => seed::run(settings, demo),
        Command::Admin { command: AdminCommand::Bootstrap { email, name } } => bootstrap::run(settings, &email, &name),
        Command::Admin { command: AdminCommand::RepairOpenCounts { check } } => repair::run(settings, check),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("civicdesk: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the embedded cluster when the settings ask for it, and logs which database is used.
async fn open_database(settings: &Settings) -> anyhow::Result<Option<Cluster>> {
    let Some(config) = settings.embedded_database.clone() else {
        tracing::info!(database = %redact_url(&settings.database_url), "using the PostgreSQL server of DATABASE_URL");
        return Ok(None);
    };
    let cluster = tokio::task::spawn_blocking(move || Cluster::open(&config))
        .await
        .context("opening the embedded PostgreSQL panicked")?
        .context("could not run the embedded PostgreSQL (set DATABASE_URL to use a server of your own)")?;
    tracing::info!(
        "using the embedded PostgreSQL {} cluster in {} ({}); set DATABASE_URL to use another server",
        cluster.major_version(),
        cluster.data_dir().display(),
        cluster.how_opened()
    );
    Ok(Some(cluster))
}

/// The exit code of `command` when it cannot start (the settings are wrong, the database cannot be run; the error
/// is written already): for the mail pipe a temporary failure, so that the mail server keeps the message and tries
/// again after the fix.
pub fn setup_failed(command: &Command) -> ExitCode {
    match command {
        Command::IngestEmail => ExitCode::from(ingest_email::EX_TEMPFAIL),
        _ => ExitCode::FAILURE,
    }
}

/// Whether `command` starts logging. The mail pipe logs only when asked to (`RUST_LOG`): logs name reasons and
/// addresses, and a pipe's output can end up in a bounce.
pub fn logs(command: &Command) -> bool {
    match command {
        Command::IngestEmail => std::env::var_os("RUST_LOG").is_some(),
        _ => true,
    }
}
