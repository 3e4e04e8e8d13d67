//! `dinhdanh audit`: check the audit log against its signed checkpoints (`verify`), prove that one entry is in
//! it (`prove`), and sign a checkpoint now (`checkpoint`). Reads the database directly (an auditor's tool), and
//! the signing key file (or only the public verifier key) from outside the database. See docs/audit.md.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use dinhdanh_store::merkle::{self, hex};
use dinhdanh_store::{CheckpointSigner, CheckpointVerifier, Store, TreeHead};

use crate::config::{DEFAULT_AUDIT_KEY_FILE, DEFAULT_DATABASE_URL, DatabaseArgs, FileConfig};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute every entry's leaf hash and the tree's root at every signed checkpoint (those in the database and
    /// those in --checkpoints FILE), so that an edit, a deletion, a reordering or a removed tail is named. Exits 0
    /// when intact, 1 with every problem found otherwise.
    Verify {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        key: KeyArgs,
        /// The published copy of the checkpoints (JSON lines, as `[audit] publish_file` writes them): the
        /// reference that whoever can write to the database cannot change.
        #[arg(long)]
        checkpoints: Option<PathBuf>,
    },
    /// Print, as JSON, entry SEQ with its inclusion proof against the newest signed checkpoint that covers it:
    /// what a holder can be given for the lock placed on their account, and check with the verifier key.
    Prove {
        /// The entry's number (`seq`).
        seq: i64,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Sign a checkpoint of the log as it stands now (the server signs one every `checkpoint_every_seconds`).
    Checkpoint {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The signing key file. Default: `[audit] signing_key_file`, or dinhdanh-audit.key.
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The public verifier key (`<name>+<key id>+<base64>`, as `GET /v1/audit/checkpoints` shows it). Default:
    /// derived from the signing key file.
    #[arg(long, env = "DINHDANH_AUDIT_VERIFIER_KEY")]
    verifier_key: Option<String>,
    /// The signing key file. Default: `[audit] signing_key_file`, or dinhdanh-audit.key.
    #[arg(long)]
    key_file: Option<PathBuf>,
}

/// Reads the signing key file, or creates it (readable by its owner only) when it does not exist yet.
pub fn load_or_create_signer(path: &Path, log_name: &str) -> Result<CheckpointSigner> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let signer = CheckpointSigner::parse(&text)
                .with_context(|| format!("{} is not an audit signing key", path.display()))?;
            if signer.name() != log_name {
                bail!(
                    "the audit signing key {} is for the log {:?}, not {log_name:?} (set [audit] log_name)",
                    path.display(),
                    signer.name()
                );
            }
            Ok(signer)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let signer = CheckpointSigner::generate(log_name)
                .with_context(|| format!("{log_name:?} cannot name a log (no spaces or '+')"))?;
            crate::config::write_secret_file(path, &signer.to_key_file())
                .with_context(|| format!("cannot create the audit signing key {}", path.display()))?;
            tracing::warn!(
                path = %path.display(),
                verifier_key = %signer.verifier().to_text(),
                "created the audit log's signing key: keep a copy outside this machine, and publish the verifier key"
            );
            Ok(signer)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read the audit signing key {}", path.display())),
    }
}

fn key_file(file: &FileConfig, flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| file.audit.as_ref().and_then(|a| a.signing_key_file.clone()))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_AUDIT_KEY_FILE))
}

fn verifier(file: &FileConfig, key: KeyArgs) -> Result<Option<CheckpointVerifier>> {
    if let Some(text) = key.verifier_key {
        return Ok(Some(CheckpointVerifier::parse(&text).context("--verifier-key")?));
    }
    let path = key_file(file, key.key_file);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(
            CheckpointSigner::parse(&text)
                .with_context(|| format!("{} is not an audit signing key", path.display()))?
                .verifier(),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// The signed heads of a published file: one JSON object per line, each with its `note`.
fn published(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            let value: serde_json::Value =
                serde_json::from_str(line).with_context(|| format!("{} line {}: not JSON", path.display(), n + 1))?;
            value["note"]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("{} line {}: no \"note\"", path.display(), n + 1))
        })
        .collect()
}

fn database_url(file: &FileConfig, database: DatabaseArgs) -> String {
    database.database_url.or(file.database_url.clone()).unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
}

pub async fn run(file: FileConfig, command: AuditCommand) -> Result<()> {
    match command {
        AuditCommand::Verify { database, key, checkpoints } => {
            let verifier = verifier(&file, key)?;
            let mut notes = match &checkpoints {
                Some(path) => published(path)?,
                None => Vec::new(),
            };
            let store = Store::connect(&database_url(&file, database)).await.context("cannot open the database")?;
            notes.extend(store.checkpoints(i64::MAX).await?.into_iter().map(|c| c.note));
            let mut problems = Vec::new();
            let mut heads: Vec<TreeHead> = Vec::new();
            match &verifier {
                Some(verifier) => {
                    for note in &notes {
                        match verifier.open(note) {
                            Ok(head) if !heads.contains(&head) => heads.push(head),
                            Ok(_) => {}
                            Err(e) => problems.push(format!(
                                "a checkpoint ({}) fails: {e}",
                                note.lines().nth(1).map(|s| format!("{s} entries")).unwrap_or_default()
                            )),
                        }
                    }
                }
                None if !notes.is_empty() => {
                    eprintln!(
                        "warning: no verifier key (give --verifier-key or the signing key file): the {} signed checkpoints were not checked",
                        notes.len()
                    );
                }
                None => {}
            }
            let report = store.verify_audit_log(&heads).await.context("cannot read the audit log")?;
            store.close().await;
            problems.extend(report.problems.iter().map(ToString::to_string));
            if problems.is_empty() {
                let newest = heads.iter().max_by_key(|h| h.size);
                println!(
                    "audit log intact: {} entries, every leaf recomputed; {}",
                    report.entries,
                    match newest {
                        Some(h) => format!(
                            "the roots match {} signed checkpoints (newest: {} entries, signed at {})",
                            heads.len(),
                            h.size,
                            h.at
                        ),
                        None => "no signed checkpoint yet to check the roots against".to_owned(),
                    }
                );
                Ok(())
            } else {
                for p in &problems {
                    eprintln!("- {p}");
                }
                bail!("audit log tampered with: {} (checked {} entries)", problems.join("; "), report.entries)
            }
        }
        AuditCommand::Prove { seq, database } => {
            let store = Store::connect(&database_url(&file, database)).await.context("cannot open the database")?;
            let entry = store.audit_entry(seq).await?.with_context(|| format!("there is no audit entry {seq}"))?;
            let checkpoint = store
                .checkpoints(i64::MAX)
                .await?
                .into_iter()
                .filter(|c| c.size >= seq as u64)
                .min_by_key(|c| c.size)
                .with_context(|| format!("no signed checkpoint covers entry {seq} yet; wait for the next one"))?;
            let proof = store.inclusion_proof(seq, checkpoint.size).await?;
            store.close().await;
            let leaf = merkle::hash_from_hex(&entry.leaf_hash).context("the entry's leaf hash is damaged")?;
            if !merkle::verify_inclusion(&leaf, (seq - 1) as u64, checkpoint.size, &proof, &checkpoint.root) {
                bail!("entry {seq} is not in the tree the checkpoint signed: run `dinhdanh audit verify`");
            }
            let out = serde_json::json!({
                "entry": {"seq": entry.seq, "at": entry.at, "actor": entry.actor, "action": entry.action,
                          "subject": entry.subject, "outcome": entry.outcome, "detail": entry.detail},
                "leaf_hash": entry.leaf_hash,
                "leaf_index": seq - 1,
                "tree_size": checkpoint.size,
                "root_hash": hex(&checkpoint.root),
                "inclusion_proof": proof.iter().map(|h| hex(h)).collect::<Vec<_>>(),
                "checkpoint": checkpoint.note,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
        AuditCommand::Checkpoint { database, key_file: flag } => {
            let path = key_file(&file, flag);
            let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let signer = CheckpointSigner::parse(&text)
                .with_context(|| format!("{} is not an audit signing key", path.display()))?;
            let store = Store::connect(&database_url(&file, database)).await.context("cannot open the database")?;
            let signed = store.sign_checkpoint(&signer, chrono::Utc::now()).await?;
            store.close().await;
            match signed {
                Some(checkpoint) => {
                    if let Some(publish) = file.audit.as_ref().and_then(|a| a.publish_file.as_ref()) {
                        dinhdanh_server::service::audit::publish(publish, &checkpoint)
                            .with_context(|| format!("cannot publish to {}", publish.display()))?;
                    }
                    print!("{}", checkpoint.note);
                }
                None => println!("nothing new to sign: the newest checkpoint covers the whole log"),
            }
            Ok(())
        }
    }
}
