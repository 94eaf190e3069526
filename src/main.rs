//! The `civicdesk` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use civicdesk::cli::{AdminCommand, Cli, Command};
use civicdesk::config::Settings;
use civicdesk::startup::{self, Application};
use civicdesk::{db, domain, telemetry};
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("civicdesk: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    telemetry::init(settings.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let application = Application::build(&settings).await?;
            tracing::info!(port = application.port(), settings = ?settings, "civicdesk is listening");
            application.run_until_stopped().await
        }
        Command::Worker => startup::run_worker(&settings).await,
        Command::Migrate => {
            db::connect_and_migrate(&settings.database_url)?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Seed { demo: false } => anyhow::bail!("nothing to seed: pass --demo for the demo network"),
        Command::Seed { demo: true } => {
            let mut conn = db::connect_and_migrate(&settings.database_url)?;
            let logins = domain::demo::seed(&mut conn)?;
            println!("{:<12} {:<45} {:<30} token", "role", "email", "belongs to");
            for login in logins {
                println!("{:<12} {:<45} {:<30} {}", login.role, login.email, login.belongs_to, login.token);
            }
            eprintln!("demo network ready; the tokens above are new (labelled \"demo\")");
            Ok(())
        }
        Command::Admin { command: AdminCommand::Bootstrap { email, name } } => {
            let mut conn = db::connect_and_migrate(&settings.database_url)?;
            let (user, token) = domain::users::bootstrap_admin(&mut conn, &email, &name)?;
            eprintln!("admin {} <{}> is ready; their new API token (shown once):", user.name, user.email);
            println!("{token}");
            Ok(())
        }
    }
}
