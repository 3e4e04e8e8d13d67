//! Idempotency keys: an operation retried with the same `Idempotency-Key` (the answer was lost, the client
//! retried) has its effect once and gets the first answer; the same key for a different request is a conflict.
//! Keys are scoped to the caller and stored in the operation's own transaction.

use chrono::{DateTime, Utc};
use dinhdanh_domain::request::Request;
use dinhdanh_store::{StoreError, StoredResponse, Tx};

use crate::AppState;
use crate::problem::ApiError;

/// An `Idempotency-Key` with the fingerprint of the request it came with, scoped to the caller.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub scope: String,
    pub key: String,
    pub fingerprint: String,
}

/// Returns the request a retried operation produced the first time, if this key was seen; refuses a key reused
/// for a different request. Runs inside the transaction that holds the account, so retries queue behind it.
pub(super) async fn replayed(tx: &mut Tx, idempotency: Option<&Idempotency>) -> Result<Option<String>, ApiError> {
    let Some(k) = idempotency else { return Ok(None) };
    replay_of(k, tx.idempotent_response(&k.scope, &k.key).await?)
}

/// [`replayed`] before any transaction: an operation retried after it was done is answered without taking locks.
pub(crate) async fn replayed_outside(
    state: &AppState,
    idempotency: Option<&Idempotency>,
) -> Result<Option<String>, ApiError> {
    let Some(k) = idempotency else { return Ok(None) };
    replay_of(k, state.store.idempotent_response(&k.scope, &k.key).await?)
}

fn replay_of(k: &Idempotency, stored: Option<StoredResponse>) -> Result<Option<String>, ApiError> {
    match stored {
        None => Ok(None),
        Some(stored) if stored.request_hash == k.fingerprint => Ok(Some(stored.response)),
        Some(_) => Err(ApiError::Conflict { what: "this Idempotency-Key was used for a different request".to_owned() }),
    }
}

/// Records the answer under the key, in the operation's transaction, after the effect: callers that hold the
/// account make concurrent retries queue behind them and find it with [`replayed`].
pub(super) async fn remember(
    tx: &mut Tx,
    idempotency: Option<&Idempotency>,
    status: i64,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let Some(k) = idempotency else { return Ok(()) };
    let stored = StoredResponse { request_hash: k.fingerprint.clone(), status, response: request_id.to_owned() };
    tx.store_idempotent_response(&k.scope, &k.key, &stored, now).await?;
    Ok(())
}

/// Looks a replayed request up (outside the transaction that found it).
pub(super) async fn load(state: &AppState, request_id: &str) -> Result<Request, ApiError> {
    state.store.request(request_id).await?.ok_or_else(|| ApiError::internal("idempotency key names a missing request"))
}

/// Who holds an idempotency key claimed with [`claim_first`].
pub(crate) enum Claim {
    /// This attempt: go on in the transaction.
    Ours(Tx),
    /// An earlier (or concurrent) attempt, which made this request.
    Theirs(String),
}

/// Records the key first thing in `tx`, for an operation that holds no row a retry would wait on (a bulk order
/// names no single account): a concurrent retry with the same key waits on the key's primary key, then fails,
/// gives its transaction (and connection) back, and reads what the first attempt made.
pub(crate) async fn claim_first(
    state: &AppState,
    mut tx: Tx,
    idempotency: Option<&Idempotency>,
    status: i64,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<Claim, ApiError> {
    let Some(k) = idempotency else { return Ok(Claim::Ours(tx)) };
    let stored = StoredResponse { request_hash: k.fingerprint.clone(), status, response: request_id.to_owned() };
    match tx.store_idempotent_response(&k.scope, &k.key, &stored, now).await {
        Ok(()) => Ok(Claim::Ours(tx)),
        Err(StoreError::Conflict(_)) => {
            drop(tx);
            let first = replayed_outside(state, idempotency).await?;
            Ok(Claim::Theirs(first.ok_or_else(|| ApiError::internal("idempotency key vanished"))?))
        }
        Err(e) => Err(e.into()),
    }
}
