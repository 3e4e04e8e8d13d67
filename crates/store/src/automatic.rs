//! What the automatic-lock job reads: the accounts whose automatic locks may not match the registry, found
//! set-based so that a run over a registry of millions of rows looks only at candidates.
//!
//! An account (active, with a registry row) is a candidate when
//! - its registry row shows an automatic ground (card revoked or retained; a death; a passport or stay expiry
//!   date before `today`) and the account holds no active lock of that ground — unless an operator supervisor
//!   lifted such a lock (the override) since the registry row last changed; or
//! - it holds an active system lock of `identity_document_revoked`, `travel_document_expired` or
//!   `residence_expired` whose ground its registry row no longer shows (a death lock is never lifted, so it
//!   never makes an account a candidate).
//!
//! In the steady state both sets are empty. The first branch walks the registry through the partial indexes of
//! migration 0004 and finds the account by `accounts.identity_key` (`'CID:' || id_number`,
//! `'PP:' || nationality || ':' || passport_number`, as [`dinhdanh_domain::IdentityKey`] builds them); the second
//! walks the active automatic locks and finds the registry row by its primary key, cutting the identity key
//! apart with `substr` (a nationality is always 3 letters), since an index on the registry's key cannot serve a
//! concatenation.

use chrono::{DateTime, NaiveDate, Utc};
use dinhdanh_domain::AccountId;
use dinhdanh_domain::automatic::RegistryRecord;
use dinhdanh_domain::lock::{Ground, Party};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::locks::to_json;
use crate::registry::{CITIZEN_COLUMNS, FOREIGNER_COLUMNS, citizen_from_row, foreigner_from_row};
use crate::time::{date_to_text, from_ms, to_ms};
use crate::{Store, StoreError, Tx};

/// An account whose automatic locks may need a change, with its registry record as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutomaticCandidate {
    pub account_id: AccountId,
    pub record: RegistryRecord,
    /// When the registry row last changed (an override lift after this holds until the next change).
    pub record_changed_at: DateTime<Utc>,
}

/// `$1`: now (ms), `$2`: today (`YYYY-MM-DD`), `$3`: the system party as stored.
const ACTIVE: &str = "l.lifted_at IS NULL AND l.effective_at <= $1 AND (l.ends_at IS NULL OR l.ends_at > $1)";

/// No active lock of `ground` on account `a`, and no override lift of one since registry row `r` last changed.
fn not_held(ground: Ground) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM locks l WHERE l.account_id = a.id AND l.ground = '{ground}' AND (({ACTIVE}) \
         OR (l.lifted_at IS NOT NULL AND l.lifted_at >= r.updated_at AND l.lifted_by <> $3)))",
        ground = ground.as_str()
    )
}

fn prefixed(columns: &str) -> String {
    columns.split(',').map(|c| format!("r.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

fn citizens_sql() -> String {
    let select = format!("SELECT a.id AS account_id, {}", prefixed(CITIZEN_COLUMNS));
    let by_row = format!(
        "{select} FROM registry_citizens r JOIN accounts a ON a.identity_key = 'CID:' || r.id_number \
         WHERE a.status = 'active' AND"
    );
    let by_lock = format!(
        "{select} FROM locks l JOIN accounts a ON a.id = l.account_id \
         JOIN registry_citizens r ON r.id_number = substr(a.identity_key, 5) \
         WHERE a.status = 'active' AND a.identity_key LIKE 'CID:%' AND {ACTIVE} AND"
    );
    format!(
        "{by_row} r.card_status <> 'valid' AND r.card_status IN ('revoked', 'retained') AND {revoked} \
         UNION {by_row} r.died_on IS NOT NULL AND {deceased} \
         UNION {by_lock} l.ground = 'identity_document_revoked' AND r.card_status NOT IN ('revoked', 'retained') \
         ORDER BY account_id",
        revoked = not_held(Ground::IdentityDocumentRevoked),
        deceased = not_held(Ground::HolderDeceased),
    )
}

fn foreigners_sql() -> String {
    let select = format!("SELECT a.id AS account_id, {}", prefixed(FOREIGNER_COLUMNS));
    let by_row = format!(
        "{select} FROM registry_foreigners r \
         JOIN accounts a ON a.identity_key = 'PP:' || r.nationality || ':' || r.passport_number \
         WHERE a.status = 'active' AND"
    );
    let by_lock = format!(
        "{select} FROM locks l JOIN accounts a ON a.id = l.account_id \
         JOIN registry_foreigners r ON r.nationality = substr(a.identity_key, 4, 3) \
         AND r.passport_number = substr(a.identity_key, 8) \
         WHERE a.status = 'active' AND a.identity_key LIKE 'PP:%' AND {ACTIVE} AND"
    );
    format!(
        "{by_row} r.passport_expires_on < $2 AND {passport} \
         UNION {by_row} r.stay_expires_on < $2 AND {stay} \
         UNION {by_row} r.died_on IS NOT NULL AND {deceased} \
         UNION {by_lock} l.ground = 'travel_document_expired' \
         AND (r.passport_expires_on IS NULL OR r.passport_expires_on >= $2) \
         UNION {by_lock} l.ground = 'residence_expired' AND (r.stay_expires_on IS NULL OR r.stay_expires_on >= $2) \
         ORDER BY account_id",
        passport = not_held(Ground::TravelDocumentExpired),
        stay = not_held(Ground::ResidenceExpired),
        deceased = not_held(Ground::HolderDeceased),
    )
}

fn changed_at(row: &AnyRow) -> Result<DateTime<Utc>, StoreError> {
    from_ms(row.try_get("updated_at")?)
}

impl Store {
    /// The accounts whose automatic locks may not match the registry at `now` (`today` is the day in Vietnam),
    /// in account-id order, each at most once.
    pub async fn automatic_lock_candidates(
        &self,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Vec<AutomaticCandidate>, StoreError> {
        let system = to_json(&Party::System);
        let today = date_to_text(today);
        let mut out = Vec::new();
        let rows = sqlx::query(&citizens_sql())
            .bind(to_ms(now))
            .bind(today.clone())
            .bind(system.clone())
            .fetch_all(&self.pool)
            .await?;
        for row in &rows {
            out.push(AutomaticCandidate {
                account_id: AccountId::new(row.try_get("account_id")?),
                record: RegistryRecord::Citizen(citizen_from_row(row)?),
                record_changed_at: changed_at(row)?,
            });
        }
        let rows =
            sqlx::query(&foreigners_sql()).bind(to_ms(now)).bind(today).bind(system).fetch_all(&self.pool).await?;
        for row in &rows {
            out.push(AutomaticCandidate {
                account_id: AccountId::new(row.try_get("account_id")?),
                record: RegistryRecord::Foreigner(foreigner_from_row(row)?),
                record_changed_at: changed_at(row)?,
            });
        }
        // An account is a citizen's or a foreigner's, never both; UNION already removed duplicates in each.
        Ok(out)
    }
}

impl Tx {
    /// The registry record behind an identity key (`CID:…` or `PP:NAT:…`) and when it last changed, read inside
    /// the transaction; `None` when the registry has no such row or the key has another form.
    pub async fn registry_record_of(
        &mut self,
        identity_key: &str,
    ) -> Result<Option<(RegistryRecord, DateTime<Utc>)>, StoreError> {
        if let Some(id_number) = identity_key.strip_prefix("CID:") {
            let row = sqlx::query(&format!("SELECT {CITIZEN_COLUMNS} FROM registry_citizens WHERE id_number = $1"))
                .bind(id_number)
                .fetch_optional(&mut *self.inner)
                .await?;
            return row.map(|r| Ok((RegistryRecord::Citizen(citizen_from_row(&r)?), changed_at(&r)?))).transpose();
        }
        let Some((nationality, passport)) = identity_key.strip_prefix("PP:").and_then(|rest| rest.split_once(':'))
        else {
            return Ok(None);
        };
        let row = sqlx::query(&format!(
            "SELECT {FOREIGNER_COLUMNS} FROM registry_foreigners \
             WHERE nationality = $1 AND passport_number = $2"
        ))
        .bind(nationality)
        .bind(passport)
        .fetch_optional(&mut *self.inner)
        .await?;
        row.map(|r| Ok((RegistryRecord::Foreigner(foreigner_from_row(&r)?), changed_at(&r)?))).transpose()
    }
}
