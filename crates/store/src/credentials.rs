//! The credential cache: who a bearer token speaks for (an organization's access token, an officer's or a
//! holder's session), the OpenID Connect provider's signing keys, relying parties' registrations, and whether a
//! relying party's access token is live, kept in memory so that the check every request makes needs no database
//! round trip, and dropped by every committed change that could alter the answer.
//!
//! Every [`Tx`](crate::Tx) method that revokes, deletes or changes what a check reads (a holder's sessions
//! ended by a lock or a sign-out, an account's status, an API client revoked with its tokens, an organization
//! suspended, an officer changed or signed out, the signing keys replaced by a rotation, a relying party's
//! registration saved, a grant or access token revoked, a lock placed) marks its transaction
//! with the [`Kind`] it touches. The commit
//! bumps that kind's generation before `COMMIT` and again after it, before the caller hears of the commit; an
//! entry is served only while its kind's generation is still the one read before the entry's row was read. So
//! the request after a committed lock finds no entry for the locked holder's sessions and asks the database,
//! and a check that read the row just before the commit cannot store what it read as current.
//!
//! Other writers are heard as well:
//! - **SQLite**: the generations are counters in a small file beside the database (`<file>-credentials`),
//!   mapped into the memory of every process that opens the database, so a `dinhdanh registry import` placing
//!   automatic locks, or a `dinhdanh keys rotate`, from another process invalidates the server's entries as it
//!   commits; checking costs one load from shared memory. An in-memory database has no other process: its counters are this process's.
//! - **PostgreSQL**: the generations are shared by every [`Store`](crate::Store) of this process on the same
//!   URL; a committing transaction that invalidates also sends `NOTIFY dinhdanh_credentials` (delivered when it
//!   commits), and every node's listener bumps its own generations when the notification arrives, then
//!   acknowledges it; the committing transaction's caller is answered only once every other live node has
//!   acknowledged (`cluster.rs`), so a lock answered by one node is refused by every other on its very next
//!   request. Until the listener is listening, and from the moment it loses its connection until it listens
//!   again, the cache serves nothing.
//!
//! Unknown tokens are never cached (a stranger cannot fill the cache), nor are unknown or dead `jti`s and
//! clients without a registration; expiry is checked on every hit, and a full shelf is emptied rather than grown.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use chrono::{DateTime, Utc};
use dinhdanh_oidc::client::ClientRegistration;

use crate::clients::{AccessTokenOwner, ClientForToken};
use crate::holders::HolderSessionOwner;
use crate::officers::OfficerSessionOwner;
use crate::oidc::{LiveAccessToken, OidcKeyRow};

/// The PostgreSQL channel invalidations are sent on; the payload is the [`Kinds`] bits in decimal.
pub(crate) const CHANNEL: &str = "dinhdanh_credentials";

/// Entries per shelf before the shelf is emptied.
const MAX_ENTRIES: usize = 100_000;

/// The one entry of the signing keys' shelf.
const SIGNING_KEYS: &str = "oidc_keys";

/// What a committed change can make stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Access tokens and the token endpoint's clients: the token rows, the API clients with their
    /// credentials, the clients' organizations, and the relying parties' registrations (`oidc_clients`).
    Organization = 0,
    /// Officers' sessions: the session rows, the officers, and their organizations.
    Officer = 1,
    /// Holders' sessions: the session rows and their accounts.
    Holder = 2,
    /// The OpenID Connect provider's signing keys: the `oidc_keys` rows.
    SigningKeys = 3,
    /// Whether a relying party's access token is live (`Store::oidc_access_token_grant`): what can make a live
    /// one dead — its `jti` or its grant revoked, a lock placed on the account, the account's status changed.
    Grants = 4,
}

const KIND_COUNT: usize = 5;

/// A set of [`Kind`]s, as bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Kinds(u8);

impl Kinds {
    pub(crate) const ALL: Self = Self((1 << KIND_COUNT) - 1);

    pub(crate) fn add(&mut self, kind: Kind) {
        self.0 |= 1 << kind as u8;
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn contains(self, index: usize) -> bool {
        self.0 & (1 << index) != 0
    }

    pub(crate) fn to_payload(self) -> String {
        self.0.to_string()
    }

    /// A payload this module did not write (another version, a person with psql) counts as every kind.
    fn from_payload(payload: &str) -> Self {
        match payload.parse::<u8>() {
            Ok(bits) if bits & !Self::ALL.0 == 0 => Self(bits),
            _ => Self::ALL,
        }
    }
}

/// Where the generations live.
enum Generations {
    Local(Arc<[AtomicU64; KIND_COUNT]>),
    /// Shared with every process that maps the same file.
    Mapped(memmap2::MmapRaw),
}

impl Generations {
    fn counter(&self, index: usize) -> &AtomicU64 {
        match self {
            Self::Local(counters) => &counters[index],
            Self::Mapped(map) => {
                // SAFETY: the mapping is at least KIND_COUNT × 8 bytes long (the file is extended to that size
                // before it is mapped) and page-aligned, so each counter is an aligned u64 inside it; other
                // processes only ever touch these bytes through atomic operations as well, and the mapping
                // lives as long as `self`.
                unsafe { &*(map.as_mut_ptr() as *const AtomicU64).add(index) }
            }
        }
    }
}

/// One shelf of entries, by token hash.
struct Shelf<T> {
    entries: RwLock<HashMap<String, Entry<T>>>,
}

struct Entry<T> {
    generation: u64,
    expires_at: DateTime<Utc>,
    value: T,
}

impl<T: Clone> Shelf<T> {
    fn new() -> Self {
        Self { entries: RwLock::new(HashMap::new()) }
    }

    fn get(&self, token_hash: &str, generation: u64, now: DateTime<Utc>) -> Option<T> {
        let entries = self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = entries.get(token_hash)?;
        (entry.generation == generation && entry.expires_at > now).then(|| entry.value.clone())
    }

    fn put(&self, token_hash: &str, generation: u64, expires_at: DateTime<Utc>, value: T) {
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(token_hash.to_owned(), Entry { generation, expires_at, value });
    }
}

/// The cache of one [`Store`](crate::Store), shared by its clones and its transactions.
pub(crate) struct CredentialCache {
    generations: Generations,
    /// False while invalidations from other writers could be missed (PostgreSQL: the listener is not listening).
    serving: AtomicBool,
    access_tokens: Shelf<AccessTokenOwner>,
    officer_sessions: Shelf<OfficerSessionOwner>,
    holder_sessions: Shelf<HolderSessionOwner>,
    /// The token endpoint's clients (with organization and live credentials), by client id.
    token_clients: Shelf<ClientForToken>,
    /// The signing keys' rows, all of them, as one entry (under [`SIGNING_KEYS`]).
    signing_keys: Shelf<Arc<Vec<OidcKeyRow>>>,
    /// Relying parties' registrations, by client id (the `Organization` kind, as the token endpoint's clients).
    oidc_clients: Shelf<Arc<ClientRegistration>>,
    /// Live access tokens of relying parties (their grant and scopes), by `jti`.
    live_access_tokens: Shelf<Arc<LiveAccessToken>>,
    /// Checks answered from memory, for `/metrics` and for the tests that prove the cache was used.
    hits: AtomicU64,
    /// PostgreSQL: this node among the others, and the acknowledgements its commits wait for.
    pub(crate) cluster: crate::cluster::Cluster,
}

/// A generation read before the row it guards: what [`CredentialCache::put`] stores the row under.
#[derive(Clone, Copy)]
pub(crate) struct Ticket {
    kind: Kind,
    generation: u64,
    serving: bool,
}

impl CredentialCache {
    fn new(generations: Generations, serving: bool) -> Arc<Self> {
        Arc::new(Self {
            generations,
            serving: AtomicBool::new(serving),
            access_tokens: Shelf::new(),
            officer_sessions: Shelf::new(),
            holder_sessions: Shelf::new(),
            token_clients: Shelf::new(),
            signing_keys: Shelf::new(),
            oidc_clients: Shelf::new(),
            live_access_tokens: Shelf::new(),
            hits: AtomicU64::new(0),
            cluster: crate::cluster::Cluster::new(),
        })
    }

    /// For an SQLite database in the file `path` (empty for an in-memory database). When the counters' file
    /// cannot be opened the cache serves nothing: safe, and only slower.
    pub(crate) fn for_sqlite(path: &str) -> Arc<Self> {
        if path.is_empty() {
            return Self::new(Generations::Local(Arc::default()), true);
        }
        let counters = format!("{path}-credentials");
        match map_counters(Path::new(&counters)) {
            Ok(map) => Self::new(Generations::Mapped(map), true),
            Err(error) => {
                tracing::warn!(%error, file = %counters, "the credential cache is off: its counters' file cannot be mapped");
                Self::new(Generations::Local(Arc::default()), false)
            }
        }
    }

    /// For a PostgreSQL database: the generations are those of every store of this process on `url`; nothing
    /// is served until [`CredentialCache::set_listening`] says the listener is listening.
    pub(crate) fn for_postgres(url: &str) -> Arc<Self> {
        static BY_URL: OnceLock<Mutex<HashMap<String, Arc<[AtomicU64; KIND_COUNT]>>>> = OnceLock::new();
        let counters = BY_URL
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(url.to_owned())
            .or_default()
            .clone();
        Self::new(Generations::Local(counters), false)
    }

    /// Whether other writers' invalidations reach this cache; when they may not (or may have been missed),
    /// everything cached so far is dropped.
    pub(crate) fn set_listening(&self, listening: bool) {
        if !listening {
            self.serving.store(false, Ordering::SeqCst);
            self.bump(Kinds::ALL);
        } else {
            self.serving.store(true, Ordering::SeqCst);
        }
    }

    /// Whether other writers' invalidations reach this cache (always on SQLite).
    pub(crate) fn is_serving(&self) -> bool {
        self.serving.load(Ordering::SeqCst)
    }

    /// Makes every entry of these kinds stale.
    pub(crate) fn bump(&self, kinds: Kinds) {
        for index in 0..KIND_COUNT {
            if kinds.contains(index) {
                self.generations.counter(index).fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// An invalidation another writer announced (a PostgreSQL notification's payload).
    pub(crate) fn heard(&self, payload: &str) {
        self.bump(Kinds::from_payload(payload));
    }

    /// Read before reading a row of `kind` from the database.
    pub(crate) fn ticket(&self, kind: Kind) -> Ticket {
        Ticket {
            kind,
            generation: self.generations.counter(kind as usize).load(Ordering::SeqCst),
            serving: self.serving.load(Ordering::SeqCst),
        }
    }

    fn current(&self, kind: Kind) -> Option<u64> {
        self.serving.load(Ordering::SeqCst).then(|| self.generations.counter(kind as usize).load(Ordering::SeqCst))
    }

    pub(crate) fn access_token(&self, token_hash: &str, now: DateTime<Utc>) -> Option<AccessTokenOwner> {
        // The server itself refuses an expired token with the owner in hand; an entry expires with its token.
        self.counted(self.access_tokens.get(token_hash, self.current(Kind::Organization)?, now))
    }

    pub(crate) fn officer_session(&self, token_hash: &str, now: DateTime<Utc>) -> Option<OfficerSessionOwner> {
        self.counted(self.officer_sessions.get(token_hash, self.current(Kind::Officer)?, now))
    }

    pub(crate) fn holder_session(&self, token_hash: &str, now: DateTime<Utc>) -> Option<HolderSessionOwner> {
        self.counted(self.holder_sessions.get(token_hash, self.current(Kind::Holder)?, now))
    }

    pub(crate) fn token_client(&self, client_id: &str) -> Option<ClientForToken> {
        // A client does not expire; it is revoked, which bumps its kind.
        self.counted(self.token_clients.get(client_id, self.current(Kind::Organization)?, DateTime::<Utc>::MIN_UTC))
    }

    pub(crate) fn put_token_client(&self, ticket: Ticket, client_id: &str, found: &ClientForToken) {
        debug_assert_eq!(ticket.kind, Kind::Organization);
        if ticket.serving {
            self.token_clients.put(client_id, ticket.generation, DateTime::<Utc>::MAX_UTC, found.clone());
        }
    }

    /// The signing keys' rows, the very ones stored (so a caller that derived something from them can tell
    /// they are unchanged by their address).
    pub(crate) fn signing_keys(&self) -> Option<Arc<Vec<OidcKeyRow>>> {
        // Keys do not expire by the clock: a rotation or a prune replaces them, which bumps their kind.
        self.counted(self.signing_keys.get(SIGNING_KEYS, self.current(Kind::SigningKeys)?, DateTime::<Utc>::MIN_UTC))
    }

    pub(crate) fn put_signing_keys(&self, ticket: Ticket, rows: &Arc<Vec<OidcKeyRow>>) {
        debug_assert_eq!(ticket.kind, Kind::SigningKeys);
        if ticket.serving {
            self.signing_keys.put(SIGNING_KEYS, ticket.generation, DateTime::<Utc>::MAX_UTC, rows.clone());
        }
    }

    pub(crate) fn oidc_client(&self, client_id: &str) -> Option<Arc<ClientRegistration>> {
        // A registration does not expire; it is replaced, which bumps its kind.
        self.counted(self.oidc_clients.get(client_id, self.current(Kind::Organization)?, DateTime::<Utc>::MIN_UTC))
    }

    pub(crate) fn put_oidc_client(&self, ticket: Ticket, client_id: &str, found: &Arc<ClientRegistration>) {
        debug_assert_eq!(ticket.kind, Kind::Organization);
        if ticket.serving {
            self.oidc_clients.put(client_id, ticket.generation, DateTime::<Utc>::MAX_UTC, found.clone());
        }
    }

    /// A live access token's grant and scopes, while `now` is before the entry's end (see
    /// [`CredentialCache::put_live_access_token`]).
    pub(crate) fn live_access_token(&self, jti: &str, now: DateTime<Utc>) -> Option<Arc<LiveAccessToken>> {
        self.counted(self.live_access_tokens.get(jti, self.current(Kind::Grants)?, now))
    }

    /// Keeps a token found live until `until`: its own expiry, or sooner the moment a lock already stored takes
    /// effect (what the clock alone, with no commit, would make dead).
    pub(crate) fn put_live_access_token(
        &self,
        ticket: Ticket,
        jti: &str,
        until: DateTime<Utc>,
        live: &Arc<LiveAccessToken>,
    ) {
        debug_assert_eq!(ticket.kind, Kind::Grants);
        if ticket.serving {
            self.live_access_tokens.put(jti, ticket.generation, until, live.clone());
        }
    }

    fn counted<T>(&self, hit: Option<T>) -> Option<T> {
        if hit.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub(crate) fn put_access_token(&self, ticket: Ticket, token_hash: &str, owner: &AccessTokenOwner) {
        debug_assert_eq!(ticket.kind, Kind::Organization);
        if ticket.serving {
            self.access_tokens.put(token_hash, ticket.generation, owner.expires_at, owner.clone());
        }
    }

    pub(crate) fn put_officer_session(
        &self,
        ticket: Ticket,
        token_hash: &str,
        expires_at: DateTime<Utc>,
        owner: &OfficerSessionOwner,
    ) {
        debug_assert_eq!(ticket.kind, Kind::Officer);
        if ticket.serving {
            self.officer_sessions.put(token_hash, ticket.generation, expires_at, owner.clone());
        }
    }

    pub(crate) fn put_holder_session(&self, ticket: Ticket, token_hash: &str, owner: &HolderSessionOwner) {
        debug_assert_eq!(ticket.kind, Kind::Holder);
        if ticket.serving {
            self.holder_sessions.put(token_hash, ticket.generation, owner.expires_at, owner.clone());
        }
    }
}

/// Starts hearing other nodes' invalidations on PostgreSQL: returns once the listener is listening (so the
/// cache serves from the first request), and keeps listening in a task of its own. A lost connection makes the
/// cache serve nothing until the listener listens again (whatever was sent meanwhile is missed, so everything
/// cached is dropped).
pub(crate) async fn listen(
    pool: &sqlx::PgPool,
    cache: Arc<CredentialCache>,
) -> Result<tokio::task::AbortHandle, crate::StoreError> {
    async fn listening(pool: &sqlx::PgPool) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen_all([CHANNEL, crate::cluster::ACK_CHANNEL]).await?;
        Ok(listener)
    }
    let mut listener = listening(pool).await?;
    cache.set_listening(true);
    let pool = pool.clone();
    let task = tokio::spawn(async move {
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) if notification.channel() == crate::cluster::ACK_CHANNEL => {
                    cache.cluster.acknowledged(notification.payload());
                }
                Ok(Some(notification)) => {
                    let (bits, ack) = cache.cluster.heard(notification.payload());
                    cache.heard(bits);
                    // Only now that this node's entries are stale may the committing node answer its caller.
                    if let Some(ack) = ack {
                        let sent = sqlx::query("SELECT pg_notify($1, $2)")
                            .bind(crate::cluster::ACK_CHANNEL)
                            .bind(ack)
                            .execute(&mut listener)
                            .await;
                        if let Err(error) = sent {
                            tracing::warn!(%error, "cannot acknowledge another node's invalidation");
                        }
                    }
                }
                // The connection was lost and the listener is listening again on a new one: whatever was sent in
                // between is missed.
                Ok(None) => {
                    cache.set_listening(false);
                    cache.set_listening(true);
                }
                Err(error) => {
                    cache.set_listening(false);
                    tracing::warn!(%error, "the credential cache's listener lost PostgreSQL; the cache serves nothing");
                    loop {
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        if let Ok(again) = listening(&pool).await {
                            listener = again;
                            cache.set_listening(true);
                            break;
                        }
                    }
                }
            }
        }
    });
    Ok(task.abort_handle())
}

/// Opens (creating it if needed) and maps the counters' file of an SQLite database.
fn map_counters(path: &Path) -> std::io::Result<memmap2::MmapRaw> {
    let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
    let size = (KIND_COUNT * size_of::<u64>()) as u64;
    if file.metadata()?.len() < size {
        // Zeros are a valid start for every counter; a concurrent opener extending it too writes the same.
        file.set_len(size)?;
    }
    memmap2::MmapOptions::new().len(size as usize).map_raw(&file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(expires_at: DateTime<Utc>) -> HolderSessionOwner {
        HolderSessionOwner {
            account_id: dinhdanh_domain::AccountId::new("acc".to_owned()),
            assurance: dinhdanh_domain::Level::One,
            account_status: dinhdanh_domain::AccountStatus::Active,
            expires_at,
            restore_only: false,
        }
    }

    #[test]
    fn an_entry_read_before_a_bump_is_not_served_after_it() {
        let cache = CredentialCache::for_sqlite("");
        let now = Utc::now();
        let ticket = cache.ticket(Kind::Holder);
        cache.bump(Kinds::ALL);
        cache.put_holder_session(ticket, "h", &owner(now + chrono::Duration::minutes(5)));
        assert!(cache.holder_session("h", now).is_none());
        let ticket = cache.ticket(Kind::Holder);
        cache.put_holder_session(ticket, "h", &owner(now + chrono::Duration::minutes(5)));
        assert!(cache.holder_session("h", now).is_some());
    }

    #[test]
    fn a_bump_of_one_kind_leaves_the_others() {
        let cache = CredentialCache::for_sqlite("");
        let now = Utc::now();
        let ticket = cache.ticket(Kind::Holder);
        cache.put_holder_session(ticket, "h", &owner(now + chrono::Duration::minutes(5)));
        let mut kinds = Kinds::default();
        kinds.add(Kind::Organization);
        cache.bump(kinds);
        assert!(cache.holder_session("h", now).is_some());
        kinds.add(Kind::Holder);
        cache.heard(&kinds.to_payload());
        assert!(cache.holder_session("h", now).is_none());
    }

    #[test]
    fn expired_entries_are_not_served_and_unknown_payloads_drop_everything() {
        let cache = CredentialCache::for_sqlite("");
        let now = Utc::now();
        cache.put_holder_session(cache.ticket(Kind::Holder), "h", &owner(now));
        assert!(cache.holder_session("h", now).is_none(), "expires_at is not after now");
        cache.put_holder_session(cache.ticket(Kind::Holder), "h", &owner(now + chrono::Duration::seconds(1)));
        assert!(cache.holder_session("h", now).is_some());
        cache.heard("not a number");
        assert!(cache.holder_session("h", now).is_none());
    }

    #[test]
    fn a_cache_that_is_not_listening_serves_nothing() {
        let cache = CredentialCache::for_postgres("postgres://unit-test/none");
        let now = Utc::now();
        cache.put_holder_session(cache.ticket(Kind::Holder), "h", &owner(now + chrono::Duration::minutes(5)));
        assert!(cache.holder_session("h", now).is_none());
        cache.set_listening(true);
        cache.put_holder_session(cache.ticket(Kind::Holder), "h", &owner(now + chrono::Duration::minutes(5)));
        assert!(cache.holder_session("h", now).is_some());
        cache.set_listening(false);
        assert!(cache.holder_session("h", now).is_none());
    }

    #[test]
    fn an_earlier_version_s_shorter_counters_file_is_extended_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.sqlite");
        let counters = dir.path().join("db.sqlite-credentials");
        // Four counters, the first at 7, as the version before the `Grants` kind left it.
        let mut earlier = vec![0u8; 4 * size_of::<u64>()];
        earlier[..8].copy_from_slice(&7u64.to_ne_bytes());
        std::fs::write(&counters, earlier).unwrap();
        let cache = CredentialCache::for_sqlite(db.to_str().unwrap());
        assert_eq!(std::fs::metadata(&counters).unwrap().len(), (KIND_COUNT * size_of::<u64>()) as u64);
        assert_eq!(cache.ticket(Kind::Organization).generation, 7);
        assert_eq!(cache.ticket(Kind::Grants).generation, 0);
        assert!(cache.ticket(Kind::Grants).serving);
    }

    #[test]
    fn two_mappings_of_one_file_share_their_counters() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.sqlite");
        let path = db.to_str().unwrap();
        let (a, b) = (CredentialCache::for_sqlite(path), CredentialCache::for_sqlite(path));
        let now = Utc::now();
        a.put_holder_session(a.ticket(Kind::Holder), "h", &owner(now + chrono::Duration::minutes(5)));
        assert!(a.holder_session("h", now).is_some());
        let mut kinds = Kinds::default();
        kinds.add(Kind::Holder);
        b.bump(kinds);
        assert!(a.holder_session("h", now).is_none(), "b's bump reached a through the shared file");
    }
}
