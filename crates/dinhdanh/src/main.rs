//! `dinhdanh`: the e-ID account platform's one binary. Wires configuration, the store, the registry, the
//! notification worker and the HTTP server together; the behaviour lives in the library crates.

mod admin_cmd;
mod api_client;
mod audit_cmd;
mod biometrics_cmd;
mod client_cmd;
mod config;
mod keys_cmd;
mod node;
mod officer_cmd;
mod org_cmd;
mod registry_cmd;
mod requests_cmd;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use dinhdanh_registry::import::Progress;

use crate::config::{DatabaseArgs, ServeArgs};

/// dinhdanh — tài khoản định danh điện tử / electronic identification accounts.
///
/// Keeps e-ID accounts verified against the population and immigration registries, and governs who may
/// lock and unlock them. Start with `dinhdanh demo` to try it on a local SQLite file with demo data.
#[derive(Debug, Parser)]
#[command(name = "dinhdanh", version, about, long_about)]
struct Cli {
    /// Settings file (TOML). Flags and DINHDANH_* environment variables override it.
    #[arg(long, global = true, env = "DINHDANH_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API server and the notification worker (migrations are applied at start).
    Serve {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Import, generate and inspect the reference registries (population, immigration).
    Registry {
        #[command(subcommand)]
        command: registry_cmd::RegistryCommand,
    },
    /// Set up a new installation: `admin bootstrap` creates the first administrator (talks to the database).
    Admin {
        #[command(subcommand)]
        command: admin_cmd::AdminCommand,
    },
    /// The OpenID Connect provider's signing keys: `keys rotate` publishes a new key (talks to the database).
    Keys {
        #[command(subcommand)]
        command: keys_cmd::KeysCommand,
    },
    /// The audit log: `audit verify` checks it against its signed checkpoints, `audit prove` proves one entry.
    Audit {
        #[command(subcommand)]
        command: audit_cmd::AuditCommand,
    },
    /// Organizations: the operator's units, prosecuting agencies, competent authorities, relying parties.
    /// Needs an administrator's session (DINHDANH_TOKEN) and a running server (DINHDANH_SERVER).
    Org {
        #[command(subcommand)]
        command: org_cmd::OrgCommand,
    },
    /// Organizations' API clients: register, rotate keys and secrets, revoke.
    Client {
        #[command(subcommand)]
        command: client_cmd::ClientCommand,
    },
    /// Officers: sign in, enrol, and (administrators) manage officers and their roles.
    Officer {
        #[command(subcommand)]
        command: officer_cmd::OfficerCommand,
    },
    /// Officers: the queue of lock and unlock requests, and their steps (claim, forward, approve, reject).
    Requests {
        #[command(subcommand)]
        command: requests_cmd::RequestsCommand,
    },
    /// The locks of an account, and whether an identity's account can be used now.
    Locks {
        #[command(subcommand)]
        command: requests_cmd::LocksCommand,
    },
    /// Biometrics: `biometrics evaluate` measures the fingerprint matcher on synthetic fingers.
    Biometrics {
        #[command(subcommand)]
        command: biometrics_cmd::BiometricsCommand,
    },
    /// Try dinhdanh locally: a SQLite file and a generated demo registry under --dir, a dev inbox for the
    /// codes, and the server; prints the URL and identities to register with.
    Demo {
        /// Folder for the demo database, registry files and inbox.
        #[arg(long, default_value = ".demo")]
        dir: PathBuf,
        /// Address and port to listen on.
        #[arg(long, env = "DINHDANH_LISTEN", default_value = config::DEFAULT_LISTEN)]
        listen: String,
        /// Citizens in the generated population registry.
        #[arg(long, default_value_t = 1000)]
        citizens: u64,
        /// Foreigners in the generated immigration registry.
        #[arg(long, default_value_t = 200)]
        foreigners: u64,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let file = config::FileConfig::load(cli.config.as_deref())?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve { database, serve } => node::serve(file, database, serve).await,
            Command::Registry { command } => registry_cmd::run(file, command).await,
            Command::Admin { command } => admin_cmd::run(file, command).await,
            Command::Audit { command } => audit_cmd::run(file, command).await,
            Command::Keys { command } => keys_cmd::run(file, command).await,
            Command::Org { command } => org_cmd::run(command).await,
            Command::Client { command } => client_cmd::run(command).await,
            Command::Officer { command } => officer_cmd::run(command).await,
            Command::Requests { command } => requests_cmd::run_requests(command).await,
            Command::Locks { command } => requests_cmd::run_locks(command).await,
            Command::Biometrics { command } => biometrics_cmd::run(command),
            Command::Demo { dir, listen, citizens, foreigners } => {
                node::demo(file, node::DemoOptions { dir, listen, citizens, foreigners }).await
            }
        }
    })
}

/// Logs go to stderr: human-readable on a terminal, JSON lines otherwise. `RUST_LOG` filters (default info).
/// While a progress bar is drawn ([`logs_above`]), each log line is written above it, not through it.
fn init_logging() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(|| LogWriter);
    if std::io::stderr().is_terminal() {
        builder.init();
    } else {
        builder.json().flatten_event(true).init();
    }
}

/// The progress bar drawn on stderr now, if any.
static PROGRESS: std::sync::Mutex<Option<Progress>> = std::sync::Mutex::new(None);

/// Writes log lines above `progress` until the guard is dropped.
#[must_use = "log lines go above the bar only while the guard lives"]
pub(crate) fn logs_above(progress: &Progress) -> LogsAbove {
    *PROGRESS.lock().unwrap_or_else(|e| e.into_inner()) = Some(progress.clone());
    LogsAbove
}

pub(crate) struct LogsAbove;

impl Drop for LogsAbove {
    fn drop(&mut self) {
        *PROGRESS.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// stderr, through [`Progress::suspend`] while a bar is drawn. The fmt layer writes each event in one `write`.
struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let progress = PROGRESS.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match progress {
            Some(progress) => progress.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
