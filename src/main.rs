//! The `civicdesk` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use civicdesk::cli::{AdminCommand, Cli, Command};
use civicdesk::config::Settings;
use civicdesk::domain::inbound::IngestError;
use civicdesk::models::inbound_email::InboundSource;
use civicdesk::startup::{self, Application};
use civicdesk::{db, domain, email, telemetry};
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Some(Command::IngestEmail)) {
        return ingest_email();
    }
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("civicdesk: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// sendmail's exit codes (sysexits.h).
const EX_DATAERR: u8 = 65;
const EX_NOUSER: u8 = 67;
const EX_TEMPFAIL: u8 = 75;

/// `civicdesk ingest-email`: one message from standard input, answered with a sendmail exit code.
fn ingest_email() -> ExitCode {
    use std::io::Read;
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("civicdesk: {error:#}");
            return ExitCode::from(EX_TEMPFAIL);
        }
    };
    // Logs name reasons and addresses; a pipe's output can end up in a bounce, so they are written only when
    // asked for (RUST_LOG).
    if std::env::var_os("RUST_LOG").is_some() {
        telemetry::init(settings.log_format);
    }
    let mut raw = Vec::new();
    let limit = settings.inbound.max_message_bytes;
    if let Err(error) = std::io::stdin().take(limit as u64 + 1).read_to_end(&mut raw) {
        eprintln!("civicdesk: could not read the message: {error}");
        return ExitCode::from(EX_TEMPFAIL);
    }
    let taken = db::connect_and_migrate(&settings.database_url).and_then(|mut conn| {
        let key = domain::keys::signing_key(&mut conn, settings.mail.secret.as_deref())?;
        let inbound = settings.inbound_settings(key);
        Ok(email::inbound::ingest(&mut conn, &inbound, &raw, InboundSource::Pipe))
    });
    match taken {
        Err(error) => {
            eprintln!("civicdesk: temporary failure: {error:#}");
            ExitCode::from(EX_TEMPFAIL)
        }
        Ok(Err(error)) => {
            // The mail server may quote this line in a bounce to the (possibly forged) sender: it names no reason.
            // The reason is kept with the stored email (GET /api/v1/admin/inbound) and in the log.
            let stored = error.inbound_email_id().map(|id| format!(" (inbound email {id})")).unwrap_or_default();
            let (code, what) = match error {
                IngestError::Temporary(_) => (EX_TEMPFAIL, "temporary failure, try again later"),
                IngestError::Refused { .. } => (EX_NOUSER, "the message was not accepted"),
                IngestError::TooLarge(_) => (EX_DATAERR, "the message is too large"),
                IngestError::Malformed { .. } | IngestError::Failed { .. } => {
                    (EX_DATAERR, "the message was not accepted")
                }
            };
            eprintln!("civicdesk: {what}{stored}");
            ExitCode::from(code)
        }
        Ok(Ok(ingested)) => {
            println!("{}", serde_json::to_string(&ingested).unwrap_or_default());
            ExitCode::SUCCESS
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
        Command::FetchMail => {
            let summary = startup::fetch_mail(&settings).await?;
            println!("taken {}, refused {}, left for later {}", summary.taken, summary.refused, summary.left);
            Ok(())
        }
        Command::IngestEmail => unreachable!("handled before the runtime work starts"),
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
