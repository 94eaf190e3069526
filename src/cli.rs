//! The `civicdesk` command line.

use clap::{Parser, Subcommand};

/// civicdesk: the help desk of a technical-assistance network for civil-society organisations.
#[derive(Debug, Parser)]
#[command(name = "civicdesk", version, about)]
pub struct Cli {
    /// What to do; `serve` when left out.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API (creates the database and applies migrations first).
    Serve,
    /// Deliver the email outbox without serving HTTP (run several, on any machines, against one database).
    Worker,
    /// Take in one raw email from standard input (for a Postfix/Exim pipe transport or a .forward).
    ///
    /// Exit codes follow sendmail: 0 taken (also when ignored or a duplicate), 65 malformed or too large,
    /// 67 refused sender, 75 temporary failure (the mail server will retry).
    IngestEmail,
    /// Take in the new messages of the IMAP folder of IMAP_URL once (workers poll it continuously).
    FetchMail,
    /// Create the database if needed and apply pending migrations, then exit.
    Migrate,
    /// Load data. `--demo` creates (idempotently) a demo network: offices, advisors, CSOs, routing rules.
    Seed {
        /// Create the demo network and print a fresh token for each demo user.
        #[arg(long)]
        demo: bool,
    },
    /// Administration tasks.
    Admin {
        /// The task.
        #[command(subcommand)]
        command: AdminCommand,
    },
}

/// Administration subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create the first administrator (or reuse an existing one) and print a new API token for them.
    ///
    /// The token goes to standard output alone, so `TOKEN=$(civicdesk admin bootstrap ...)` works.
    Bootstrap {
        /// The administrator's email address.
        #[arg(long)]
        email: String,
        /// The administrator's name.
        #[arg(long)]
        name: String,
    },
    /// Check every advisor's open-ticket count (kept on their profile for routing) against their tickets, and
    /// correct those that are wrong; each correction is printed.
    ///
    /// With `--check`, nothing is changed and the exit code is 1 when a count is wrong.
    RepairOpenCounts {
        /// Only report; change nothing.
        #[arg(long)]
        check: bool,
    },
}
