//! `dinhdanh registry ...`: import a registry file into the database, generate a synthetic one.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use dinhdanh_domain::registry::RegistryKind;
use dinhdanh_registry::generate::{GenerateOptions, generate_to_path};
use dinhdanh_registry::import::{Format, ImportOptions, import_file};
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
    /// and reported with their line number; re-importing the same file changes nothing. See docs/registry.md.
    Import {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Which registry the file comes from.
        #[arg(long, value_enum)]
        kind: KindArg,
        /// File format. Default: from the extension (.csv, .jsonl, .ndjson).
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
        /// Rows per database transaction.
        #[arg(long, default_value_t = 5000)]
        batch_size: usize,
        /// The file to import.
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
    },
}

pub async fn run(file: FileConfig, command: RegistryCommand) -> Result<()> {
    match command {
        RegistryCommand::Import { database, kind, format, batch_size, file: path } => {
            let url = database.database_url.or(file.database_url).unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
            let store = Store::connect(&url).await.with_context(|| "cannot open the database")?;
            let mut options = ImportOptions::new(kind.into());
            options.format = format.map(Into::into);
            options.batch_size = batch_size.max(1);
            options.provinces = crate::node::provinces(&file.extra_province_codes);
            options.progress = std::io::stderr().is_terminal();
            let report = import_file(&store, &path, &options)
                .await
                .with_context(|| format!("import of {} failed", path.display()))?;
            for rejected in &report.rejected {
                eprintln!("line {}: {}", rejected.line, rejected.reason);
            }
            if report.rejected_count > report.rejected.len() as u64 {
                eprintln!("… and {} more rejected rows", report.rejected_count - report.rejected.len() as u64);
            }
            println!(
                "{} rows read: {} new or changed, {} unchanged, {} rejected ({:.0} rows/s)",
                report.rows_read,
                report.written,
                report.unchanged,
                report.rejected_count,
                report.rows_per_second()
            );
            store.close().await;
            Ok(())
        }
        RegistryCommand::Generate { kind, count, out, seed } => {
            let format = Format::from_path(&out).unwrap_or(Format::Csv);
            if out.exists() && out.is_dir() {
                bail!("{} is a folder; give a file name", out.display());
            }
            generate_to_path(&out, &GenerateOptions { kind: kind.into(), count, seed, format })
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("wrote {count} people to {}", out.display());
            Ok(())
        }
    }
}
