//! Server-side cost of bulk registry upserts on PostgreSQL, by SQL strategy: the evidence behind the
//! recommendation for `crates/store/src/registry.rs` in BENCHMARKS.md. Not part of the product.
//!
//! ```text
//! pg_upsert_experiment --db postgres://... --file citizens.csv [--rows N] [--batch 5000] [--connections 2]
//! ```
//!
//! Reads the first N rows of a generated population CSV into memory (parsing is not timed; each batch sorted by
//! key, as the import does), then for each
//! strategy: recreates `registry_citizens` empty, upserts every row in batches over M connections (each owning
//! a hash share of the identifiers), and upserts them all again (every row unchanged); prints rows/s of both.

use std::sync::Arc;
use std::time::Instant;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Connection, Executor};

const COLUMNS: &str =
    "id_number, full_name, date_of_birth, gender, place_of_origin, permanent_residence, card_status, died_on";

const TABLE: &str = "CREATE TABLE registry_citizens (
    id_number TEXT PRIMARY KEY, full_name TEXT NOT NULL, date_of_birth TEXT NOT NULL, gender TEXT NOT NULL,
    place_of_origin TEXT, permanent_residence TEXT, card_status TEXT NOT NULL DEFAULT 'valid', died_on TEXT,
    updated_at BIGINT NOT NULL)";

/// The statement the store runs today (crates/store/src/registry.rs).
const ON_CONFLICT: &str =
    "INSERT INTO registry_citizens (id_number, full_name, date_of_birth, gender, place_of_origin, \
    permanent_residence, card_status, died_on, updated_at) SELECT *, $9::bigint FROM UNNEST($1::text[], $2::text[], \
    $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) ON CONFLICT (id_number) DO UPDATE SET
    full_name = excluded.full_name, date_of_birth = excluded.date_of_birth, gender = excluded.gender,
    place_of_origin = excluded.place_of_origin, permanent_residence = excluded.permanent_residence,
    card_status = excluded.card_status, died_on = excluded.died_on, updated_at = excluded.updated_at
  WHERE registry_citizens.full_name IS DISTINCT FROM excluded.full_name
     OR registry_citizens.date_of_birth IS DISTINCT FROM excluded.date_of_birth
     OR registry_citizens.gender IS DISTINCT FROM excluded.gender
     OR registry_citizens.place_of_origin IS DISTINCT FROM excluded.place_of_origin
     OR registry_citizens.permanent_residence IS DISTINCT FROM excluded.permanent_residence
     OR registry_citizens.card_status IS DISTINCT FROM excluded.card_status
     OR registry_citizens.died_on IS DISTINCT FROM excluded.died_on";

/// MERGE (PostgreSQL 15+) joins the batch with the table and then inserts plainly: no speculative insertion.
fn merge(source: &str, now: &str) -> String {
    format!(
        "MERGE INTO registry_citizens t USING {source} ON t.id_number = s.id_number
WHEN MATCHED AND (t.full_name IS DISTINCT FROM s.full_name OR t.date_of_birth IS DISTINCT FROM s.date_of_birth
    OR t.gender IS DISTINCT FROM s.gender OR t.place_of_origin IS DISTINCT FROM s.place_of_origin
    OR t.permanent_residence IS DISTINCT FROM s.permanent_residence OR t.card_status IS DISTINCT FROM s.card_status
    OR t.died_on IS DISTINCT FROM s.died_on)
  THEN UPDATE SET full_name = s.full_name, date_of_birth = s.date_of_birth, gender = s.gender,
    place_of_origin = s.place_of_origin, permanent_residence = s.permanent_residence,
    card_status = s.card_status, died_on = s.died_on, updated_at = {now}
WHEN NOT MATCHED THEN INSERT ({COLUMNS}, updated_at) VALUES (s.id_number, s.full_name, s.date_of_birth, s.gender,
    s.place_of_origin, s.permanent_residence, s.card_status, s.died_on, {now})"
    )
}

type Row = [Option<String>; 8];

#[derive(Clone, Copy, Debug)]
enum Strategy {
    /// The store's statement: UNNEST of eight text arrays, INSERT ... ON CONFLICT DO UPDATE ... WHERE.
    UnnestOnConflict,
    /// The same arrays, MERGE instead of ON CONFLICT.
    UnnestMerge,
    /// COPY the batch into a temporary table, then INSERT ... SELECT ... ON CONFLICT.
    CopyOnConflict,
    /// COPY the batch into a temporary table, then MERGE.
    CopyMerge,
}

async fn run_batch(conn: &mut sqlx::PgConnection, strategy: Strategy, rows: &[Row], now: i64) -> u64 {
    let mut tx = conn.begin().await.unwrap();
    let written = match strategy {
        Strategy::UnnestOnConflict | Strategy::UnnestMerge => {
            let sql = match strategy {
                Strategy::UnnestOnConflict => ON_CONFLICT.to_owned(),
                _ => merge(
                    "(SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                     $7::text[], $8::text[]) AS u(id_number, full_name, date_of_birth, gender, place_of_origin, \
                     permanent_residence, card_status, died_on)) s",
                    "$9::bigint",
                ),
            };
            let mut query = sqlx::query(&sql);
            for c in 0..8 {
                query = query.bind(rows.iter().map(|r| r[c].clone()).collect::<Vec<_>>());
            }
            query.bind(now).execute(&mut *tx).await.unwrap().rows_affected()
        }
        Strategy::CopyOnConflict | Strategy::CopyMerge => {
            tx.execute(
                "CREATE TEMP TABLE IF NOT EXISTS staging (id_number TEXT, full_name TEXT, date_of_birth TEXT, \
                 gender TEXT, place_of_origin TEXT, permanent_residence TEXT, card_status TEXT, died_on TEXT) \
                 ON COMMIT DELETE ROWS",
            )
            .await
            .unwrap();
            let mut text = String::with_capacity(rows.len() * 120);
            for row in rows {
                for (i, value) in row.iter().enumerate() {
                    if i > 0 {
                        text.push('\t');
                    }
                    match value {
                        // Generated values hold no tab, newline or backslash.
                        Some(v) => text.push_str(v),
                        None => text.push_str("\\N"),
                    }
                }
                text.push('\n');
            }
            let mut copy = tx.copy_in_raw("COPY staging FROM STDIN").await.unwrap();
            copy.send(text.as_bytes()).await.unwrap();
            copy.finish().await.unwrap();
            let sql = match strategy {
                Strategy::CopyOnConflict => ON_CONFLICT.replace(
                    "SELECT *, $9::bigint FROM UNNEST($1::text[], $2::text[], \
    $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])",
                    &format!("SELECT *, {now} FROM staging"),
                ),
                _ => merge("staging s", &now.to_string()),
            };
            tx.execute(sql.as_str()).await.unwrap().rows_affected()
        }
    };
    tx.commit().await.unwrap();
    written
}

async fn pass(pool: &PgPool, strategy: Strategy, partitions: &Arc<Vec<Vec<Vec<Row>>>>, now: i64) -> (u64, f64) {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for p in 0..partitions.len() {
        let pool = pool.clone();
        let partitions = Arc::clone(partitions);
        tasks.spawn(async move {
            let mut conn = pool.acquire().await.unwrap();
            let mut written = 0;
            for batch in &partitions[p] {
                written += run_batch(&mut conn, strategy, batch, now).await;
            }
            written
        });
    }
    let mut written = 0;
    while let Some(n) = tasks.join_next().await {
        written += n.unwrap();
    }
    (written, started.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).map(|i| args[i + 1].clone());
    let db = arg("--db").expect("--db");
    let file = arg("--file").expect("--file");
    let limit: usize = arg("--rows").map_or(usize::MAX, |v| v.parse().unwrap());
    let batch: usize = arg("--batch").map_or(5000, |v| v.parse().unwrap());
    let connections: usize = arg("--connections").map_or(2, |v| v.parse().unwrap());

    let mut reader = csv::Reader::from_path(&file).unwrap();
    let mut partitions: Vec<Vec<Vec<Row>>> = vec![vec![Vec::new()]; connections];
    let mut total = 0;
    for record in reader.records().take(limit) {
        let record = record.unwrap();
        let row: Row = std::array::from_fn(|i| Some(record[i].to_owned()).filter(|v| !v.is_empty()));
        let p = (row[0].as_ref().unwrap().bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
            % connections as u64) as usize;
        if partitions[p].last().unwrap().len() == batch {
            partitions[p].push(Vec::new());
        }
        partitions[p].last_mut().unwrap().push(row);
        total += 1;
    }
    for batches in &mut partitions {
        for batch in batches {
            batch.sort_by(|a, b| a[0].cmp(&b[0]));
        }
    }
    let partitions = Arc::new(partitions);
    let pool = PgPoolOptions::new().max_connections(connections as u32).connect(&db).await.unwrap();
    println!("rows={total} batch={batch} connections={connections}");
    for strategy in [Strategy::UnnestOnConflict, Strategy::UnnestMerge, Strategy::CopyOnConflict, Strategy::CopyMerge] {
        pool.execute("DROP TABLE IF EXISTS registry_citizens").await.unwrap();
        pool.execute(TABLE).await.unwrap();
        pool.execute("CHECKPOINT").await.unwrap();
        let (written, fresh) = pass(&pool, strategy, &partitions, 1).await;
        assert_eq!(written, total as u64);
        let (written, again) = pass(&pool, strategy, &partitions, 2).await;
        assert_eq!(written, 0);
        println!(
            "{strategy:?}: fresh {:.0} rows/s ({fresh:.2}s), re-import {:.0} rows/s ({again:.2}s)",
            total as f64 / fresh,
            total as f64 / again
        );
    }
    pool.execute("DROP TABLE IF EXISTS registry_citizens").await.unwrap();
}
