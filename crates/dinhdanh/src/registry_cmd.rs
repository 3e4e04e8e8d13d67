//! `dinhdanh registry ...`: import a registry file into the database (then place and lift the automatic locks it
//! supports), generate a synthetic one.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Subcommand, ValueEnum};
use dinhdanh_domain::registry::RegistryKind;
use dinhdanh_registry::StoreRegistry;
use dinhdanh_registry::biometrics::{generate_biometrics, import_biometrics};
use dinhdanh_registry::generate::{GenerateOptions, generate_to_path};
use dinhdanh_registry::import::{Format, ImportOptions, Progress, import_file};
use dinhdanh_server::clock::SystemClock;
use dinhdanh_server::{AppState, ServerConfig};
use dinhdanh_store::Store;

use crate::config::{DEFAULT_DATABASE_URL, DatabaseArgs, FileConfig};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    /// National Population Database: citizens.
    Population,
    /// National Immigration Database: foreigners.
    Immigration,
}

impl From<KindArg> for RegistryKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Population => RegistryKind::Population,
            KindArg::Immigration => RegistryKind::Immigration,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Csv,
    Jsonl,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Csv => Format::Csv,
            FormatArg::Jsonl => Format::JsonLines,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Import (insert or update) a registry file: CSV with a header row, or JSON Lines. Bad rows are skipped
    /// and reported with their line number, the valid rows are imported all the same, and the command exits
    /// non-zero if any row was rejected (unless --allow-rejections). Re-importing the same file changes
    /// nothing. See docs/registry.md.
    Import {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Which registry the file comes from.
        #[arg(long, value_enum)]
        kind: KindArg,
        /// File format. Default: from the extension (.csv, .jsonl, .ndjson).
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
        /// Rows per database transaction. Default: 25,000 on SQLite, 5,000 on PostgreSQL.
        #[arg(long)]
        batch_size: Option<usize>,
        /// Exit 0 even if rows were rejected. Without it the command exits 1 when any row was rejected; either
        /// way the valid rows are imported and kept, and the rejected rows and the summary are printed.
        #[arg(long)]
        allow_rejections: bool,
        /// The file to import.
        file: PathBuf,
    },
    /// Import the registry's biometric references from a side file: per person, ISO/IEC 19794-2:2005 finger
    /// minutiae records (one per finger) and a face template, base64 in CSV rows. Population columns:
    /// id_number,modality,position,template; immigration: nationality,passport_number,modality,position,template.
    /// modality is `finger` (position: the ISO finger position, 1-10) or `face` (position 0). Every template is
    /// parsed and checked, and its person must be in the registry already; bad rows are reported with their
    /// line, the good ones imported, and the command exits 1 if any row was rejected (unless
    /// --allow-rejections). See docs/biometrics.md.
    ImportBiometrics {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Which registry the people are in.
        #[arg(long, value_enum)]
        kind: KindArg,
        /// Exit 0 even if rows were rejected (the valid rows are imported either way).
        #[arg(long)]
        allow_rejections: bool,
        /// The CSV side file.
        file: PathBuf,
    },
    /// Write a realistic synthetic registry (Vietnamese names, valid identification numbers, passports).
    Generate {
        #[arg(long, value_enum)]
        kind: KindArg,
        /// Number of people.
        #[arg(long)]
        count: u64,
        /// Output file; the format follows the extension (.csv or .jsonl).
        #[arg(long)]
        out: PathBuf,
        /// Same seed, same file.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also write a biometric side file for these people (synthetic right thumb and right index as ISO/IEC
        /// 19794-2 records, and a synthetic face template), for `registry import-biometrics`.
        #[arg(long)]
        biometrics: Option<PathBuf>,
    },
}

/// Places and lifts the automatic locks the registry now supports (card revoked or retained, death, expired
/// passport or stay), through the same requests, notices and audit as a server node's periodic job.
pub async fn reconcile_automatic_locks(
    store: &Store,
    file: &FileConfig,
) -> Result<dinhdanh_server::service::automatic::ReconcileReport> {
    let config =
        ServerConfig { provinces: crate::node::provinces(&file.extra_province_codes), ..ServerConfig::default() };
    let registry = Arc::new(StoreRegistry::new(store.clone()));
    let state = AppState::new(store.clone(), registry, Arc::new(SystemClock), config);
    dinhdanh_server::service::automatic::reconcile_automatic_locks(&state)
        .await
        .map_err(|e| anyhow!("automatic locks could not be reconciled: {e:?}"))
}

pub async fn run(file: FileConfig, command: RegistryCommand) -> Result<()> {
    match command {
        RegistryCommand::Import { database, kind, format, batch_size, allow_rejections, file: path } => {
            let url =
                database.database_url.or(file.database_url.clone()).unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
            let store = Store::connect(&url).await.with_context(|| "cannot open the database")?;
            let mut options = ImportOptions::for_store(kind.into(), &store);
            options.format = format.map(Into::into);
            if let Some(batch_size) = batch_size {
                options.batch_size = batch_size.max(1);
            }
            options.provinces = crate::node::provinces(&file.extra_province_codes);
            if std::io::stderr().is_terminal() {
                options.progress = Progress::stderr();
            }
            let report = {
                let _logs = crate::logs_above(&options.progress);
                import_file(&store, &path, &options).await
            }
            .with_context(|| format!("import of {} failed", path.display()))?;
            for rejected in &report.rejected {
                eprintln!("line {}: {}", rejected.line, rejected.reason);
            }
            if report.rejected_count > report.rejected.len() as u64 {
                eprintln!("… and {} more rejected rows", report.rejected_count - report.rejected.len() as u64);
            }
            println!("{}", report.summary());
            let automatic = reconcile_automatic_locks(&store, &file).await?;
            println!("automatic locks: {} placed, {} lifted", automatic.locks_placed, automatic.locks_lifted);
            store.close().await;
            if report.rejected_count > 0 && !allow_rejections {
                bail!(
                    "{} of {} rows were rejected (the {} valid rows were imported); \
                     pass --allow-rejections to accept a file with rejected rows",
                    report.rejected_count,
                    report.rows_read,
                    report.rows_read - report.rejected_count
                );
            }
            Ok(())
        }
        RegistryCommand::ImportBiometrics { database, kind, allow_rejections, file: path } => {
            let url =
                database.database_url.or(file.database_url.clone()).unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
            let store = Store::connect(&url).await.with_context(|| "cannot open the database")?;
            let provinces = crate::node::provinces(&file.extra_province_codes);
            let report = import_biometrics(&store, kind.into(), &provinces, &path, chrono::Utc::now())
                .await
                .map_err(|e| anyhow!("import of {} failed: {e}", path.display()))?;
            store.close().await;
            for (line, reason) in &report.rejected {
                eprintln!("line {line}: {reason}");
            }
            println!(
                "imported {} finger records and {} face templates; {} rows rejected",
                report.fingerprints,
                report.faces,
                report.rejected.len()
            );
            if !report.rejected.is_empty() && !allow_rejections {
                bail!(
                    "{} rows were rejected (the valid rows were imported); pass --allow-rejections to accept them",
                    report.rejected.len()
                );
            }
            Ok(())
        }
        RegistryCommand::Generate { kind, count, out, seed, biometrics } => {
            let format = Format::from_path(&out).unwrap_or(Format::Csv);
            if out.exists() && out.is_dir() {
                bail!("{} is a folder; give a file name", out.display());
            }
            generate_to_path(&out, &GenerateOptions { kind: kind.into(), count, seed, format })
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("wrote {count} people to {}", out.display());
            if let Some(side) = biometrics {
                let (fingers, faces) = generate_biometrics(kind.into(), &out, &side, seed).map_err(|e| anyhow!(e))?;
                println!("wrote {fingers} finger records and {faces} face templates to {}", side.display());
            }
            Ok(())
        }
    }
}
