//! The nodes of a PostgreSQL deployment, and the wait that makes an invalidation reach all of them before the
//! commit that made it is answered (issue 17, docs/scaling.md "Several nodes").
//!
//! A `NOTIFY` is delivered to the other nodes when its transaction commits, but each node hears it when its
//! listener task next runs: a request that reaches node B just after node A answered a lock could otherwise
//! find B's memory still serving the locked holder's session or token. So a commit that invalidates waits,
//! after `COMMIT` and before its caller is told, until every other live node has acknowledged the
//! notification, which a node does only after it has dropped the entries concerned ([`Cluster::heard`]). A
//! node is live while its listener listens: it writes `cluster_nodes.seen_at` every [`HEARTBEAT`] (PostgreSQL's
//! clock, so the nodes' clocks do not matter) and is waited for until [`PEER_TTL_MS`] after it last did.
//! A node that does not answer within [`ACK_WAIT`] (it died, or lost PostgreSQL, in which case its cache
//! already serves nothing) is reported and not waited for again until it writes a new heartbeat (a node that
//! died without leaving holds one commit, not every commit until its row ages out); a single node never waits.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::oneshot;

/// The acknowledgements' channel; the payload is `"<origin> <seq> <acker>"`.
pub(crate) const ACK_CHANNEL: &str = "dinhdanh_credentials_ack";
/// How long a commit waits for the other nodes to acknowledge its invalidation.
pub const ACK_WAIT: Duration = Duration::from_secs(2);
/// How often a listening node says it is alive.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(1);
/// A node not seen for this long is not waited for.
pub(crate) const PEER_TTL_MS: i64 = 5_000;

/// This node (one per [`Store`](crate::Store)) and the acknowledgements its commits wait for.
pub(crate) struct Cluster {
    node: String,
    next_seq: AtomicU64,
    waiting: Mutex<HashMap<u64, Waiter>>,
    /// Invalidations some live node did not acknowledge in time, for `/metrics`.
    unacknowledged: AtomicU64,
    /// Peers that did not acknowledge in time, with the heartbeat they had then: not waited for again until they
    /// beat anew (a node killed without leaving would otherwise hold every commit for [`ACK_WAIT`] until its row
    /// ages out).
    given_up: Mutex<HashMap<String, i64>>,
    /// Signalled when this node commits to the accounts' event feed (a permit is kept if nobody waits).
    pub(crate) account_events: tokio::sync::Notify,
}

struct Waiter {
    pending: HashSet<String>,
    /// Each peer's last heartbeat when the announcement was made.
    seen: HashMap<String, i64>,
    done: Option<oneshot::Sender<()>>,
}

/// What a commit announces, and the acknowledgements it then waits for.
pub(crate) struct Announcement {
    pub(crate) payload: String,
    wait: Option<(u64, oneshot::Receiver<()>)>,
}

impl Cluster {
    pub(crate) fn new() -> Self {
        Self {
            node: format!("{:016x}", rand::random::<u64>()),
            next_seq: AtomicU64::new(1),
            waiting: Mutex::new(HashMap::new()),
            unacknowledged: AtomicU64::new(0),
            given_up: Mutex::new(HashMap::new()),
            account_events: tokio::sync::Notify::new(),
        }
    }

    pub(crate) fn node(&self) -> &str {
        &self.node
    }

    /// The notification of an invalidation of `kinds` (their bits), to be acknowledged by `peers`, the other
    /// live nodes with their last heartbeat. Made before the notification is sent, so that no acknowledgement can
    /// come before its waiter. A peer given up on is left out until it beats again.
    pub(crate) fn announce(&self, bits: &str, peers: Vec<(String, i64)>) -> Announcement {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let payload = format!("{bits} {} {seq}", self.node);
        let peers: Vec<(String, i64)> = {
            let mut given_up = self.given_up.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            // Forget those that beat since, or left.
            given_up.retain(|node, seen| peers.iter().any(|(n, s)| n == node && s == seen));
            peers.into_iter().filter(|(node, _)| !given_up.contains_key(node)).collect()
        };
        if peers.is_empty() {
            return Announcement { payload, wait: None };
        }
        let (done, receiver) = oneshot::channel();
        let waiter = Waiter {
            pending: peers.iter().map(|(node, _)| node.clone()).collect(),
            seen: peers.into_iter().collect(),
            done: Some(done),
        };
        self.lock_waiting().insert(seq, waiter);
        Announcement { payload, wait: Some((seq, receiver)) }
    }

    /// Waits until every peer acknowledged the announcement, or [`ACK_WAIT`] passed.
    pub(crate) async fn wait(&self, announcement: Announcement) {
        let Some((seq, receiver)) = announcement.wait else { return };
        if tokio::time::timeout(ACK_WAIT, receiver).await.is_err() {
            let Some(waiter) = self.lock_waiting().remove(&seq) else { return };
            let mut given_up = self.given_up.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            for node in &waiter.pending {
                given_up.insert(node.clone(), waiter.seen.get(node).copied().unwrap_or_default());
            }
            self.unacknowledged.fetch_add(1, Ordering::Relaxed);
            let missing = waiter.pending.len();
            tracing::warn!(missing, "other nodes did not acknowledge an invalidation in time; they may be down");
        }
    }

    /// The announcement's transaction did not commit: nobody needs to be waited for.
    pub(crate) fn forget(&self, announcement: &Announcement) {
        if let Some((seq, _)) = &announcement.wait {
            self.lock_waiting().remove(seq);
        }
    }

    /// Another node's notification: the bits to bump, and, once they are bumped, the acknowledgement to send
    /// (`None` for this node's own notifications). A payload of bits alone (an older node, a person with psql)
    /// is bumped and not acknowledged.
    pub(crate) fn heard<'a>(&self, payload: &'a str) -> (&'a str, Option<String>) {
        let mut parts = payload.split(' ');
        let bits = parts.next().unwrap_or_default();
        match (parts.next(), parts.next()) {
            (Some(origin), Some(_)) if origin == self.node => (bits, None),
            (Some(origin), Some(seq)) => (bits, Some(format!("{origin} {seq} {}", self.node))),
            _ => (bits, None),
        }
    }

    /// An acknowledgement on [`ACK_CHANNEL`]: counted if it answers one of this node's announcements.
    pub(crate) fn acknowledged(&self, payload: &str) {
        let mut parts = payload.split(' ');
        let (Some(origin), Some(seq), Some(acker)) = (parts.next(), parts.next(), parts.next()) else { return };
        if origin != self.node {
            return;
        }
        let Ok(seq) = seq.parse::<u64>() else { return };
        let mut waiting = self.lock_waiting();
        if let Some(waiter) = waiting.get_mut(&seq) {
            waiter.pending.remove(acker);
            if waiter.pending.is_empty() {
                if let Some(done) = waiter.done.take() {
                    let _ = done.send(());
                }
                waiting.remove(&seq);
            }
        }
    }

    pub(crate) fn unacknowledged(&self) -> u64 {
        self.unacknowledged.load(Ordering::Relaxed)
    }

    fn lock_waiting(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Waiter>> {
        self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// PostgreSQL's clock in Unix milliseconds, as the nodes' rows are written and read.
pub(crate) const DB_NOW_MS: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";

/// Writes that node `node` is alive, by PostgreSQL's clock.
pub(crate) async fn beat(pool: &sqlx::PgPool, node: &str) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO cluster_nodes (node, seen_at) VALUES ($1, {DB_NOW_MS}) \
         ON CONFLICT (node) DO UPDATE SET seen_at = excluded.seen_at"
    ))
    .bind(node)
    .execute(pool)
    .await?;
    Ok(())
}

/// Says every [`HEARTBEAT`] that this node is alive, while its listener listens (a node that cannot hear the
/// others' invalidations serves nothing from memory and need not be waited for); forgets nodes gone for a day.
pub(crate) fn heartbeat(
    pool: sqlx::PgPool,
    cache: std::sync::Arc<crate::credentials::CredentialCache>,
) -> tokio::task::AbortHandle {
    let task = tokio::spawn(async move {
        loop {
            tokio::time::sleep(HEARTBEAT).await;
            if !cache.is_serving() {
                continue;
            }
            if let Err(error) = beat(&pool, cache.cluster.node()).await {
                tracing::warn!(%error, "cannot tell the other nodes this one is alive");
            }
            let forget = format!("DELETE FROM cluster_nodes WHERE seen_at < {DB_NOW_MS} - 86400000");
            let _ = sqlx::query(&forget).execute(&pool).await;
        }
    });
    task.abort_handle()
}

/// The other live nodes with their last heartbeat, read inside the committing transaction.
pub(crate) async fn peers(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    node: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT node, seen_at FROM cluster_nodes WHERE node <> $1 AND seen_at > {DB_NOW_MS} - {PEER_TTL_MS}"
    ))
    .bind(node)
    .fetch_all(&mut **tx)
    .await
}

/// The node stops: the others no longer wait for it.
pub(crate) async fn leave(pool: &sqlx::PgPool, node: &str) {
    let _ = sqlx::query("DELETE FROM cluster_nodes WHERE node = $1").bind(node).execute(pool).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_commit_waits_for_every_peer_and_only_for_its_own_announcement() {
        let (a, b, c) = (Cluster::new(), Cluster::new(), Cluster::new());
        let announcement = a.announce("4", vec![(b.node().to_owned(), 1), (c.node().to_owned(), 1)]);
        // Each peer bumps, then acknowledges; the origin ignores its own notification.
        assert_eq!(a.heard(&announcement.payload), ("4", None));
        let (bits, ack_b) = b.heard(&announcement.payload);
        assert_eq!(bits, "4");
        a.acknowledged(&ack_b.unwrap());
        // Another node's acknowledgement of another announcement changes nothing.
        a.acknowledged(&format!("{} 999 {}", a.node(), c.node()));
        assert_eq!(a.lock_waiting().len(), 1, "still waiting for c");
        a.acknowledged(&c.heard(&announcement.payload).1.unwrap());
        a.wait(announcement).await;
        assert_eq!(a.unacknowledged(), 0);
        assert!(a.lock_waiting().is_empty());
        // Bits alone (an older node): bumped, not acknowledged.
        assert_eq!(b.heard("31"), ("31", None));
    }

    #[tokio::test]
    async fn a_peer_that_never_answers_is_given_up_on_until_it_beats_again() {
        let (a, b) = (Cluster::new(), Cluster::new());
        let announcement = a.announce("1", vec![(b.node().to_owned(), 7)]);
        a.wait(announcement).await;
        assert_eq!(a.unacknowledged(), 1);
        assert!(a.lock_waiting().is_empty());
        // Still at the heartbeat it had when it fell silent: not waited for again.
        let next = a.announce("1", vec![(b.node().to_owned(), 7)]);
        assert!(next.wait.is_none(), "a silent node holds one commit, not every one");
        // It beats again: waited for again.
        let after = a.announce("1", vec![(b.node().to_owned(), 8)]);
        assert!(after.wait.is_some());
        a.acknowledged(&b.heard(&after.payload).1.unwrap());
        a.wait(after).await;
        assert_eq!(a.unacknowledged(), 1);
        // No peer: nothing to wait for.
        let alone = a.announce("1", Vec::new());
        assert!(alone.wait.is_none());
    }
}
