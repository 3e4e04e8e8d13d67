//! Fresh, isolated databases for tests, on both backends: a temporary SQLite file, or a new schema in the
//! PostgreSQL server named by `DINHDANH_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`).
//! A PostgreSQL server that cannot be reached fails the test: the suite never skips the production backend.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;

use crate::{Dialect, Store};

pub const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn postgres_url() -> String {
    std::env::var("DINHDANH_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_owned())
}

/// A database that exists for one test; dropped, it removes its file or schema.
pub struct TestDb {
    pub url: String,
    pub dialect: Dialect,
    _dir: Option<tempfile::TempDir>,
    schema: Option<String>,
}

impl TestDb {
    pub async fn new(dialect: Dialect) -> Self {
        match dialect {
            Dialect::Sqlite => Self::sqlite(),
            Dialect::Postgres => Self::postgres().await,
        }
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        Self { url, dialect: Dialect::Sqlite, _dir: Some(dir), schema: None }
    }

    pub async fn postgres() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let base = postgres_url();
        let schema = format!(
            "t_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
        );
        let mut conn = sqlx::PgConnection::connect(&base).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at {base} is required by the test suite (set DINHDANH_TEST_POSTGRES_URL): {e}")
        });
        sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut conn).await.expect("create test schema");
        conn.close().await.ok();
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        Self { url, dialect: Dialect::Postgres, _dir: None, schema: Some(schema) }
    }

    pub async fn store(&self) -> Store {
        Store::connect(&self.url).await.expect("connect to test database")
    }

    /// Runs `sql` by hand, as a person with a SQL shell would: behind every store's back, so no transaction marks
    /// it and what the stores keep in memory does not see it (the tests that prove an answer came from memory).
    pub async fn execute_by_hand(&self, sql: &str) {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.url).await.expect("connect to test database");
        sqlx::query(sql).execute(&pool).await.expect("the SQL run by hand");
        pool.close().await;
    }

    /// Applies the migrations up to `version` only, as an older dinhdanh left the database, and returns a pool on
    /// it (to write what that version wrote; the next [`TestDb::store`] upgrades it).
    pub async fn at_version(&self, version: i64) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        let url = match self.dialect {
            Dialect::Sqlite => format!("{}?mode=rwc", self.url),
            Dialect::Postgres => self.url.clone(),
        };
        let pool = sqlx::AnyPool::connect(&url).await.expect("connect to test database");
        let mut tx = pool.begin().await.expect("begin");
        crate::migrate::run_up_to(&mut tx, self.dialect, version).await.expect("older migrations");
        tx.commit().await.expect("commit");
        pool
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(schema) = self.schema.take() else { return };
        // Drop runs inside the test's runtime, which cannot block on itself: clean up from a thread of its own.
        let handle = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_url()).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).execute(&mut conn).await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = handle.join();
    }
}

/// Runs an async test body once on SQLite and once on PostgreSQL, as two `#[tokio::test]`s.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident($db:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                async fn run($db: $crate::testing::TestDb) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run($crate::testing::TestDb::new($crate::Dialect::Sqlite).await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    run($crate::testing::TestDb::new($crate::Dialect::Postgres).await).await
                }
            }
        )*
    };
}
