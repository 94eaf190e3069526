//! The `civicdesk` binary: parses the command line, loads the settings, starts logging and hands over to
//! [`civicdesk::commands`].

use std::process::ExitCode;

use civicdesk::cli::{Cli, Command};
use civicdesk::config::Settings;
use civicdesk::{commands, telemetry};
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let command = Cli::parse().command.unwrap_or(Command::Serve);
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("civicdesk: {error:#}");
            return commands::setup_failed(&command);
        }
    };
    if commands::logs(&command) {
        telemetry::init(settings.log_format);
    }
    commands::run(command, &settings).await
}
