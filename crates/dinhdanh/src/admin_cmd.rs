//! `dinhdanh admin ...`: setting up and keeping an installation, talking to the database directly (there is
//! nobody yet who could sign in to the API, or the task is the operator's, not an officer's). `bootstrap` and
//! `rotate-totp-key` run the server's own service code (`service::officers`), so the rules and the audit record
//! are the same as over the API.

use std::path::PathBuf;

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
    /// Re-encrypt every officer's TOTP secret under a new key, in one transaction.
    ///
    /// The current key is the configured one (`DINHDANH_TOTP_KEY`, or `[officers] totp_key_file`, default
    /// dinhdanh-totp.key). The new key is read from --new-key-file, or made there (readable by its owner only)
    /// when the file does not exist. Afterwards, point the configuration at the new key and restart every node:
    /// a node still holding the old key cannot open the secrets. Keep the old key until then.
    RotateTotpKey {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Where the new key is (created when missing).
        #[arg(long)]
        new_key_file: PathBuf,
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
        AdminCommand::RotateTotpKey { database, new_key_file } => {
            let current = crate::config::totp_key(&file, false).context("the current TOTP key")?;
            let new = crate::config::load_or_create_totp_key(&new_key_file)?;
            let url = database.database_url.or(file.database_url).unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
            let store = Store::connect(&url).await.context("cannot open the database")?;
            let result = officers::rotate_totp_key(&store, &current, &new, SystemClock.now()).await;
            store.close().await;
            let count = result.map_err(|e| anyhow!("rotation refused, nothing changed: {}", text_of(&e)))?;
            println!("Re-encrypted the TOTP secrets of {count} officers under the key in {}.", new_key_file.display());
            println!();
            println!("Now point the configuration at the new key and restart every node:");
            println!("  [officers]");
            println!("  totp_key_file = {:?}", new_key_file.display().to_string());
            println!(
                "(or put the file's content in {}). Until a node restarts with it, officers cannot",
                crate::config::TOTP_KEY_ENV
            );
            println!("sign in there. Keep the old key until every node runs with the new one, then destroy it.");
            Ok(())
        }
    }
}

/// A service error as a sentence for the terminal: the internal message, or the fields' problems.
pub(crate) fn text_of(error: &ApiError) -> String {
    if let ApiError::Internal(message) = error {
        return message.clone();
    }
    let problem = error.to_problem();
    let mut text = problem.detail;
    for field in &problem.errors {
        text.push_str(&format!("\n  --{}: {}", field.field.replace('_', "-"), field.message));
    }
    text
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
    anyhow!("bootstrap refused: {}", text_of(&error))
}
