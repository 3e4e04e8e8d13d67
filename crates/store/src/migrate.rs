//! Shared migrations, applied at start-up. Each file under `migrations/` is written once in a portable subset of
//! SQL; the few words the two dialects spell differently are placeholders (`{{ID}}`) that [`Dialect`] fills in.
//! Written by hand rather than with `sqlx::migrate!` because that macro wants one folder per database and
//! would make us keep two copies of every migration in step.

use sha2_free_checksum::checksum;
use sqlx::{Any, Row, Transaction};

use crate::{Dialect, StoreError};

pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "foundation", sql: include_str!("../migrations/0001_foundation.sql") },
    Migration { version: 2, name: "actors", sql: include_str!("../migrations/0002_actors.sql") },
    Migration { version: 3, name: "locks", sql: include_str!("../migrations/0003_locks.sql") },
    Migration { version: 4, name: "automatic_locks", sql: include_str!("../migrations/0004_automatic_locks.sql") },
    Migration { version: 5, name: "restore_sessions", sql: include_str!("../migrations/0005_restore_sessions.sql") },
    Migration { version: 6, name: "session_assurance", sql: include_str!("../migrations/0006_session_assurance.sql") },
    Migration { version: 7, name: "sign_in_sources", sql: include_str!("../migrations/0007_sign_in_sources.sql") },
    Migration { version: 8, name: "claims_and_checks", sql: include_str!("../migrations/0008_claims_and_checks.sql") },
    Migration { version: 9, name: "audit_tree", sql: include_str!("../migrations/0009_audit_tree.sql") },
    Migration {
        version: 10,
        name: "registration_decoys",
        sql: include_str!("../migrations/0010_registration_decoys.sql"),
    },
    Migration { version: 11, name: "purge_indexes", sql: include_str!("../migrations/0011_purge_indexes.sql") },
];

/// Applies every migration not yet recorded, all in one transaction. On PostgreSQL an advisory lock makes
/// concurrent starts of several nodes wait for each other instead of racing.
pub(crate) async fn run(tx: &mut Transaction<'static, Any>, dialect: Dialect) -> Result<usize, StoreError> {
    run_up_to(tx, dialect, i64::MAX).await
}

/// [`run`], stopping after migration `last` (tests of an upgrade start from an older schema).
pub(crate) async fn run_up_to(
    tx: &mut Transaction<'static, Any>,
    dialect: Dialect,
    last: i64,
) -> Result<usize, StoreError> {
    if dialect == Dialect::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(7310012022)").execute(&mut **tx).await?;
    }
    // Asked first rather than `CREATE TABLE IF NOT EXISTS`, on which PostgreSQL sends the notice `relation
    // "schema_migrations" already exists, skipping` at every start, which sqlx logs at info level. (The
    // advisory lock, or SQLite's writer transaction, keeps another node from creating it in between.)
    let exists = match dialect {
        Dialect::Postgres => {
            "SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT to_regclass('schema_migrations') AS t) r \
                              WHERE r.t IS NOT NULL"
        }
        Dialect::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
    };
    let exists: i64 = sqlx::query(exists).fetch_one(&mut **tx).await?.get(0);
    if exists == 0 {
        sqlx::raw_sql(
            "CREATE TABLE schema_migrations (
                 version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut **tx)
        .await?;
    }
    let applied: Vec<(i64, String)> = sqlx::query("SELECT version, checksum FROM schema_migrations")
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(|row| (row.get::<i64, _>(0), row.get::<String, _>(1)))
        .collect();
    let mut count = 0;
    for migration in MIGRATIONS.iter().filter(|m| m.version <= last) {
        let sql = dialect.render(migration.sql);
        let sum = checksum(migration.sql);
        if let Some((_, stored)) = applied.iter().find(|(v, _)| *v == migration.version) {
            if *stored != sum {
                return Err(StoreError::Migration(format!(
                    "migration {} ({}) was changed after it was applied",
                    migration.version, migration.name
                )));
            }
            continue;
        }
        sqlx::raw_sql(&sql).execute(&mut **tx).await?;
        if migration.version == 9 {
            // Data, not schema: the hash chain's entries become the tree's first leaves, once.
            crate::audit::adopt_chain(tx).await?;
        }
        sqlx::query("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)")
            .bind(migration.version)
            .bind(migration.name)
            .bind(sum)
            .bind(crate::time::now_ms())
            .execute(&mut **tx)
            .await?;
        count += 1;
    }
    Ok(count)
}

/// A stable checksum of a migration's text (FNV-1a, 64 bits): enough to notice an edited migration, no crypto
/// needed.
mod sha2_free_checksum {
    pub fn checksum(text: &str) -> String {
        let mut hash: u64 = 0xcbf29ce484222325;
        for byte in text.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x100000001b3);
        }
        format!("{hash:016x}")
    }
}
