//! A large file put in key order before it is written (`Order::Sorted`) is sorted within its memory budget:
//! runs beyond it go to temporary files, so the process's peak memory does not grow with the file.
//!
//! This file holds a single test so that its test binary runs nothing else: the peak resident set size
//! (`VmHWM` in /proc/self/status) is process-wide.

use dinhdanh_domain::registry::RegistryKind;
use dinhdanh_registry::generate::{GenerateOptions, generate_to_path};
use dinhdanh_registry::import::{Format, ImportOptions, Order, import_file};
use dinhdanh_store::testing::TestDb;

const ROWS: u64 = 300_000;
const BATCH: usize = 1000;
const SORT_MEMORY: usize = 2 << 20;

/// Peak resident set size of this process, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM line");
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_sorted_import_keeps_to_its_memory_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("citizens.csv");
    let options = GenerateOptions { kind: RegistryKind::Population, count: ROWS, seed: 2026, format: Format::Csv };
    generate_to_path(&path, &options).unwrap();
    let file_size = std::fs::metadata(&path).unwrap().len();

    let db = TestDb::sqlite();
    let store = db.store().await;
    let mut import_options = ImportOptions::new(RegistryKind::Population);
    import_options.batch_size = BATCH;
    import_options.order = Order::Sorted;
    import_options.sort_memory = SORT_MEMORY;
    // Warm up what any import needs once (see large_import.rs), with a sort that spills too.
    let warm_up = dir.path().join("warm-up.csv");
    generate_to_path(&warm_up, &GenerateOptions { count: 40_000, seed: 1, ..options.clone() }).unwrap();
    let warm = import_file(&store, &warm_up, &import_options).await.unwrap();
    assert_eq!(warm.written, 40_000);
    let before = peak_rss();
    let report = import_file(&store, &path, &import_options).await.unwrap();
    let growth = peak_rss().saturating_sub(before);

    assert_eq!((report.rows_read, report.written, report.rejected_count), (ROWS, ROWS, 0));
    assert_eq!(store.count_citizens().await.unwrap(), ROWS as i64 + 40_000);
    eprintln!(
        "imported {ROWS} rows ({} MB) sorted in {SORT_MEMORY}-byte runs; peak RSS grew by {:.1} MB",
        file_size / 1_000_000,
        growth as f64 / 1e6
    );
    // Holding every row to sort it would take about the file's size in encoded runs (and far more as records);
    // the sort holds one run and the merge a buffer per run file.
    assert!(file_size > 20_000_000, "the file is large enough to tell: {file_size} bytes");
    assert!(growth < file_size * 3 / 4, "peak memory grew by {growth} bytes for a {file_size}-byte file");
}
