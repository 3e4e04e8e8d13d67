//! `dinhdanh audit verify`: walks the hash chain of the audit log and reports the first entry that was edited,
//! deleted or moved. Reads the database directly (an auditor's tool; it changes nothing).

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use dinhdanh_store::Store;

use crate::config::{DEFAULT_DATABASE_URL, DatabaseArgs, FileConfig};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit log's hash chain from the first entry to the newest. Exits 0 when intact, 1 with the first
    /// problem otherwise.
    Verify {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

pub async fn run(file: FileConfig, command: AuditCommand) -> Result<()> {
    match command {
        AuditCommand::Verify { database } => {
            let url = database.database_url.or(file.database_url).unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
            let store = Store::connect(&url).await.context("cannot open the database")?;
            let report = store.verify_audit_chain().await.context("cannot read the audit log")?;
            store.close().await;
            match report.first_problem {
                None => {
                    println!("audit log intact: {} entries, every link checked", report.entries);
                    Ok(())
                }
                Some(problem) => bail!("audit log tampered with: {problem} (checked {} entries)", report.entries),
            }
        }
    }
}
