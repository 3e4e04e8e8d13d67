//! Level 2 checks (`biometric_checks`, migration 0017): each comparison of a holder's capture with the registry's
//! reference, written in the transaction that acts on it, and the day's failures that limit the tries. The
//! registry's references themselves are in `registry.rs`.

use chrono::{DateTime, Utc};
use dinhdanh_domain::AccountId;
use dinhdanh_domain::biometrics::{CheckPurpose, Modality};

use crate::time::to_ms;
use crate::{StoreError, Tx};

/// One comparison to record.
#[derive(Debug, Clone)]
pub struct NewBiometricCheck<'a> {
    pub account_id: &'a AccountId,
    pub purpose: CheckPurpose,
    pub modality: Modality,
    /// The ISO/IEC 19794-2 finger position compared (fingers only).
    pub finger_position: Option<u8>,
    pub score: f64,
    pub threshold: f64,
    pub matched: bool,
    pub checked_at: DateTime<Utc>,
    /// The officer who captured it, for an in-person check.
    pub officer_id: Option<&'a str>,
}

impl Tx {
    pub async fn record_biometric_check(&mut self, check: &NewBiometricCheck<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO biometric_checks (id, account_id, purpose, modality, finger_position, score, threshold, \
             matched, checked_at, officer_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(check.account_id.as_str())
        .bind(check.purpose.as_str())
        .bind(check.modality.as_str())
        .bind(check.finger_position.map(i64::from))
        .bind(check.score)
        .bind(check.threshold)
        .bind(i64::from(check.matched))
        .bind(to_ms(check.checked_at))
        .bind(check.officer_id)
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }

    /// The account's failed comparisons for `purpose` since `since`, read in the transaction that holds the
    /// account row, so that parallel tries each see the others.
    pub async fn biometric_failures_since(
        &mut self,
        account: &AccountId,
        purpose: CheckPurpose,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM biometric_checks \
             WHERE account_id = $1 AND purpose = $2 AND matched = 0 AND checked_at >= $3",
        )
        .bind(account.as_str())
        .bind(purpose.as_str())
        .bind(to_ms(since))
        .fetch_one(&mut *self.inner)
        .await?)
    }
}
