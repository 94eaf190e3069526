//! The subcommands of `civicdesk`, one file each. `main.rs` parses the command line, loads the settings, starts
//! logging and hands over to [`run`].

pub mod bootstrap;
pub mod fetch_mail;
pub mod ingest_email;
pub mod migrate;
pub mod seed;
pub mod serve;
pub mod worker;

use std::process::ExitCode;

use crate::cli::{AdminCommand, Command};
use crate::config::Settings;

/// Runs `command` and answers with the process's exit code; a failure is written to standard error.
pub async fn run(command: Command, settings: &Settings) -> ExitCode {
    let done = match command {
        // A mail server reads its answer from the exit code: the command decides it.
        Command::IngestEmail => return ingest_email::run(settings),
        Command::Serve => serve::run(settings).await,
        Command::Worker => worker::run(settings).await,
        Command::FetchMail => fetch_mail::run(settings).await,
        Command::Migrate => migrate::run(settings),
        Command::Seed { demo } => seed::run(settings, demo),
        Command::Admin { command: AdminCommand::Bootstrap { email, name } } => bootstrap::run(settings, &email, &name),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("civicdesk: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The exit code of `command` when the settings cannot be read (the error is written already): for the mail pipe
/// a temporary failure, so that the mail server keeps the message and tries again after the fix.
pub fn settings_failed(command: &Command) -> ExitCode {
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
