//! `dinhdanh officer ...`: to be written.

use anyhow::Result;
use clap::Subcommand;

use crate::api_client::ServerArgs;

#[derive(Debug, Subcommand)]
pub enum OfficerCommand {
    /// List officers.
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
}

pub async fn run(command: OfficerCommand) -> Result<()> {
    match command {
        OfficerCommand::List { server } => {
            let value = crate::api_client::ApiClient::new(&server).get("/v1/officers").await?;
            crate::api_client::print(&value);
            Ok(())
        }
    }
}
