//! `dinhdanh org ...`: to be written.

use anyhow::Result;
use clap::Subcommand;

use crate::api_client::ServerArgs;

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// List organizations.
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
}

pub async fn run(command: OrgCommand) -> Result<()> {
    match command {
        OrgCommand::List { server } => {
            let value = crate::api_client::ApiClient::new(&server).get("/v1/organizations").await?;
            crate::api_client::print(&value);
            Ok(())
        }
    }
}
