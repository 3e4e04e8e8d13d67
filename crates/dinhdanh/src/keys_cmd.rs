//! `dinhdanh keys ...`: the OpenID Connect provider's ES256 signing keys, talking to the database directly like
//! `dinhdanh admin` (the key set is the deployment's, not an officer's). Runs the server's own service code
//! (`service::oidc::rotate_keys`), so the rotation and its audit record are the same wherever it is started.

use anyhow::{Context, Result, anyhow};
use clap::Subcommand;
use dinhdanh_server::clock::{Clock, SystemClock};
use dinhdanh_store::Store;

use crate::config::{DEFAULT_DATABASE_URL, DatabaseArgs, FileConfig};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Rotate the signing keys, in one transaction, and print the new key's id.
    ///
    /// The key set always holds a *next* key, published in the JWKS but not signing, so that relying parties
    /// that cache the JWKS know it before its first token. A rotation makes that next key the *current* one
    /// (it signs from now on), retires the current key (still published, so tokens it signed keep verifying,
    /// until the longest token lifetime plus a minute has passed), prunes retired keys whose time is up, and
    /// makes a new next key. Every running node signs with the new key from the command's commit (on
    /// PostgreSQL, within a notification's trip): the commit drops the key set they keep in memory.
    ///
    /// The keys are sealed at rest: the command reads the seal key as a server does (`DINHDANH_OIDC_SEAL_KEY`,
    /// or `[oidc] key_seal_file`, default `dinhdanh-oidc-seal.key`), and never makes one. Servers also rotate
    /// on their own once the current key has signed for `[oidc] rotate_every_days` (default 90), and prune
    /// retired keys; this command is for a rotation before then. Rotate less often than relying parties refresh
    /// their cached JWKS (the JWKS says `max-age=300`). The first key set is made when a server first starts.
    Rotate {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

pub async fn run(file: FileConfig, command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::Rotate { database } => {
            let seal = crate::config::oidc_seal_key(&file, false).context("the OpenID Connect seal key")?;
            let url = database.database_url.or(file.database_url).unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
            let store = Store::connect(&url).await.context("cannot open the database")?;
            let result = dinhdanh_server::service::oidc::rotate_keys(&store, &seal, SystemClock.now()).await;
            store.close().await;
            let (rotation, pruned) =
                result.map_err(|e| anyhow!("cannot rotate the signing keys: {}", crate::admin_cmd::text_of(&e)))?;
            println!("Signing with {} from now on (it was published as the next key).", rotation.current);
            println!("Retired {} (still published until its last token expires).", rotation.retired);
            println!("New next key, published now, signing from the next rotation:");
            println!("{}", rotation.next);
            for kid in pruned {
                println!("Pruned {kid} (its last token has expired).");
            }
            Ok(())
        }
    }
}
