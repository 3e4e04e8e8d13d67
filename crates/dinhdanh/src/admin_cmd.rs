//! `dinhdanh admin ...`: setting up an installation, talking to the database directly (there is nobody yet who
//! could sign in to the API). `bootstrap` runs the server's own service code (`service::officers::bootstrap`),
//! so the rules and the audit record are the same as over the API.

use anyhow::{Context, Result, anyhow};
use clap::Subcommand;
use dinhdanh_server::clock::{Clock, SystemClock};
use dinhdanh_server::problem::ApiError;
use dinhdanh_server::service::officers::{self, Bootstrap};
use dinhdanh_store::Store;

use crate::config::{DEFAULT_DATABASE_URL, DatabaseArgs, FileConfig};

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create the first administrator on a database without any officer, and print their one-time enrolment
    /// token.
    ///
    /// Creates the operator organization too, unless one with that code exists. Runs only once: when any
    /// officer exists it is refused (exit status 1), and administrators manage officers with
    /// `dinhdanh officer ...` instead. The administrator then enrols with `dinhdanh officer enrol` and
    /// `dinhdanh officer confirm` against the running server, and signs in with `dinhdanh officer sign-in`.
    Bootstrap {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Code of the operator organization the administrator belongs to.
        #[arg(long, default_value = "C06")]
        organization_code: String,
        /// Name of the operator organization, used when it has to be created.
        #[arg(long, default_value = "Cục Cảnh sát quản lý hành chính về trật tự xã hội")]
        organization_name: String,
        /// The administrator's username (lower-case letters, digits, '.', '-', '_').
        #[arg(long, default_value = "admin")]
        username: String,
        /// The administrator's full name.
        #[arg(long, default_value = "Quản trị viên hệ thống")]
        full_name: String,
    },
}

pub async fn run(file: FileConfig, command: AdminCommand) -> Result<()> {
    match command {
        AdminCommand::Bootstrap { database, organization_code, organization_name, username, full_name } => {
            let url = database.database_url.or(file.database_url).unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
            let store = Store::connect(&url).await.context("cannot open the database")?;
            let request = Bootstrap { organization_code, organization_name, username, full_name };
            let result = officers::bootstrap(&store, SystemClock.now(), request).await;
            store.close().await;
            let done = result.map_err(describe)?;
            let org = &done.organization;
            if done.organization_created {
                println!("Created the operator organization {} ({}), id {}.", org.code, org.name, org.id);
            } else {
                println!("Using the existing operator organization {} ({}), id {}.", org.code, org.name, org.id);
            }
            let officer = &done.enrolment.officer;
            let token = &done.enrolment.token;
            println!("Created the administrator {:?}, id {}, pending enrolment.", officer.username, officer.id);
            println!();
            println!("One-time enrolment token (shown only now, valid until {}):", done.enrolment.expires_at);
            println!("  {token}");
            println!();
            println!("Next steps, with the server running (dinhdanh serve):");
            println!("  1. dinhdanh officer enrol --token {token}");
            println!("     choose a password; add the printed TOTP secret to an authenticator app");
            println!("  2. dinhdanh officer confirm --token {token} --code <6-digit code from the app>");
            println!("  3. dinhdanh officer sign-in --username {} --code <a new code>", officer.username);
            Ok(())
        }
    }
}

/// The service's refusal as a message for the terminal.
fn describe(error: ApiError) -> anyhow::Error {
    if let ApiError::Internal(message) = &error {
        return anyhow!("bootstrap failed: {message}");
    }
    if let ApiError::Conflict { what } = &error
        && what.starts_with("officers")
    {
        return anyhow!(
            "bootstrap refused: this database already has officers, and bootstrap runs only once, on a database \
             without any. An administrator manages officers with `dinhdanh officer ...`; a lost administrator \
             authenticator is reset by another administrator (`dinhdanh officer reissue-enrolment`)."
        );
    }
    let problem = error.to_problem();
    let mut message = format!("bootstrap refused: {}", problem.detail);
    for field in &problem.errors {
        message.push_str(&format!("\n  --{}: {}", field.field.replace('_', "-"), field.message));
    }
    anyhow!(message)
}
