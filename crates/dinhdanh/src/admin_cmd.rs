//! `dinhdanh admin ...`: to be written (bootstrap).

use anyhow::{Result, bail};
use clap::Subcommand;

use crate::config::{DatabaseArgs, FileConfig};

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create the first administrator on an empty database.
    Bootstrap {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

pub async fn run(_file: FileConfig, command: AdminCommand) -> Result<()> {
    match command {
        AdminCommand::Bootstrap { .. } => bail!("not yet implemented"),
    }
}
