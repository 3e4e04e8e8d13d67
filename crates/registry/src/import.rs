//! Streaming import of registry files into the store's copy of the registries.
//!
//! Two formats carry the same columns: CSV with a header row, and JSON Lines (one object per line, the column
//! names as keys, string or null values). The format follows the file's extension (`.csv`; `.jsonl` or
//! `.ndjson`) unless [`ImportOptions::format`] names it.
//!
//! - population: `id_number, full_name, date_of_birth, gender, place_of_origin, permanent_residence,
//!   card_status, died_on` (the last four optional);
//! - immigration: `passport_number, nationality, full_name, date_of_birth, gender, passport_expires_on,
//!   stay_expires_on, died_on` (the last three optional).
//!
//! Dates are `YYYY-MM-DD`; an empty value, a missing key or `null` means "not given". A CSV header must name
//! every required column, may leave out optional ones, and may name nothing else: an unknown column is far
//! more likely a typo (say `dead_on`) than data meant to be dropped, so the file is refused before any row is
//! written.
//!
//! The file is never held in memory. A blocking thread reads and validates rows, sorts each full batch
//! (`batch_size` rows) by key and hands it over a channel of two to a writer task, which upserts it in one
//! transaction; so parsing overlaps the database's work, the tokio runtime never runs CPU-bound parsing, and
//! at most about four batches per writer exist at once whatever the file's size. SQLite gets one writer; on
//! PostgreSQL, whose server does most of the work, two or more writers each own a fixed hash share of the
//! identities, so they never touch the same row and the file's order still holds per identity. Sorted
//! batches visit the primary-key index in order instead of at random, which matters once the registry is
//! larger than the database's cache (at 1,000,000 rows: 1.3× faster on PostgreSQL; 1.4× on SQLite with 5000-row
//! batches, 2× with 20,000-row ones). See BENCHMARKS.md.
//!
//! A large file ([`Order`]; by default from [`SORT_FROM_BYTES`]) is put in key order as a whole before anything
//! is written: the reader validates every row into compact sorted runs, spilling them to anonymous temporary
//! files ([`ImportOptions::sort_memory`] bounds the memory), then merges them into the same batches. Each
//! batch then covers a narrow band of keys, so it touches a few contiguous index pages however large the
//! registry, and the rate no longer falls as the index outgrows the cache (10,000,000 rows: BENCHMARKS.md).
//! The registry it leaves is the same in both orders; sorted, only each identity's last row in the file is
//! written at all (the earlier ones count as unchanged), so even a file that corrects itself writes nothing
//! when imported again.
//!
//! Every row is validated as registration will trust it; a bad row is skipped and reported with its physical
//! line number in the file (the line it starts on, counting from 1: the CSV header is line 1 and blank lines
//! count; `\n`, `\r\n` and, in CSV, a lone `\r` end a line, and a quoted CSV field may span several) and a
//! reason, and the good rows around it are still imported. Reasons never repeat a row's values (no names, numbers or dates; at most a 3-digit province code
//! or a column name), so they are safe to log; tracing gets line numbers and reasons only.
//!
//! Upsert semantics: a row identical to the stored one is left untouched, so importing the same file twice
//! writes nothing the second time. When a file names the same identity twice, the later row wins.

use std::cell::Cell;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use dinhdanh_domain::registry::{CardStatus, CitizenRecord, ForeignerRecord, RegistryKind};
use dinhdanh_domain::{FullName, Gender, IdentificationNumber, Nationality, PassportNumber, ProvinceTable};
use dinhdanh_store::{Dialect, Store, StoreError, UpsertOutcome};
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use tokio::sync::mpsc;

use self::lines::LineBreaks;
pub use self::progress::{Progress, format_count, format_rate};
use self::sorted::Sorter;

mod lines;
mod progress;
mod sorted;

/// The columns of a population (citizens) file, in their usual order; the first four are required.
pub const POPULATION_COLUMNS: [&str; 8] = [
    "id_number",
    "full_name",
    "date_of_birth",
    "gender",
    "place_of_origin",
    "permanent_residence",
    "card_status",
    "died_on",
];

/// The columns of an immigration (foreigners) file, in their usual order; the first five are required.
pub const IMMIGRATION_COLUMNS: [&str; 8] = [
    "passport_number",
    "nationality",
    "full_name",
    "date_of_birth",
    "gender",
    "passport_expires_on",
    "stay_expires_on",
    "died_on",
];

/// How many of a kind's leading columns are required.
fn required_columns(kind: RegistryKind) -> usize {
    match kind {
        RegistryKind::Population => 4,
        RegistryKind::Immigration => 5,
    }
}

/// The columns of a kind.
pub fn columns(kind: RegistryKind) -> &'static [&'static str; 8] {
    match kind {
        RegistryKind::Population => &POPULATION_COLUMNS,
        RegistryKind::Immigration => &IMMIGRATION_COLUMNS,
    }
}

/// Rows kept in [`ImportReport::rejected`]; the count goes on beyond it.
pub const MAX_REPORTED_REJECTIONS: usize = 1000;

/// Longest JSON line read; a longer one is rejected (and skipped) rather than buffered.
const MAX_JSON_LINE: u64 = 1 << 20;

/// Longest optional text value (place of origin, permanent residence), in characters.
const MAX_TEXT_CHARS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
}

impl Format {
    /// `.csv` is CSV; `.jsonl` and `.ndjson` are JSON Lines (case-insensitive). Anything else: `None`.
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Self::Csv),
            "jsonl" | "ndjson" => Some(Self::JsonLines),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::JsonLines => "jsonl",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Accepts `csv`, `jsonl`, `ndjson`, `jsonlines` and `json-lines` (any case), for command-line flags.
impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(Self::Csv),
            "jsonl" | "ndjson" | "jsonlines" | "json-lines" => Ok(Self::JsonLines),
            other => Err(format!("unknown format `{other}` (use csv or jsonl)")),
        }
    }
}

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub kind: RegistryKind,
    /// `None`: from the file's extension.
    pub format: Option<Format>,
    /// Rows per upsert transaction (0 counts as 1). [`ImportOptions::new`] sets [`DEFAULT_BATCH_SIZE`];
    /// [`ImportOptions::for_store`] picks the size that suits the store's backend.
    pub batch_size: usize,
    /// The province codes an identification number may start with.
    pub provinces: ProvinceTable,
    /// Where to show progress: [`Progress::hidden`] (the default) or [`Progress::stderr`], a bar with the
    /// share of the file read, the time left, rows and rows/s. The CLI shows it when stderr is a terminal.
    pub progress: Progress,
    /// Whether rows are written while the file is read, or the whole file is put in key order first.
    pub order: Order,
    /// [`Order::Sorted`]: bytes of rows held in memory, in their compact encoded form, before a sorted run of
    /// them is written to a temporary file (default [`DEFAULT_SORT_MEMORY`]).
    pub sort_memory: usize,
    /// [`Order::Sorted`]: where the temporary run files go (`None`: the system's temporary directory, `TMPDIR`).
    /// They are anonymous (never visible by name, gone when the import ends or dies) and take about as much
    /// space as the file.
    pub sort_dir: Option<PathBuf>,
}

/// In what order rows reach the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// [`Order::Sorted`] for a file of at least [`SORT_FROM_BYTES`] bytes, [`Order::Streamed`] below.
    #[default]
    Auto,
    /// Batches are written while the file is read, each sorted by key: reading overlaps writing, and memory
    /// holds a few batches. Each batch's keys still land all over the primary-key index, which is slow once
    /// the index outgrows the database's cache.
    Streamed,
    /// The whole file is put in key order first (an external merge sort through temporary files, within
    /// [`ImportOptions::sort_memory`]), then written: batches then walk the primary-key index from one end to
    /// the other, so the rate holds however large the registry. Nothing is written until the file is read.
    Sorted,
}

/// The file size from which [`Order::Auto`] sorts the whole file: about 400,000 citizens. Sorting already won
/// at 1,000,000 (1.5× on SQLite, 1.2–1.4× on PostgreSQL, BENCHMARKS.md); below this, streaming holds less
/// memory and the database's cache holds most of what a batch of a small registry touches.
pub const SORT_FROM_BYTES: u64 = 32 << 20;

/// [`ImportOptions::sort_memory`] by default. Peak memory is about twice this (the run being filled, the
/// allocator's slack), well under 200 MB with the batches the writers hold.
pub const DEFAULT_SORT_MEMORY: usize = 64 << 20;

/// Rows per upsert transaction by default, and the best size measured on PostgreSQL (BENCHMARKS.md).
pub const DEFAULT_BATCH_SIZE: usize = 5000;

/// Rows per transaction that suit SQLite. Its one writer rewrites, at each commit, every index page the
/// transaction touched; with random identification numbers a 5000-row commit touches thousands of pages of
/// a large registry, so bigger transactions cost far fewer page writes per row (measured on 1,000,000 rows:
/// 76,000 rows/s at 5000, 158,000 at 20,000, 230,000 at 50,000; memory grows with the batch).
pub const SQLITE_BATCH_SIZE: usize = 25_000;

impl ImportOptions {
    pub fn new(kind: RegistryKind) -> Self {
        Self {
            kind,
            format: None,
            batch_size: DEFAULT_BATCH_SIZE,
            provinces: ProvinceTable::builtin(),
            progress: Progress::hidden(),
            order: Order::Auto,
            sort_memory: DEFAULT_SORT_MEMORY,
            sort_dir: None,
        }
    }

    /// [`ImportOptions::new`] with the batch size for the store's backend: [`DEFAULT_BATCH_SIZE`] on
    /// PostgreSQL, [`SQLITE_BATCH_SIZE`] on SQLite.
    pub fn for_store(kind: RegistryKind, store: &Store) -> Self {
        let batch_size = match store.dialect() {
            Dialect::Sqlite => SQLITE_BATCH_SIZE,
            Dialect::Postgres => DEFAULT_BATCH_SIZE,
        };
        Self { batch_size, ..Self::new(kind) }
    }
}

/// A row that was not imported: the physical line of the file it starts on (the CSV header is line 1; LF,
/// CRLF and CR endings number alike) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    pub line: u64,
    pub reason: String,
}

impl fmt::Display for RejectedRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// What an import did. `rows_read` = `written` + `unchanged` + `rejected_count` (blank lines are not rows).
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub rows_read: u64,
    /// Rows new or changed in the store.
    pub written: u64,
    /// Valid rows that were already stored exactly so, or that a later row for the same identity replaced
    /// before they were written (in the same batch; sorted, anywhere in the file).
    pub unchanged: u64,
    pub rejected_count: u64,
    /// The first [`MAX_REPORTED_REJECTIONS`] rejected rows, in file order.
    pub rejected: Vec<RejectedRow>,
    pub elapsed: Duration,
}

impl ImportReport {
    /// Rows read (valid or not) per second of wall time.
    pub fn rows_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { self.rows_read as f64 / secs } else { 0.0 }
    }

    /// One line for people: `502 rows read: 500 new or changed, 0 unchanged, 2 rejected (122,739 rows/s)`.
    pub fn summary(&self) -> String {
        format!(
            "{} rows read: {} new or changed, {} unchanged, {} rejected ({} rows/s)",
            self.rows_read,
            self.written,
            self.unchanged,
            self.rejected_count,
            format_rate(self.rows_per_second()).trim_end_matches("/s")
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot write to the database: {0}")]
    Store(#[from] StoreError),
    #[error("unknown file format: name the file .csv, .jsonl or .ndjson, or give the format explicitly")]
    UnknownFormat,
    #[error("bad header row: {0}")]
    BadHeader(String),
    #[error("the import stopped unexpectedly: {0}")]
    Internal(String),
}

/// Imports a registry file into the store. Bad rows are reported, not fatal; a missing or unreadable file, a
/// bad CSV header or a database error stops the import (batches already written stay written: every batch is
/// its own transaction, and re-running the import is safe; sorted, nothing is written before the whole file
/// has been read).
pub async fn import_file(store: &Store, path: &Path, options: &ImportOptions) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let format = options.format.or_else(|| Format::from_path(path)).ok_or(ImportError::UnknownFormat)?;
    let file = File::open(path)?;
    let file_bytes = file.metadata()?.len();
    let now = Utc::now();
    let parser = Parser {
        kind: options.kind,
        provinces: options.provinces.clone(),
        today: now.date_naive(),
        batch_size: options.batch_size.max(1),
    };
    let sorted = match options.order {
        Order::Auto => file_bytes >= SORT_FROM_BYTES,
        Order::Streamed => false,
        Order::Sorted => true,
    };
    let progress = options.progress.clone();
    // Sorted, the file is gone through twice: read (first half of the bar), then written in key order.
    progress.start(if sorted { 2 * file_bytes } else { file_bytes });
    tracing::info!(kind = options.kind.as_str(), format = format.as_str(), sorted, "registry import started");
    let sorter = sorted.then(|| Sorter::new(options.kind, options.sort_memory, options.sort_dir.clone()));

    let writer_count = writers(store);
    let mut senders = Vec::with_capacity(writer_count);
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..writer_count {
        let (sender, mut receiver) = mpsc::channel::<Batch>(CHANNEL_BATCHES);
        senders.push(sender);
        let store = store.clone();
        let progress = progress.clone();
        writers.spawn(async move {
            let mut total = UpsertOutcome::default();
            while let Some(batch) = receiver.recv().await {
                total += batch.upsert(&store, now).await?;
                progress.rows_done(batch.len() as u64);
            }
            Ok::<_, StoreError>(total)
        });
    }
    let reader_progress = progress.clone();
    let reading = tokio::task::spawn_blocking(move || {
        let mut out = Batcher::new(&parser, senders, reader_progress, sorter, file_bytes);
        match format {
            Format::Csv => parser.read_csv(file, &mut out)?,
            Format::JsonLines => parser.read_json_lines(file, &mut out)?,
        }
        out.finish()?;
        Ok::<_, ImportError>(out.summary)
    });

    // The reader ends first (a writer that fails closes its channel, which stops the reader); its error, if
    // any, is the cause. Then every writer drains what it was sent.
    let summary = reading.await.map_err(|e| ImportError::Internal(e.to_string()));
    let mut total = UpsertOutcome::default();
    let mut store_error = None;
    while let Some(joined) = writers.join_next().await {
        match joined {
            Ok(Ok(outcome)) => total += outcome,
            Ok(Err(e)) => store_error = store_error.or(Some(e)),
            Err(e) => return Err(ImportError::Internal(e.to_string())),
        }
    }
    progress.finish();
    let summary = summary??;
    if let Some(e) = store_error {
        return Err(e.into());
    }
    let report = ImportReport {
        rows_read: summary.rows_read,
        written: total.written,
        unchanged: total.unchanged + summary.superseded,
        rejected_count: summary.rejected_count,
        rejected: summary.rejected,
        elapsed: started.elapsed(),
    };
    tracing::info!(
        kind = options.kind.as_str(),
        rows_read = report.rows_read,
        written = report.written,
        unchanged = report.unchanged,
        rejected = report.rejected_count,
        elapsed_ms = report.elapsed.as_millis() as u64,
        rows_per_second = report.rows_per_second() as u64,
        writers = writer_count,
        sorted,
        "registry import finished"
    );
    Ok(report)
}

/// Batches queued per writer while it writes one: the reader stays ahead of the database by this much.
const CHANNEL_BATCHES: usize = 2;

/// How many batches are written at once. SQLite has one writer whatever we do. A PostgreSQL server spends
/// most of an upsert's time in its own backend (the client's parsing is a fraction of it), so two
/// connections, each owning a fixed share of the identities, keep two server cores busy without two writers
/// ever touching the same row (no lock waits, no deadlocks, and the file's order still holds per identity).
fn writers(store: &Store) -> usize {
    match store.dialect() {
        Dialect::Sqlite => 1,
        // Measured on 2 cores (1,000,000 rows): 1 writer 132,000 rows/s, 2 writers 200,000, 3 writers 196,000.
        Dialect::Postgres => std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 4),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Batches

enum Batch {
    Citizens(Vec<CitizenRecord>),
    Foreigners(Vec<ForeignerRecord>),
}

impl Batch {
    fn new(kind: RegistryKind, capacity: usize) -> Self {
        match kind {
            RegistryKind::Population => Self::Citizens(Vec::with_capacity(capacity)),
            RegistryKind::Immigration => Self::Foreigners(Vec::with_capacity(capacity)),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Citizens(v) => v.len(),
            Self::Foreigners(v) => v.len(),
        }
    }

    /// Orders the rows by key (stably, so a later row for the same identity stays later). Index pages are then
    /// visited in order, once per batch, instead of at random: far fewer page-cache misses in big tables.
    fn sort(&mut self) {
        match self {
            Self::Citizens(v) => v.sort_by(|a, b| a.id_number.cmp(&b.id_number)),
            Self::Foreigners(v) => v.sort_by(|a, b| {
                (a.nationality.as_str(), a.passport_number.as_str())
                    .cmp(&(b.nationality.as_str(), b.passport_number.as_str()))
            }),
        }
    }

    async fn upsert(&self, store: &Store, now: DateTime<Utc>) -> Result<UpsertOutcome, StoreError> {
        match self {
            Self::Citizens(rows) => store.upsert_citizens(rows, now).await,
            Self::Foreigners(rows) => store.upsert_foreigners(rows, now).await,
        }
    }
}

enum Record {
    Citizen(CitizenRecord),
    Foreigner(ForeignerRecord),
}

impl Record {
    /// Which writer owns this identity (FNV-1a of its key).
    fn partition(&self, partitions: usize) -> usize {
        if partitions == 1 {
            return 0;
        }
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |bytes: &[u8]| {
            for &b in bytes {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        };
        match self {
            Self::Citizen(r) => feed(r.id_number.as_str().as_bytes()),
            Self::Foreigner(r) => {
                feed(r.nationality.as_str().as_bytes());
                feed(r.passport_number.as_str().as_bytes());
            }
        }
        (hash % partitions as u64) as usize
    }
}

/// What the reader found besides valid rows.
#[derive(Default)]
struct Summary {
    rows_read: u64,
    /// Sorted: valid rows a later row for the same identity replaced before anything was written.
    superseded: u64,
    rejected_count: u64,
    rejected: Vec<RejectedRow>,
}

/// Collects valid rows into one batch per writer and sends each when full; holds at most one batch per
/// writer. Rejected rows are counted (the first [`MAX_REPORTED_REJECTIONS`] kept) and logged here. With a
/// [`Sorter`], valid rows go to it instead, and reach the batches in key order once the file is read.
struct Batcher {
    kind: RegistryKind,
    batch_size: usize,
    batches: Vec<Batch>,
    senders: Vec<mpsc::Sender<Batch>>,
    summary: Summary,
    progress: Progress,
    /// How far into the file the reader is, in bytes (shown with each batch sent and each rejection).
    read_to: u64,
    /// A writer has gone (it failed), or the sorter could not write: stop reading.
    closed: bool,
    sorter: Option<Sorter>,
    /// Why the sorter stopped the import.
    sort_error: Option<ImportError>,
    file_bytes: u64,
    /// Sorted rows handed to the batches so far, and how many there are in all.
    merged: u64,
    to_merge: u64,
    /// When reading began (logged when the sorted file has been read).
    started: Instant,
}

impl Batcher {
    fn new(
        parser: &Parser,
        senders: Vec<mpsc::Sender<Batch>>,
        progress: Progress,
        sorter: Option<Sorter>,
        file_bytes: u64,
    ) -> Self {
        Self {
            kind: parser.kind,
            batch_size: parser.batch_size,
            batches: senders.iter().map(|_| Batch::new(parser.kind, parser.batch_size)).collect(),
            senders,
            summary: Summary::default(),
            progress,
            read_to: 0,
            closed: false,
            sorter,
            sort_error: None,
            file_bytes,
            merged: 0,
            to_merge: 0,
            started: Instant::now(),
        }
    }

    fn accept(&mut self, record: Record) {
        self.summary.rows_read += 1;
        if let Some(sorter) = &mut self.sorter {
            if let Err(e) = sorter.push(&record) {
                self.sort_error = Some(e);
                self.closed = true;
            }
            return;
        }
        self.route(record);
    }

    /// Puts a valid record in its writer's batch, and sends the batch when full.
    fn route(&mut self, record: Record) {
        let partition = record.partition(self.batches.len());
        match (&mut self.batches[partition], record) {
            (Batch::Citizens(v), Record::Citizen(r)) => v.push(r),
            (Batch::Foreigners(v), Record::Foreigner(r)) => v.push(r),
            _ => unreachable!("a batch holds one kind of record"),
        }
        if self.batches[partition].len() >= self.batch_size {
            self.send(partition);
        }
    }

    fn reject(&mut self, line: u64, reason: String) {
        self.summary.rows_read += 1;
        self.summary.rejected_count += 1;
        tracing::debug!(line, reason = %reason, "registry row rejected");
        if self.summary.rejected.len() < MAX_REPORTED_REJECTIONS {
            self.summary.rejected.push(RejectedRow { line, reason });
        }
        self.progress.rejected();
        self.progress.read_to(self.read_to);
    }

    /// The reader has parsed the file up to byte `offset`.
    fn read_to(&mut self, offset: u64) {
        self.read_to = offset;
    }

    /// Sends one writer its batch; a full channel blocks this thread (back-pressure).
    fn send(&mut self, partition: usize) {
        if self.batches[partition].len() == 0 || self.closed {
            return;
        }
        let mut batch = std::mem::replace(&mut self.batches[partition], Batch::new(self.kind, self.batch_size));
        batch.sort();
        self.progress.read_to(self.position());
        if self.senders[partition].blocking_send(batch).is_err() {
            self.closed = true;
        }
    }

    /// Where the progress bar stands: the bytes read; sorted, the file's size plus the share of it written.
    fn position(&self) -> u64 {
        if self.to_merge == 0 {
            return self.read_to;
        }
        self.file_bytes + (self.file_bytes as f64 * self.merged as f64 / self.to_merge as f64) as u64
    }

    /// Sorted: merges the runs into the batches. Then sends what is left; dropping the senders then tells the
    /// writers the file is done.
    fn finish(&mut self) -> Result<(), ImportError> {
        if let Some(e) = self.sort_error.take() {
            return Err(e);
        }
        if let Some(sorter) = self.sorter.take()
            && !self.closed
        {
            self.to_merge = sorter.len();
            tracing::info!(
                rows = self.to_merge,
                elapsed_ms = self.started.elapsed().as_millis() as u64,
                "registry import: file read and sorted, now written in key order"
            );
            let mut merge = sorter.merge()?;
            while !self.closed {
                let Some(record) = merge.next_record(&mut self.summary.superseded)? else { break };
                self.merged += 1;
                self.route(record);
            }
        }
        for partition in 0..self.batches.len() {
            self.send(partition);
        }
        self.progress.read_to(self.position());
        self.senders.clear();
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------------------
// Reading

struct Parser {
    kind: RegistryKind,
    provinces: ProvinceTable,
    today: NaiveDate,
    batch_size: usize,
}

/// One row's values by column (the kind's column order); `None` when absent, null or blank.
type Fields<'a> = [Option<&'a str>; 8];

impl Parser {
    fn read_csv(&self, file: File, out: &mut Batcher) -> Result<(), ImportError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(256 * 1024)
            .from_reader(LineBreaks::new(file));
        let mut record = csv::ByteRecord::new();
        if !reader.read_byte_record(&mut record).map_err(csv_fatal)? {
            return Err(ImportError::BadHeader(format!(
                "the file is empty; expected a header row: {}",
                columns(self.kind).join(",")
            )));
        }
        let positions = self.header(&record)?;
        let width = record.len();
        while !out.closed && reader.read_byte_record(&mut record).map_err(csv_fatal)? {
            // The reader's own `Position::line()` is wrong for CRLF files and after blank lines; its byte offset
            // is exact, and `LineBreaks` knows which line that byte is on.
            let line = reader.get_mut().line_at(record.position().map_or(0, |p| p.byte()));
            out.read_to(reader.position().byte());
            if record.len() != width {
                let reason = format!("malformed CSV line: the row has {} fields, the header has {width}", record.len());
                out.reject(line, reason);
                continue;
            }
            let mut fields: Fields<'_> = [None; 8];
            let mut bad_utf8 = false;
            for (value, position) in record.iter().zip(&positions) {
                let Ok(value) = std::str::from_utf8(value) else {
                    bad_utf8 = true;
                    break;
                };
                fields[*position] = Some(value);
            }
            if bad_utf8 {
                out.reject(line, "malformed CSV line: not valid UTF-8".to_owned());
                continue;
            }
            match self.validate(&fields) {
                Ok(record) => out.accept(record),
                Err(reason) => out.reject(line, reason),
            }
        }
        Ok(())
    }

    /// Maps each header field to its column; refuses unknown, repeated and missing required columns.
    fn header(&self, record: &csv::ByteRecord) -> Result<Vec<usize>, ImportError> {
        let names = columns(self.kind);
        let mut positions = Vec::with_capacity(record.len());
        let mut seen = [false; 8];
        for (i, raw) in record.iter().enumerate() {
            let text = std::str::from_utf8(raw)
                .map_err(|_| ImportError::BadHeader("the header row is not valid UTF-8".into()))?;
            let text = if i == 0 { text.trim_start_matches('\u{feff}') } else { text };
            let name = text.trim().to_ascii_lowercase();
            let Some(column) = names.iter().position(|c| *c == name) else {
                return Err(ImportError::BadHeader(format!(
                    "unknown column `{}` for a {} file (expected {})",
                    name.chars().take(40).collect::<String>(),
                    self.kind.as_str(),
                    names.join(",")
                )));
            };
            if std::mem::replace(&mut seen[column], true) {
                return Err(ImportError::BadHeader(format!("column `{name}` appears twice")));
            }
            positions.push(column);
        }
        if let Some(missing) = (0..required_columns(self.kind)).find(|&c| !seen[c]) {
            return Err(ImportError::BadHeader(format!(
                "missing required column `{}` for a {} file (expected {})",
                names[missing],
                self.kind.as_str(),
                names.join(",")
            )));
        }
        Ok(positions)
    }

    fn read_json_lines(&self, file: File, out: &mut Batcher) -> Result<(), ImportError> {
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        let mut buffer = Vec::with_capacity(1024);
        let mut line = 0u64;
        let mut offset = 0u64;
        while !out.closed {
            buffer.clear();
            let read = reader.by_ref().take(MAX_JSON_LINE).read_until(b'\n', &mut buffer)?;
            if read == 0 {
                break;
            }
            line += 1;
            offset += read as u64;
            out.read_to(offset);
            if buffer.last() != Some(&b'\n') && read as u64 == MAX_JSON_LINE {
                // Skip the rest of the overlong line without holding it.
                offset += skip_line(&mut reader)?;
                out.read_to(offset);
                out.reject(line, format!("the line is longer than {MAX_JSON_LINE} bytes"));
                continue;
            }
            let text = buffer.trim_ascii();
            if text.is_empty() {
                continue;
            }
            match self.json_row(text) {
                Ok(record) => out.accept(record),
                Err(reason) => out.reject(line, reason),
            }
        }
        Ok(())
    }

    fn json_row(&self, text: &[u8]) -> Result<Record, String> {
        if text.first() != Some(&b'{') {
            return Err("invalid JSON: each line must be one JSON object".into());
        }
        let names = columns(self.kind);
        let current = Cell::new(None);
        let mut deserializer = serde_json::Deserializer::from_slice(text);
        let values = RowSeed { names, current: &current }
            .deserialize(&mut deserializer)
            .and_then(|values| deserializer.end().map(|()| values))
            .map_err(|e| json_reason(&e, current.get().map(|c| names[c])))?;
        let fields: Fields<'_> = std::array::from_fn(|i| values[i].as_deref());
        self.validate(&fields)
    }

    fn validate(&self, fields: &Fields<'_>) -> Result<Record, String> {
        match self.kind {
            RegistryKind::Population => self.citizen(fields).map(Record::Citizen),
            RegistryKind::Immigration => self.foreigner(fields).map(Record::Foreigner),
        }
    }

    fn citizen(&self, f: &Fields<'_>) -> Result<CitizenRecord, String> {
        let id_number =
            IdentificationNumber::parse(required(f[0], "id_number")?, &self.provinces).map_err(|e| e.to_string())?;
        let full_name = FullName::parse(f[1].unwrap_or("")).map_err(|e| e.to_string())?;
        let date_of_birth = self.past_date(required(f[2], "date_of_birth")?, "date_of_birth")?;
        let gender = Gender::parse(required(f[3], "gender")?).map_err(|e| e.to_string())?;
        id_number.check_birth(date_of_birth, gender).map_err(|e| e.to_string())?;
        let place_of_origin = optional_text(f[4], "place_of_origin")?;
        let permanent_residence = optional_text(f[5], "permanent_residence")?;
        let card_status = CardStatus::parse(f[6].unwrap_or(""))
            .ok_or("`card_status` must be valid, revoked or retained (or empty for valid)")?;
        let died_on = self.death(f[7], date_of_birth)?;
        Ok(CitizenRecord {
            id_number,
            full_name,
            date_of_birth,
            gender,
            place_of_origin,
            permanent_residence,
            card_status,
            died_on,
        })
    }

    fn foreigner(&self, f: &Fields<'_>) -> Result<ForeignerRecord, String> {
        let passport_number = PassportNumber::parse(required(f[0], "passport_number")?).map_err(|e| e.to_string())?;
        let nationality = Nationality::parse(required(f[1], "nationality")?).map_err(|e| e.to_string())?;
        let full_name = FullName::parse(f[2].unwrap_or("")).map_err(|e| e.to_string())?;
        let date_of_birth = self.past_date(required(f[3], "date_of_birth")?, "date_of_birth")?;
        let gender = Gender::parse(required(f[4], "gender")?).map_err(|e| e.to_string())?;
        let passport_expires_on = optional(f[5]).map(|s| date(s, "passport_expires_on")).transpose()?;
        let stay_expires_on = optional(f[6]).map(|s| date(s, "stay_expires_on")).transpose()?;
        let died_on = self.death(f[7], date_of_birth)?;
        Ok(ForeignerRecord {
            passport_number,
            nationality,
            full_name,
            date_of_birth,
            gender,
            passport_expires_on,
            stay_expires_on,
            died_on,
        })
    }

    /// A date that cannot lie in the future (birth, death).
    fn past_date(&self, s: &str, column: &str) -> Result<NaiveDate, String> {
        let d = date(s, column)?;
        if d > self.today {
            return Err(format!("`{column}` is in the future"));
        }
        Ok(d)
    }

    fn death(&self, value: Option<&str>, date_of_birth: NaiveDate) -> Result<Option<NaiveDate>, String> {
        let Some(s) = optional(value) else { return Ok(None) };
        let died_on = self.past_date(s, "died_on")?;
        if died_on < date_of_birth {
            return Err("`died_on` is before `date_of_birth`".into());
        }
        Ok(Some(died_on))
    }
}

/// Consumes up to and including the next `\n`; returns how many bytes that was.
fn skip_line(reader: &mut impl BufRead) -> std::io::Result<u64> {
    let mut skipped = 0u64;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(skipped);
        }
        match available.iter().position(|&b| b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(skipped + i as u64 + 1);
            }
            None => {
                let n = available.len();
                reader.consume(n);
                skipped += n as u64;
            }
        }
    }
}

/// A CSV reader error that is not about one row: only I/O can stop the whole import.
fn csv_fatal(e: csv::Error) -> ImportError {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => ImportError::Io(e),
        other => ImportError::Internal(format!("CSV reader: {other:?}")),
    }
}

fn optional(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|s| !s.is_empty())
}

fn required<'a>(value: Option<&'a str>, column: &str) -> Result<&'a str, String> {
    optional(value).ok_or_else(|| format!("`{column}` is missing"))
}

fn optional_text(value: Option<&str>, column: &str) -> Result<Option<String>, String> {
    let Some(s) = optional(value) else { return Ok(None) };
    if s.chars().count() > MAX_TEXT_CHARS {
        return Err(format!("`{column}` is longer than {MAX_TEXT_CHARS} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err(format!("`{column}` contains control characters"));
    }
    Ok(Some(s.to_owned()))
}

/// A calendar date written exactly `YYYY-MM-DD`.
fn date(s: &str, column: &str) -> Result<NaiveDate, String> {
    let invalid = || format!("`{column}` is not a valid date (expected YYYY-MM-DD)");
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(invalid());
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let (Some(y), Some(m), Some(d)) = (number(0..4), number(5..7), number(8..10)) else {
        return Err(invalid());
    };
    NaiveDate::from_ymd_opt(y as i32, m, d).ok_or_else(invalid)
}

// ---------------------------------------------------------------------------------------------------------
// JSON Lines: one object, keys from the kind's columns, values strings or null. Error messages name keys and
// columns, never values.

struct RowSeed<'a> {
    names: &'static [&'static str; 8],
    /// The column whose value is being read, so a type error can name it.
    current: &'a Cell<Option<usize>>,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = [Option<String>; 8];

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = [Option<String>; 8];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values: [Option<String>; 8] = Default::default();
        let mut seen = [false; 8];
        while let Some(column) = map.next_key_seed(KeySeed(self.names))? {
            if std::mem::replace(&mut seen[column], true) {
                return Err(de::Error::custom(format_args!("key `{}` appears twice", self.names[column])));
            }
            self.current.set(Some(column));
            values[column] = map.next_value::<Text>()?.0;
            self.current.set(None);
        }
        Ok(values)
    }
}

/// A key, as the index of its column.
struct KeySeed(&'static [&'static str; 8]);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = usize;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a column name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<usize, E> {
        self.0.iter().position(|c| *c == key).ok_or_else(|| {
            let shown: String = key.chars().take(40).filter(|c| !c.is_control()).collect();
            E::custom(format_args!("unknown key `{shown}`"))
        })
    }
}

/// A string or null. Other JSON values are refused without repeating them.
struct Text(Option<String>);

impl<'de> de::Deserialize<'de> for Text {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

const NOT_TEXT: &str = "must be a string or null";

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or null")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
        Ok(Text(Some(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
        Ok(Text(Some(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
        Ok(Text(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Text, E> {
        Ok(Text(None))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Text, E> {
        Err(E::custom(NOT_TEXT))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Text, E> {
        Err(E::custom(NOT_TEXT))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Text, E> {
        Err(E::custom(NOT_TEXT))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Text, E> {
        Err(E::custom(NOT_TEXT))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Text, A::Error> {
        Err(de::Error::custom(NOT_TEXT))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Text, A::Error> {
        Err(de::Error::custom(NOT_TEXT))
    }
}

/// A reason for a JSON line that failed to parse, without any of its values.
fn json_reason(e: &serde_json::Error, column: Option<&str>) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            format!("invalid JSON (syntax error at column {})", e.column())
        }
        Category::Data => {
            let text = e.to_string();
            let message = text.rsplit_once(" at line ").map_or(text.as_str(), |(m, _)| m);
            match column {
                Some(column) if message == NOT_TEXT => format!("invalid JSON: `{column}` {NOT_TEXT}"),
                _ if message.starts_with("unknown key") || message.starts_with("key ") => {
                    format!("invalid JSON: {message}")
                }
                _ => "invalid JSON: each line must be one object of strings or nulls".to_owned(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_follows_the_extension() {
        assert_eq!(Format::from_path(Path::new("a/b.CSV")), Some(Format::Csv));
        assert_eq!(Format::from_path(Path::new("b.jsonl")), Some(Format::JsonLines));
        assert_eq!(Format::from_path(Path::new("b.ndjson")), Some(Format::JsonLines));
        assert_eq!(Format::from_path(Path::new("b.json")), None);
        assert_eq!(Format::from_path(Path::new("b")), None);
        assert_eq!("NDJSON".parse::<Format>(), Ok(Format::JsonLines));
        assert!("xml".parse::<Format>().is_err());
    }

    #[test]
    fn the_summary_rounds_the_rate_to_whole_rows() {
        let report = ImportReport {
            rows_read: 1_227_393,
            written: 1_227_390,
            unchanged: 1,
            rejected_count: 2,
            rejected: Vec::new(),
            elapsed: Duration::from_secs(10),
        };
        assert_eq!(
            report.summary(),
            "1227393 rows read: 1227390 new or changed, 1 unchanged, 2 rejected (122,739 rows/s)"
        );
        let empty = ImportReport::default();
        assert_eq!(empty.summary(), "0 rows read: 0 new or changed, 0 unchanged, 0 rejected (0 rows/s)");
    }

    #[test]
    fn dates_are_strict() {
        assert_eq!(date("2000-02-29", "d"), Ok(NaiveDate::from_ymd_opt(2000, 2, 29).unwrap()));
        for bad in ["2001-02-29", "2001-2-28", "20010228", "2001-13-01", "abcd-ef-gh", "2001-02-28 "] {
            assert!(date(bad, "d").is_err(), "{bad}");
        }
    }

    #[test]
    fn json_reasons_never_repeat_values() {
        let parser = Parser {
            kind: RegistryKind::Population,
            provinces: ProvinceTable::builtin(),
            today: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            batch_size: 10,
        };
        let reason = |line: &str| match parser.json_row(line.as_bytes()) {
            Ok(_) => panic!("accepted {line}"),
            Err(reason) => reason,
        };
        let r = reason(r#"{"id_number": 123456789012, "full_name": "Secret Name"}"#);
        assert_eq!(r, "invalid JSON: `id_number` must be a string or null");
        let r = reason(r#"{"id_number": "001090000001", "full_name": ["Secret Name"]}"#);
        assert!(!r.contains("Secret") && r.contains("full_name"), "{r}");
        let r = reason(r#"{"id_number": "001090000001", "full_name": "Secret Name""#);
        assert!(r.starts_with("invalid JSON (syntax error"), "{r}");
        let r = reason(r#"{"nickname": "Secret"}"#);
        assert_eq!(r, "invalid JSON: unknown key `nickname`");
        let r = reason(r#"["Secret"]"#);
        assert!(!r.contains("Secret"));
        let r = reason(r#"{"full_name": "A", "full_name": "B"}"#);
        assert_eq!(r, "invalid JSON: key `full_name` appears twice");
        let r = reason(r#"{"full_name": "Secret"} trailing"#);
        assert!(r.starts_with("invalid JSON (syntax error"), "{r}");
    }
}
