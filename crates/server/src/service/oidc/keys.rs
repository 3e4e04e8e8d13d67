//! The provider's signing keys as the server keeps them (docs/oidc.md "Signing keys and rotation"). The rules —
//! states, rotation, pruning, the JWKS — are `dinhdanh_oidc::keys`'; this module stores them.
//!
//! **At rest** every private key is sealed ([`crate::sealing`]) under the OpenID Connect seal key of the
//! configuration (`[oidc] key_seal_file`, `DINHDANH_OIDC_SEAL_KEY`), never a key from the database, with
//! `oidc_keys:` + its `kid` as associated data, so that a sealed key copied onto another row does not open. A row
//! from before keys were sealed (base64 of the PKCS#8 DER) still opens as it is, and [`ensure_keys`], which every
//! node runs before it serves, seals such rows. A node whose seal key does not open the stored keys stops there
//! with an error naming the setting; it never makes a new key set over keys it cannot read.
//!
//! **In memory** each node keeps the key set it opened ([`key_set`]) for as long as the store's credential cache
//! keeps the rows it opened it from: until the commit of any change of the keys, by this node, another node or
//! `dinhdanh keys rotate` in another process, which every change makes through
//! [`dinhdanh_store::Tx::replace_oidc_keys`] (on PostgreSQL another node hears of it within a notification's
//! trip; until it does it signs with the key that has just retired, which is still published and verifies).
//!
//! Every change of the key set (the first set, sealing, a rotation, a prune) is one transaction that holds the
//! keys row ([`dinhdanh_store::Tx::hold_oidc_keys`]) and reads the keys again inside it, so that two nodes, or a
//! node and `dinhdanh keys rotate`, make one change, not two. Rotations come from the command, and from every
//! node's scheduled check ([`rotate_and_prune_when_due`], `[oidc] rotate_every_days`), which also prunes the
//! retired keys whose last token has expired.

use std::sync::{Arc, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use dinhdanh_oidc::keys::{KeyError, KeySet, Rotation, StoredKey};
use dinhdanh_oidc::subject::SubjectSalt;
use dinhdanh_oidc::tokens::Lifetimes;
use dinhdanh_store::{AuditEntry, OIDC_SUBJECT_SALT, OidcKeyRow, Store, Tx};
use serde_json::json;

use crate::AppState;
use crate::problem::ApiError;
use crate::sealing::{SealingError, SealingKey, is_sealed};

/// Put before the `kid` in the associated data of a sealed signing key: a sealed key opens only in its own row,
/// and no other kind of sealed secret (an officer's TOTP secret, under the same key if an operator chose one
/// key for both) can pass for one.
const ASSOCIATED_DATA_PREFIX: &str = "oidc_keys:";

/// Why the stored keys cannot be used. Each message names the key by its `kid` (public) and never its bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    #[error(
        "the signing key {kid} does not open with the configured OpenID Connect seal key: it was sealed under \
         another key (point [oidc] key_seal_file or DINHDANH_OIDC_SEAL_KEY at the key the signing keys were \
         sealed with) or for another row"
    )]
    WrongSealKey { kid: String },
    #[error("the stored signing key {kid} is neither sealed (v1:…) nor base64 of a private key")]
    Unreadable { kid: String },
    #[error("the stored signing keys are not a usable key set: {0}")]
    Set(#[from] KeyError),
}

impl From<KeysError> for ApiError {
    fn from(e: KeysError) -> Self {
        ApiError::internal(e.to_string())
    }
}

fn associated_data(kid: &str) -> Vec<u8> {
    format!("{ASSOCIATED_DATA_PREFIX}{kid}").into_bytes()
}

/// The row of `key`, its private key sealed under `seal`.
pub fn seal_key(seal: &SealingKey, key: &StoredKey) -> OidcKeyRow {
    OidcKeyRow {
        kid: key.kid.clone(),
        state: key.state,
        created_at: key.created_at,
        activated_at: key.activated_at,
        retire_after: key.retire_after,
        private_key: seal.seal(&key.private_key, &associated_data(&key.kid)),
    }
}

/// The key of a row: opened with `seal` when sealed, decoded when stored before sealing.
fn open_row(seal: &SealingKey, row: &OidcKeyRow) -> Result<StoredKey, KeysError> {
    let private_key = match seal.open(&row.private_key, &associated_data(&row.kid)) {
        Ok(der) => der,
        Err(SealingError::NotSealed) => {
            STANDARD.decode(&row.private_key).map_err(|_| KeysError::Unreadable { kid: row.kid.clone() })?
        }
        Err(SealingError::WrongKey) => return Err(KeysError::WrongSealKey { kid: row.kid.clone() }),
        Err(SealingError::Malformed | SealingError::NotAKey) => {
            return Err(KeysError::Unreadable { kid: row.kid.clone() });
        }
    };
    Ok(StoredKey {
        kid: row.kid.clone(),
        state: row.state,
        created_at: row.created_at,
        activated_at: row.activated_at,
        retire_after: row.retire_after,
        private_key,
    })
}

/// The key set of the stored rows, each opened and checked (its `kid` is its key's thumbprint).
pub fn open_key_set(seal: &SealingKey, rows: &[OidcKeyRow]) -> Result<KeySet, KeysError> {
    let keys = rows.iter().map(|row| open_row(seal, row)).collect::<Result<Vec<_>, _>>()?;
    Ok(KeySet::from_stored(keys)?)
}

/// The rows of `set`, every key sealed under `seal`.
fn sealed_rows(seal: &SealingKey, set: &KeySet) -> Vec<OidcKeyRow> {
    set.to_stored().iter().map(|key| seal_key(seal, key)).collect()
}

/// The key set this node opened last ([`key_set`]).
#[derive(Default)]
pub struct CachedKeySet(RwLock<Option<Opened>>);

/// A key set with the rows it was opened from: good while the store answers those very rows.
struct Opened {
    from: Arc<Vec<OidcKeyRow>>,
    set: Arc<KeySet>,
}

/// The key set, for signing and verifying, from this node's memory: the store answers the rows from its cache
/// until a committed change of the keys (a rotation here, by `dinhdanh keys rotate`, or by another node) drops
/// them, and the key set opened from those very rows is kept beside them, so a request neither reads nor opens
/// nor parses a key. When the deployment has none yet, the first is made ([`ensure_keys`]).
pub async fn key_set(state: &AppState, now: DateTime<Utc>) -> Result<Arc<KeySet>, ApiError> {
    let seal = &state.config.oidc_seal_key;
    let mut rows = state.store.oidc_keys().await?;
    if rows.is_empty() {
        ensure_keys(&state.store, seal, now).await?;
        rows = state.store.oidc_keys().await?;
    }
    let cache = &state.oidc.keys.0;
    if let Some(opened) = &*cache.read().unwrap_or_else(|poisoned| poisoned.into_inner())
        && Arc::ptr_eq(&opened.from, &rows)
    {
        return Ok(opened.set.clone());
    }
    let set = Arc::new(open_key_set(seal, &rows).map_err(|e| {
        tracing::error!(error = %e, "cannot open the OpenID Connect signing keys");
        ApiError::from(e)
    })?);
    *cache.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Opened { from: rows, set: set.clone() });
    Ok(set)
}

/// What a node runs before it serves (`dinhdanh serve`), in one transaction holding the keys row: makes the
/// deployment's first key set and the pairwise salt if there are none (so two nodes starting at once make one
/// set), seals every key still stored in plaintext (audited `oidc.keys.sealed` with the count), and checks that
/// every key opens with `seal`. With the wrong seal key it changes nothing and says which setting to fix.
pub async fn ensure_keys(store: &Store, seal: &SealingKey, now: DateTime<Utc>) -> Result<KeySet, ApiError> {
    let mut tx = store.begin().await?;
    tx.hold_oidc_keys().await?;
    let rows = tx.oidc_keys().await?;
    let set = if rows.is_empty() {
        let set = KeySet::generate(now);
        tx.replace_oidc_keys(&sealed_rows(seal, &set)).await?;
        tx.audit(AuditEntry {
            at: now,
            actor: "system".to_owned(),
            action: "oidc.keys.generate",
            subject: None,
            outcome: "ok",
            detail: json!({"current": set.current_kid(), "next": set.next_kid()}),
        })
        .await?;
        set
    } else {
        let set = open_key_set(seal, &rows)?;
        let plaintext = rows.iter().filter(|row| !is_sealed(&row.private_key)).count();
        if plaintext > 0 {
            let rows = rows
                .into_iter()
                .map(|row| match is_sealed(&row.private_key) {
                    true => Ok(row),
                    false => open_row(seal, &row).map(|key| seal_key(seal, &key)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            tx.replace_oidc_keys(&rows).await?;
            tx.audit(AuditEntry {
                at: now,
                actor: "system".to_owned(),
                action: "oidc.keys.sealed",
                subject: None,
                outcome: "ok",
                detail: json!({"sealed": plaintext}),
            })
            .await?;
        }
        set
    };
    if tx.oidc_setting(OIDC_SUBJECT_SALT).await?.is_none() {
        tx.insert_oidc_setting(OIDC_SUBJECT_SALT, &STANDARD.encode(SubjectSalt::generate().as_bytes())).await?;
    }
    tx.commit().await?;
    Ok(set)
}

/// `dinhdanh keys rotate`: next → current, current → retired (kept until its last token expires), a new next
/// key, and the retired keys whose time has passed pruned; in one transaction, audited `oidc.keys.rotate`.
pub async fn rotate_keys(
    store: &Store,
    seal: &SealingKey,
    now: DateTime<Utc>,
) -> Result<(Rotation, Vec<String>), ApiError> {
    ensure_keys(store, seal, now).await?;
    let mut tx = store.begin().await?;
    tx.hold_oidc_keys().await?;
    let mut set = open_key_set(seal, &tx.oidc_keys().await?)?;
    let rotation = set.rotate(now, Lifetimes::default().max_signed());
    let pruned = set.prune(now);
    store_change(&mut tx, seal, &set, Some(&rotation), &pruned, false, now).await?;
    tx.commit().await?;
    Ok((rotation, pruned))
}

/// How long a key signs before the scheduled check rotates it, unless `[oidc] rotate_every_days` says otherwise.
pub const DEFAULT_ROTATE_EVERY: chrono::Duration = chrono::Duration::days(90);

/// What a scheduled check of the keys did: nothing, a rotation (with the prune that goes with one), or a prune.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduledChange {
    pub rotation: Option<Rotation>,
    pub pruned: Vec<String>,
}

/// The scheduled check ([`crate::run_purge`]): rotates when the current key has signed for
/// [`crate::ServerConfig::oidc_rotate_every`] (never when that is unset), and prunes the retired keys whose
/// `retire_after` has passed. Decided first from the key set in memory, so that most checks need no
/// transaction; then again inside the one transaction that holds the keys row and changes them, so that nodes
/// checking at the same moment rotate once. Audited like `dinhdanh keys rotate` (`oidc.keys.rotate`, or
/// `oidc.keys.prune` for a prune alone), with `scheduled: true`.
pub async fn rotate_and_prune_when_due(state: &AppState) -> Result<ScheduledChange, ApiError> {
    let now = state.clock.now();
    if due(state, &*key_set(state, now).await?, now) == (false, false) {
        return Ok(ScheduledChange::default());
    }
    change_keys_when_due(state).await
}

/// Whether a rotation, and a prune, are due at `now`.
fn due(state: &AppState, set: &KeySet, now: DateTime<Utc>) -> (bool, bool) {
    (state.config.oidc_rotate_every.is_some_and(|every| set.rotation_due(now, every)), set.prune_due(now))
}

/// The transaction of [`rotate_and_prune_when_due`], without the look at the keys in memory before it: decides
/// from the keys as they are once the keys row is held, and changes them if due. On its own for the tests that
/// make nodes meet in it.
pub async fn change_keys_when_due(state: &AppState) -> Result<ScheduledChange, ApiError> {
    let now = state.clock.now();
    let seal = &state.config.oidc_seal_key;
    let mut tx = state.store.begin().await?;
    tx.hold_oidc_keys().await?;
    let mut set = open_key_set(seal, &tx.oidc_keys().await?)?;
    let (rotate, prune) = due(state, &set, now);
    if !rotate && !prune {
        // Another node (or the command) made the change while this one waited for the keys row.
        return Ok(ScheduledChange::default());
    }
    let rotation = rotate.then(|| set.rotate(now, state.oidc.lifetimes.max_signed()));
    let pruned = set.prune(now);
    store_change(&mut tx, seal, &set, rotation.as_ref(), &pruned, true, now).await?;
    tx.commit().await?;
    if let Some(rotation) = &rotation {
        tracing::info!(current = %rotation.current, retired = %rotation.retired, next = %rotation.next,
                       pruned = pruned.len(), "rotated the OpenID Connect signing keys on schedule");
    } else {
        tracing::info!(pruned = ?pruned, "pruned retired OpenID Connect signing keys");
    }
    Ok(ScheduledChange { rotation, pruned })
}

/// Writes the changed key set, sealed, with its audit entry: a rotation with what it pruned, or a prune alone.
async fn store_change(
    tx: &mut Tx,
    seal: &SealingKey,
    set: &KeySet,
    rotation: Option<&Rotation>,
    pruned: &[String],
    scheduled: bool,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    tx.replace_oidc_keys(&sealed_rows(seal, set)).await?;
    let (action, detail) = match rotation {
        Some(rotation) => (
            "oidc.keys.rotate",
            json!({"retired": rotation.retired, "current": rotation.current, "next": rotation.next,
                   "pruned": pruned, "scheduled": scheduled}),
        ),
        None => ("oidc.keys.prune", json!({"pruned": pruned, "scheduled": scheduled})),
    };
    tx.audit(AuditEntry { at: now, actor: "system".to_owned(), action, subject: None, outcome: "ok", detail }).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap()
    }

    #[test]
    fn sealed_rows_open_into_the_same_key_set_and_hold_no_private_key_in_the_clear() {
        let seal = SealingKey::generate();
        let set = KeySet::generate(t0());
        let rows = sealed_rows(&seal, &set);
        for (row, key) in rows.iter().zip(set.to_stored()) {
            assert!(is_sealed(&row.private_key), "{row:?}");
            assert!(!row.private_key.contains(&STANDARD.encode(&key.private_key)));
            assert!(!format!("{row:?}").contains(&row.private_key), "Debug omits the private key");
        }
        let opened = open_key_set(&seal, &rows).unwrap();
        assert_eq!(opened.jwks(), set.jwks());
        assert_eq!(opened.to_stored(), set.to_stored());
    }

    #[test]
    fn a_sealed_key_opens_only_with_its_seal_key_and_in_its_own_row() {
        let seal = SealingKey::generate();
        let set = KeySet::generate(t0());
        let rows = sealed_rows(&seal, &set);
        let kid = rows[0].kid.clone();
        assert_eq!(open_key_set(&SealingKey::generate(), &rows).unwrap_err(), KeysError::WrongSealKey { kid });

        // The current key's ciphertext copied onto the next key's row.
        let mut swapped = rows.clone();
        swapped[1].private_key = rows[0].private_key.clone();
        assert_eq!(open_key_set(&seal, &swapped).unwrap_err(), KeysError::WrongSealKey { kid: rows[1].kid.clone() });

        // Under the right key but for something else than a signing key (an officer's TOTP secret, say).
        let mut foreign = rows.clone();
        foreign[0].private_key = seal.seal(&set.to_stored()[0].private_key, rows[0].kid.as_bytes());
        assert!(matches!(open_key_set(&seal, &foreign), Err(KeysError::WrongSealKey { .. })));
        let message = KeysError::WrongSealKey { kid: "k".into() }.to_string();
        assert!(message.contains("[oidc] key_seal_file") && message.contains("DINHDANH_OIDC_SEAL_KEY"), "{message}");
    }

    #[test]
    fn rows_from_before_sealing_still_open_and_garbage_does_not() {
        let seal = SealingKey::generate();
        let set = KeySet::generate(t0());
        let plaintext: Vec<OidcKeyRow> = set
            .to_stored()
            .iter()
            .map(|key| OidcKeyRow { private_key: STANDARD.encode(&key.private_key), ..seal_key(&seal, key) })
            .collect();
        assert_eq!(open_key_set(&seal, &plaintext).unwrap().jwks(), set.jwks());
        for bad in ["not base64!", "v1:%%%"] {
            let mut rows = plaintext.clone();
            rows[0].private_key = bad.to_owned();
            assert_eq!(
                open_key_set(&seal, &rows).unwrap_err(),
                KeysError::Unreadable { kid: rows[0].kid.clone() },
                "{bad:?}"
            );
        }
    }
}
