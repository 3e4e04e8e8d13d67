//! A file put in key order as a whole before it is written (`Order::Sorted`) ends in the same registry as one
//! written while it is read (`Order::Streamed`): same rows, same rejected lines, a later row for the same
//! identity still winning, and a re-import finding every row unchanged. Every test runs on both backends.

mod common;

use common::file;
use dinhdanh_domain::registry::RegistryKind;
use dinhdanh_registry::generate::{GenerateOptions, generate};
use dinhdanh_registry::import::{Format, ImportError, ImportOptions, ImportReport, Order, import_file};
use dinhdanh_store::on_both_backends;
use dinhdanh_store::testing::TestDb;
use sqlx::Row;

/// Generated rows, then later rows for some of the same identities (one changed, one repeated exactly), then
/// two rows that must be rejected.
fn messy_file(kind: RegistryKind, rows: u64) -> String {
    let mut bytes = Vec::new();
    generate(&mut bytes, &GenerateOptions { kind, count: rows, seed: 11, format: Format::Csv }).unwrap();
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let header = reader.headers().unwrap().clone();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(&header).unwrap();
    for record in &records {
        out.write_record(record).unwrap();
    }
    let (changed, value) = changed_column(kind);
    for (i, record) in records.iter().enumerate().step_by(7) {
        let mut later: Vec<String> = record.iter().map(str::to_owned).collect();
        if i % 2 == 0 {
            later[changed] = value.to_owned();
        }
        out.write_record(&later).unwrap();
    }
    let mut bad: Vec<String> = records[0].iter().map(str::to_owned).collect();
    bad[0] = "x".into();
    out.write_record(&bad).unwrap();
    bad[0] = records[1][0].to_owned();
    let date_of_birth = match kind {
        RegistryKind::Population => 2,
        RegistryKind::Immigration => 3,
    };
    bad[date_of_birth] = "1990-02-30".into();
    out.write_record(&bad).unwrap();
    String::from_utf8(out.into_inner().unwrap()).unwrap()
}

/// The column a later row changes, in the file and in [`dump`]: permanent residence for a citizen, stay expiry
/// for a foreigner; and the value it gets.
fn changed_column(kind: RegistryKind) -> (usize, &'static str) {
    match kind {
        RegistryKind::Population => (5, "Cần Thơ"),
        RegistryKind::Immigration => (6, "2031-12-31"),
    }
}

/// Every stored row of the kind's table but its `updated_at`, in key order, as text.
async fn dump(db: &TestDb, kind: RegistryKind) -> Vec<Vec<Option<String>>> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let sql = match kind {
        RegistryKind::Population => {
            "SELECT id_number, full_name, date_of_birth, gender, place_of_origin, permanent_residence, card_status, \
             died_on FROM registry_citizens ORDER BY id_number"
        }
        RegistryKind::Immigration => {
            "SELECT nationality, passport_number, full_name, date_of_birth, gender, passport_expires_on, \
             stay_expires_on, died_on FROM registry_foreigners ORDER BY nationality, passport_number"
        }
    };
    let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
    pool.close().await;
    rows.iter().map(|r| (0..8).map(|i| r.try_get::<Option<String>, _>(i).unwrap()).collect()).collect()
}

fn options(kind: RegistryKind, order: Order) -> ImportOptions {
    let mut options = ImportOptions::new(kind);
    options.order = order;
    // Small batches and a tiny sort budget: dozens of runs on disk, identities repeated across runs, batches
    // and (on PostgreSQL) writers.
    options.batch_size = 64;
    options.sort_memory = 4096;
    options
}

fn counts(r: &ImportReport) -> (u64, u64, u64) {
    (r.rows_read, r.written + r.unchanged, r.rejected_count)
}

on_both_backends! {
    a_sorted_import_stores_what_a_streamed_one_does_and_a_re_import_changes_nothing(db) {
        for kind in [RegistryKind::Population, RegistryKind::Immigration] {
            let input = file("registry.csv", messy_file(kind, 1500));
            let streamed_db = TestDb::new(db.dialect).await;
            let streamed_store = streamed_db.store().await;
            let streamed = import_file(&streamed_store, &input.path, &options(kind, Order::Streamed)).await.unwrap();
            let sorted_store = db.store().await;
            let sorted = import_file(&sorted_store, &input.path, &options(kind, Order::Sorted)).await.unwrap();

            assert_eq!(counts(&sorted), counts(&streamed), "{kind:?}");
            assert_eq!(counts(&sorted), (1500 + 215 + 2, 1500 + 215, 2), "{kind:?}");
            assert_eq!(sorted.rejected, streamed.rejected, "{kind:?}");
            assert_eq!(sorted.rejected.iter().map(|r| r.line).collect::<Vec<_>>(), [1717, 1718]);
            let stored = dump(&db, kind).await;
            assert_eq!(stored.len(), 1500, "{kind:?}");
            assert_eq!(stored, dump(&streamed_db, kind).await, "{kind:?}");
            // The later row won: every other repeated identity now has the changed value.
            let (column, value) = changed_column(kind);
            let changed = stored.iter().filter(|r| r[column].as_deref() == Some(value)).count();
            assert!(changed >= 100, "{kind:?}: {changed} rows changed by a later row");

            // Each identity's last row only was written: a fresh registry takes one row per identity, and
            // importing the file again writes nothing at all (streamed, the first of two differing rows for an
            // identity in different batches would be written again, then replaced again).
            assert_eq!((sorted.written, sorted.unchanged), (1500, 215), "{kind:?}");
            let again = import_file(&sorted_store, &input.path, &options(kind, Order::Sorted)).await.unwrap();
            assert_eq!((again.written, again.unchanged, again.rejected_count), (0, 1500 + 215, 2), "{kind:?}");
            assert_eq!(dump(&db, kind).await, stored, "{kind:?}");
            sorted_store.close().await;
            streamed_store.close().await;
        }
    }

    a_sort_that_cannot_write_its_runs_stops_the_import_before_any_row_is_written(db) {
        let store = db.store().await;
        let input = file("registry.csv", messy_file(RegistryKind::Population, 300));
        let mut options = options(RegistryKind::Population, Order::Sorted);
        options.sort_dir = Some(input.path.with_file_name("no-such-directory"));
        let result = import_file(&store, &input.path, &options).await;
        assert!(matches!(result, Err(ImportError::Io(_))), "{result:?}");
        assert_eq!(store.count_citizens().await.unwrap(), 0);
        // A file small enough to sort in memory never needs the directory.
        options.sort_memory = 64 << 20;
        let report = import_file(&store, &input.path, &options).await.unwrap();
        assert_eq!(report.written + report.unchanged, 300 + 43);
    }
}
