//! Storage for dinhdanh: one [`Store`] over SQLite (the embedded default) and PostgreSQL (production), with
//! shared migrations applied at start-up. Nothing above this crate writes SQL.
//!
//! Both backends run the same SQL through sqlx's `Any` driver: the schema keeps to portable types (TEXT,
//! BIGINT, instants as Unix milliseconds), and placeholders are `$1, $2, …`, which both databases accept.
//! Where the dialects really differ — the auto-increment key and the CHECK constraints in migrations (triggers on
//! SQLite, see `migrate/check.rs`), and the bulk registry upsert, which on PostgreSQL sends whole columns as
//! arrays — the [`Dialect`] picks the form.
//!
//! Every state change runs in one [`Tx`]. On SQLite, which has a single writer, write transactions of this
//! process queue on a mutex instead of failing with `SQLITE_BUSY`; other processes wait on `busy_timeout`.
//!
//! # Lock order
//!
//! A transaction that holds several rows (the `lock_*` and `hold_*` methods, and the rows an `UPDATE` touches)
//! takes them in this one order, so that no two transactions wait on each other in a cycle on PostgreSQL:
//!
//! 1. organization, then officer, then API client rows (administration);
//! 2. e-ID accounts, several at once in ascending id order ([`Tx::hold_accounts`]);
//! 3. the request about them (read without holding it first when its account must be found: see `cancel`);
//! 4. what hangs off those: locks, lifts, holder sessions, targets, outbox messages, idempotency keys;
//! 5. the audit head, at commit, always last.
//!
//! A race that can still be lost (a deadlock outside that order, a serialization failure, a busy file held by
//! another process) is run again by [`Store::retrying`], never answered as an error.

mod accounts;
mod audit;
mod automatic;
mod biometrics;
mod bulk;
mod clients;
mod cluster;
mod credentials;
mod decoys;
mod events;
mod group;
mod holders;
mod jobs;
mod locks;
mod migrate;
mod officers;
mod oidc;
mod organizations;
mod outbox;
mod purge;
mod registry;
mod requests;
mod retry;
mod ssf;
pub mod testing;
pub mod time;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor, PgPool, Transaction};
use thiserror::Error;
use tokio::sync::{Mutex, OwnedMutexGuard};

pub use accounts::ActivationCodeRow;
pub use audit::{
    AuditEntry, AuditProblem, AuditRecord, AuditReport, CheckpointError, CheckpointSigner, CheckpointVerifier,
    StoredCheckpoint, TreeHead, merkle,
};
pub use automatic::AutomaticCandidate;
pub use biometrics::NewBiometricCheck;
pub use bulk::{AccountBrief, BulkApplied, BulkEffect, CHUNK as BULK_CHUNK, LockedEntry, NewNotice, RequestTarget};
pub use clients::{AccessTokenOwner, ClientForToken, NewAccessToken};
pub use decoys::Decoy;
pub use events::AccountEvent;
pub use group::{GroupCommit, GroupError, GroupWork, group_commit_totals};
pub use holders::{HolderSessionOwner, HolderSignInAttempt, NewHolderSignIn};
pub use jobs::{JobClaim, STALE as STALE_JOB_RUN, ScheduledJobRow};
pub use officers::OfficerSessionOwner;
pub use oidc::{
    OidcInteraction, OidcKeyRow, OidcSignIn, ProviderSessionRow, SUBJECT_SALT as OIDC_SUBJECT_SALT, StoredCode,
};
pub use outbox::{NewMessage, OutboxMessage, OutboxStatus};
pub use purge::Expired;
pub use registry::UpsertOutcome;
pub use requests::{QueueFilter, StoredResponse};
pub use retry::{ATTEMPTS, Transient};
pub use ssf::{DeadEvent, PushHead, QueuedEvent, QueuedForStream, StoredStream, StreamBacklog};

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("the database URL is not supported: {0} (use sqlite://PATH or postgres://...)")]
    UnsupportedUrl(String),
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// Maps a unique-constraint violation to [`StoreError::Conflict`], anything else to `Database`.
    pub(crate) fn conflict_or(err: sqlx::Error, what: &'static str) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict(what),
            _ => Self::Database(err),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(url.split(':').next().unwrap_or_default().to_owned()))
        }
    }

    /// Fills the placeholders of a shared migration.
    pub(crate) fn render(self, sql: &str) -> String {
        let id = match self {
            Self::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
            Self::Postgres => "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        };
        sql.replace("{{ID}}", id)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    /// PostgreSQL only: a native pool for what `Any` cannot express (array parameters for bulk upserts).
    pg: Option<PgPool>,
    /// SQLite only: serialises this process's write transactions.
    write_lock: Option<Arc<Mutex<()>>>,
    /// Transactions run again by [`Store::retrying`].
    retries: Arc<std::sync::atomic::AtomicU64>,
    /// Who bearer tokens speak for, and the signing keys, dropped by the commits that change them (`credentials.rs`).
    credentials: Arc<credentials::CredentialCache>,
    /// PostgreSQL only: the task that hears other nodes' invalidations; stopped by [`Store::close`].
    listener: Option<Arc<tokio::task::AbortHandle>>,
    /// PostgreSQL only: the task that tells the other nodes this one is alive (`cluster.rs`).
    heartbeat: Option<Arc<tokio::task::AbortHandle>>,
}

/// Wakes this node's event delivery after a committed transaction that wrote to the accounts' event feed, so a
/// lock's events leave without waiting for the next tick ([`Store::account_events_committed`]).
fn account_events_committed(credentials: &credentials::CredentialCache, wrote: bool) {
    if wrote {
        credentials.cluster.account_events.notify_one();
    }
}

/// A point inside a [`Tx`] to go back to ([`Tx::savepoint`]).
#[must_use]
pub struct Savepoint {
    audit_len: usize,
}

/// One database transaction. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    pub(crate) inner: Transaction<'static, Any>,
    _write_guard: Option<OwnedMutexGuard<()>>,
    /// Audit entries of this transaction, appended to the tree at commit.
    pending_audit: Vec<audit::AuditEntry>,
    /// What this transaction's changes make stale in the credential cache, made so at commit.
    invalidates: credentials::Kinds,
    credentials: Arc<credentials::CredentialCache>,
    /// Whether this transaction wrote to the accounts' event feed: its commit wakes this node's delivery.
    wrote_account_events: bool,
}

impl Tx {
    pub async fn commit(mut self) -> Result<(), StoreError> {
        let entries = std::mem::take(&mut self.pending_audit);
        audit::append_leaves(&mut self.inner, &entries).await?;
        let kinds = self.invalidates;
        if kinds.is_empty() {
            self.inner.commit().await?;
            account_events_committed(&self.credentials, self.wrote_account_events);
            return Ok(());
        }
        let mut announcement = None;
        if self.inner.backend_name().eq_ignore_ascii_case("postgresql") {
            // Delivered to every listening node when, and only if, this transaction commits; the live ones
            // acknowledge it once they have dropped what it makes stale (`cluster.rs`).
            let peers = cluster::peers(&mut self.inner, self.credentials.cluster.node()).await?;
            let announced = self.credentials.cluster.announce(&kinds.to_payload(), peers);
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(credentials::CHANNEL)
                .bind(&announced.payload)
                .execute(&mut *self.inner)
                .await?;
            announcement = Some(announced);
        }
        // Before COMMIT, so that what a check reads from here on is stored under a generation the second bump
        // makes stale; after it (whatever COMMIT answered: it may have committed), before the caller is told.
        self.credentials.bump(kinds);
        let committed = self.inner.commit().await;
        self.credentials.bump(kinds);
        if let Some(announcement) = announcement {
            match &committed {
                // The caller hears of the commit once every other node has stopped serving what it changed.
                Ok(()) => self.credentials.cluster.wait(announcement).await,
                Err(_) => self.credentials.cluster.forget(&announcement),
            }
        }
        committed?;
        account_events_committed(&self.credentials, self.wrote_account_events);
        Ok(())
    }

    /// Marks a point this transaction can go back to, for a batch whose inputs may fail one by one (a group
    /// commit): [`Tx::release_savepoint`] keeps what was done since, [`Tx::rollback_to_savepoint`] undoes it,
    /// audit entries included. One at a time.
    pub async fn savepoint(&mut self) -> Result<Savepoint, StoreError> {
        sqlx::query("SAVEPOINT batch_input").execute(&mut *self.inner).await?;
        Ok(Savepoint { audit_len: self.pending_audit.len() })
    }

    pub async fn release_savepoint(&mut self, _savepoint: Savepoint) -> Result<(), StoreError> {
        sqlx::query("RELEASE SAVEPOINT batch_input").execute(&mut *self.inner).await?;
        Ok(())
    }

    pub async fn rollback_to_savepoint(&mut self, savepoint: Savepoint) -> Result<(), StoreError> {
        sqlx::query("ROLLBACK TO SAVEPOINT batch_input").execute(&mut *self.inner).await?;
        sqlx::query("RELEASE SAVEPOINT batch_input").execute(&mut *self.inner).await?;
        self.pending_audit.truncate(savepoint.audit_len);
        Ok(())
    }

    /// Marks this transaction as changing what the credential checks of `kind` read.
    pub(crate) fn invalidates(&mut self, kind: credentials::Kind) {
        self.invalidates.add(kind);
    }
}

impl Store {
    /// Connects to `sqlite://PATH` (the file is created if missing) or `postgres://...`, and applies pending
    /// migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::from_url(url)?;
        let url = match dialect {
            Dialect::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool_options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        let pool = match dialect {
            Dialect::Sqlite => {
                pool_options
                    .max_connections(8)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // WAL lets readers go on while one writer commits; NORMAL is durable in WAL mode
                            // except for the last transactions before a power cut, never corrupting.
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
            Dialect::Postgres => pool_options.max_connections(16).connect_with(options).await?,
        };
        let pg = match dialect {
            Dialect::Postgres => Some(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(&url)
                    .await?,
            ),
            Dialect::Sqlite => None,
        };
        let write_lock = (dialect == Dialect::Sqlite).then(|| Arc::new(Mutex::new(())));
        let (credentials, listener) = match &pg {
            None => {
                // The file SQLite opened (empty for an in-memory database), whatever form the URL took.
                let file: String = sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                    .fetch_one(&pool)
                    .await?;
                (credentials::CredentialCache::for_sqlite(&file), None)
            }
            Some(pg) => {
                let cache = credentials::CredentialCache::for_postgres(&url);
                let listener = credentials::listen(pg, cache.clone()).await?;
                (cache, Some(Arc::new(listener)))
            }
        };
        let mut store =
            Self { pool, dialect, pg, write_lock, retries: Default::default(), credentials, listener, heartbeat: None };
        let mut tx = store.begin().await?;
        migrate::run(&mut tx.inner, dialect).await?;
        tx.commit().await?;
        if let Some(pg) = &store.pg {
            // Listening already: from this row on, the other nodes' commits wait for this node's acknowledgement.
            cluster::beat(pg, store.credentials.cluster.node()).await?;
            store.heartbeat = Some(Arc::new(cluster::heartbeat(pg.clone(), store.credentials.clone())));
        }
        Ok(store)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Starts a transaction for a state change.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        // sqlx's `begin` is not cancel-safe: a caller dropped while BEGIN is in flight (a client that hangs up, a
        // timeout) can leave the pooled connection inside a transaction nothing will end; on SQLite that
        // transaction holds the file's write lock, and every later write waits for it for good. So BEGIN runs in
        // a task of its own, to completion: if the caller is gone by then, the transaction it returns is dropped,
        // which rolls it back and hands the connection back clean.
        let store = self.clone();
        match tokio::spawn(async move { store.begin_to_completion().await }).await {
            Ok(begun) => begun,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Only when the runtime is shutting down.
            Err(_) => Err(StoreError::Database(sqlx::Error::PoolClosed)),
        }
    }

    async fn begin_to_completion(&self) -> Result<Tx, StoreError> {
        let guard = match &self.write_lock {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        // On SQLite a transaction begun DEFERRED that writes after reading must upgrade its lock, and when another
        // connection (another Store in the same file, or another process) has committed in between, SQLite answers
        // SQLITE_BUSY at once, without waiting out the busy timeout. Beginning as a writer waits at BEGIN instead.
        let inner = match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        };
        Ok(Tx {
            inner,
            _write_guard: guard,
            pending_audit: Vec::new(),
            invalidates: Default::default(),
            credentials: self.credentials.clone(),
            wrote_account_events: false,
        })
    }

    /// How many bearer-token checks this store answered from memory since it was opened (`/metrics`).
    pub fn credential_cache_hits(&self) -> u64 {
        self.credentials.hits()
    }

    /// Resolves when a transaction of this store (or of a clone) that wrote to the accounts' event feed has
    /// committed since the last time it resolved: what the event delivery waits for between its ticks.
    pub async fn account_events_committed(&self) {
        self.credentials.cluster.account_events.notified().await
    }

    /// Invalidations that some other live node did not acknowledge in time (`cluster.rs`), for `/metrics`.
    pub fn unacknowledged_invalidations(&self) -> u64 {
        self.credentials.cluster.unacknowledged()
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        if let Some(heartbeat) = &self.heartbeat {
            heartbeat.abort();
        }
        if let Some(pg) = &self.pg {
            cluster::leave(pg, self.credentials.cluster.node()).await;
        }
        if let Some(listener) = &self.listener {
            listener.abort();
        }
        self.pool.close().await;
        if let Some(pg) = &self.pg {
            pg.close().await;
        }
    }
}
