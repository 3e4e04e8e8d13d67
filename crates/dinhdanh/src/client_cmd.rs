//! `dinhdanh client ...`: organizations' API clients. To be written.

use anyhow::Result;
use clap::Subcommand;

use crate::api_client::ServerArgs;

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// List an organization's API clients.
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// The organization's id.
        #[arg(long)]
        organization: String,
    },
}

pub async fn run(command: ClientCommand) -> Result<()> {
    match command {
        ClientCommand::List { server, organization } => {
            let value = crate::api_client::ApiClient::new(&server)
                .get(&format!("/v1/organizations/{organization}/clients"))
                .await?;
            crate::api_client::print(&value);
            Ok(())
        }
    }
}
