//! Lock and unlock requests as stored: the request row (its current state), its steps (the history with the time
//! of each), the accounts of a bulk order with their outcome, and idempotency keys.

use chrono::{DateTime, Utc};
use dinhdanh_domain::AccountId;
use dinhdanh_domain::authority::Route;
use dinhdanh_domain::lock::{Ground, LegalBasis, Party};
use dinhdanh_domain::request::{InPersonCheck, Request, RequestKind, RequestStatus, Step, StepEvent, Subject};
use dinhdanh_domain::tracking::TrackingCode;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::locks::{from_json, to_json};
use crate::time::{from_ms, to_ms};
use crate::{Store, StoreError, Tx};

const COLUMNS: &str = "id, tracking_code, kind, account_id, ground, lock_id, requester, route, is_override, status, \
    legal_basis, reason, reference, lock_ends_at, received_at, deadline, claimed_by, forwarded_at, forwarded_by, \
    decided_at, decided_by, decision_reason, effective_at, closed_at, bulk_order_id, claimed_at, in_person_check";

fn opt_ms(row: &AnyRow, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    row.try_get::<Option<i64>, _>(column)?.map(from_ms).transpose()
}

/// A request names its one account in `account_id`; a bulk order names none and carries its own id in
/// `bulk_order_id` (its accounts are in `request_targets`).
fn subject_of(row: &AnyRow) -> Result<Subject, StoreError> {
    let id: String = row.try_get("id")?;
    match (row.try_get::<Option<String>, _>("account_id")?, row.try_get::<Option<String>, _>("bulk_order_id")?) {
        (Some(account), None) => Ok(Subject::Account(AccountId::new(account))),
        (None, Some(order)) if order == id => Ok(Subject::BulkOrder),
        _ => Err(StoreError::Corrupt(format!("request {id} names neither one account nor itself as a bulk order"))),
    }
}

fn request_from_row(row: &AnyRow) -> Result<Request, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("request {what}"));
    Ok(Request {
        id: row.try_get("id")?,
        tracking_code: TrackingCode::parse(&row.try_get::<String, _>("tracking_code")?)
            .map_err(|_| corrupt("tracking code"))?,
        kind: RequestKind::parse(&row.try_get::<String, _>("kind")?).ok_or_else(|| corrupt("kind"))?,
        subject: subject_of(row)?,
        ground: Ground::parse(&row.try_get::<String, _>("ground")?).ok_or_else(|| corrupt("ground"))?,
        lock_id: row.try_get("lock_id")?,
        requester: from_json::<Party>(&row.try_get::<String, _>("requester")?, "requester")?,
        route: from_json::<Route>(&row.try_get::<String, _>("route")?, "route")?,
        is_override: row.try_get::<i64, _>("is_override")? != 0,
        status: RequestStatus::parse(&row.try_get::<String, _>("status")?).ok_or_else(|| corrupt("status"))?,
        legal_basis: row
            .try_get::<Option<String>, _>("legal_basis")?
            .map(|b| from_json::<LegalBasis>(&b, "legal basis"))
            .transpose()?,
        reason: row.try_get("reason")?,
        reference: row.try_get("reference")?,
        lock_ends_at: opt_ms(row, "lock_ends_at")?,
        received_at: from_ms(row.try_get("received_at")?)?,
        deadline: opt_ms(row, "deadline")?,
        claimed_by: row.try_get("claimed_by")?,
        forwarded_at: opt_ms(row, "forwarded_at")?,
        forwarded_by: row.try_get("forwarded_by")?,
        decided_at: opt_ms(row, "decided_at")?,
        decided_by: row.try_get("decided_by")?,
        decision_reason: row.try_get("decision_reason")?,
        effective_at: opt_ms(row, "effective_at")?,
        closed_at: opt_ms(row, "closed_at")?,
        claimed_at: opt_ms(row, "claimed_at")?,
        in_person_check: row
            .try_get::<Option<String>, _>("in_person_check")?
            .map(|c| from_json::<InPersonCheck>(&c, "in-person check"))
            .transpose()?,
    })
}

/// Which requests an officer's queue shows.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub statuses: Vec<RequestStatus>,
    pub kind: Option<RequestKind>,
    pub ground: Option<Ground>,
    /// Only requests past their deadline at `now`.
    pub overdue_only: bool,
}

/// The first answer to an operation under an idempotency key.
#[derive(Debug, Clone)]
pub struct StoredResponse {
    pub request_hash: String,
    pub status: i64,
    pub response: String,
}

impl Tx {
    /// [`StoreError::Conflict`] if the tracking code is taken (draw another).
    pub async fn insert_request(&mut self, r: &Request) -> Result<(), StoreError> {
        let requester_org = match &r.requester {
            Party::Organization { organization_id, .. } => Some(organization_id.clone()),
            _ => None,
        };
        let (account, bulk_order) = match &r.subject {
            Subject::Account(id) => (Some(id.as_str().to_owned()), None),
            Subject::BulkOrder => (None, Some(r.id.clone())),
        };
        sqlx::query(&format!(
            "INSERT INTO requests ({COLUMNS}, requester_org) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
             $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)"
        ))
        .bind(&r.id)
        .bind(r.tracking_code.as_str())
        .bind(r.kind.as_str())
        .bind(account)
        .bind(r.ground.as_str())
        .bind(r.lock_id.clone())
        .bind(to_json(&r.requester))
        .bind(to_json(&r.route))
        .bind(i64::from(r.is_override))
        .bind(r.status.as_str())
        .bind(r.legal_basis.as_ref().map(to_json))
        .bind(&r.reason)
        .bind(r.reference.clone())
        .bind(r.lock_ends_at.map(to_ms))
        .bind(to_ms(r.received_at))
        .bind(r.deadline.map(to_ms))
        .bind(r.claimed_by.clone())
        .bind(r.forwarded_at.map(to_ms))
        .bind(r.forwarded_by.clone())
        .bind(r.decided_at.map(to_ms))
        .bind(r.decided_by.clone())
        .bind(r.decision_reason.clone())
        .bind(r.effective_at.map(to_ms))
        .bind(r.closed_at.map(to_ms))
        .bind(bulk_order)
        .bind(r.claimed_at.map(to_ms))
        .bind(r.in_person_check.as_ref().map(to_json))
        .bind(requester_org)
        .execute(&mut *self.inner)
        .await
        .map_err(|e| StoreError::conflict_or(e, "a request with this tracking code"))?;
        Ok(())
    }

    /// Writes the state of a request (the result of a domain transition taken on a locked read).
    pub async fn update_request(&mut self, r: &Request) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE requests SET lock_id = $1, status = $2, deadline = $3, claimed_by = $4, forwarded_at = $5, \
             forwarded_by = $6, decided_at = $7, decided_by = $8, decision_reason = $9, effective_at = $10, \
             closed_at = $11, claimed_at = $12 WHERE id = $13",
        )
        .bind(r.lock_id.clone())
        .bind(r.status.as_str())
        .bind(r.deadline.map(to_ms))
        .bind(r.claimed_by.clone())
        .bind(r.forwarded_at.map(to_ms))
        .bind(r.forwarded_by.clone())
        .bind(r.decided_at.map(to_ms))
        .bind(r.decided_by.clone())
        .bind(r.decision_reason.clone())
        .bind(r.effective_at.map(to_ms))
        .bind(r.closed_at.map(to_ms))
        .bind(r.claimed_at.map(to_ms))
        .bind(&r.id)
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }

    /// Reads a request and holds it until the transaction ends.
    pub async fn lock_request(&mut self, id: &str) -> Result<Option<Request>, StoreError> {
        sqlx::query("UPDATE requests SET id = id WHERE id = $1").bind(id).execute(&mut *self.inner).await?;
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM requests WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *self.inner)
            .await?;
        row.as_ref().map(request_from_row).transpose()
    }

    /// Reads a request inside the transaction without holding it (a closed request one only adds a step to).
    pub async fn request_tx(&mut self, id: &str) -> Result<Option<Request>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM requests WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *self.inner)
            .await?;
        row.as_ref().map(request_from_row).transpose()
    }

    pub async fn insert_step(&mut self, request_id: &str, step: &Step) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO request_steps (request_id, at, status, event, by_party, note) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(request_id)
        .bind(to_ms(step.at))
        .bind(step.status.as_str())
        .bind(step.event.as_str())
        .bind(to_json(&step.by))
        .bind(step.note.clone())
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }

    /// Open (not final) requests about an account, e.g. to find a pending unlock of the same lock.
    pub async fn open_requests_of_account(&mut self, account: &AccountId) -> Result<Vec<Request>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM requests WHERE account_id = $1 AND status IN ('received', 'verifying', 'approved') \
             ORDER BY received_at"
        ))
        .bind(account.as_str())
        .fetch_all(&mut *self.inner)
        .await?;
        rows.iter().map(request_from_row).collect()
    }

    /// The answer stored under an idempotency key, if any, read inside the transaction.
    pub async fn idempotent_response(&mut self, scope: &str, key: &str) -> Result<Option<StoredResponse>, StoreError> {
        let row =
            sqlx::query("SELECT request_hash, status, response FROM idempotency_keys WHERE scope = $1 AND key = $2")
                .bind(scope)
                .bind(key)
                .fetch_optional(&mut *self.inner)
                .await?;
        row.map(|r| Ok(StoredResponse { request_hash: r.try_get(0)?, status: r.try_get(1)?, response: r.try_get(2)? }))
            .transpose()
    }

    /// Records the answer to an operation under its key, in the operation's own transaction: a concurrent retry
    /// with the same key fails on the primary key and rolls back, so the effect happens once.
    pub async fn store_idempotent_response(
        &mut self,
        scope: &str,
        key: &str,
        response: &StoredResponse,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO idempotency_keys (scope, key, request_hash, status, response, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(scope)
        .bind(key)
        .bind(&response.request_hash)
        .bind(response.status)
        .bind(&response.response)
        .bind(to_ms(now))
        .execute(&mut *self.inner)
        .await
        .map_err(|e| StoreError::conflict_or(e, "an operation with this idempotency key"))?;
        Ok(())
    }
}

impl Store {
    pub async fn request(&self, id: &str) -> Result<Option<Request>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM requests WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(request_from_row).transpose()
    }

    pub async fn request_by_tracking_code(&self, code: &TrackingCode) -> Result<Option<Request>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM requests WHERE tracking_code = $1"))
            .bind(code.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(request_from_row).transpose()
    }

    /// The steps of a request, in order.
    pub async fn request_steps(&self, request_id: &str) -> Result<Vec<Step>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, status, event, by_party, note FROM request_steps WHERE request_id = $1 ORDER BY id",
        )
        .bind(request_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let event: String = r.try_get(2)?;
                Ok(Step {
                    at: from_ms(r.try_get(0)?)?,
                    status: RequestStatus::parse(&r.try_get::<String, _>(1)?)
                        .ok_or_else(|| StoreError::Corrupt("step status".into()))?,
                    event: step_event(&event),
                    by: from_json(&r.try_get::<String, _>(3)?, "step party")?,
                    note: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Requests about an account, newest first.
    pub async fn requests_of_account(&self, account: &AccountId, limit: i64) -> Result<Vec<Request>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM requests WHERE account_id = $1 ORDER BY received_at DESC LIMIT $2"
        ))
        .bind(account.as_str())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(request_from_row).collect()
    }

    /// Requests an organization filed, newest first.
    pub async fn requests_of_organization(
        &self,
        organization_id: &str,
        limit: i64,
    ) -> Result<Vec<Request>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM requests WHERE requester_org = $1 ORDER BY received_at DESC LIMIT $2"
        ))
        .bind(organization_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(request_from_row).collect()
    }

    /// The officers' queue: open requests matching `filter`, the most urgent (earliest deadline, overdue first)
    /// at the top.
    pub async fn request_queue(
        &self,
        filter: &QueueFilter,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Request>, StoreError> {
        let statuses: Vec<RequestStatus> = if filter.statuses.is_empty() {
            vec![RequestStatus::Received, RequestStatus::Verifying, RequestStatus::Approved]
        } else {
            filter.statuses.clone()
        };
        let placeholders: Vec<String> = (0..statuses.len()).map(|i| format!("${}", i + 5)).collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM requests WHERE status IN ({}) AND ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR ground = $2) \
             AND ($3 = 0 OR (deadline IS NOT NULL AND deadline < $4)) \
             ORDER BY CASE WHEN deadline IS NULL THEN 1 ELSE 0 END, deadline, received_at LIMIT {limit}",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql)
            .bind(filter.kind.map(|k| k.as_str().to_owned()))
            .bind(filter.ground.map(|g| g.as_str().to_owned()))
            .bind(i64::from(filter.overdue_only))
            .bind(to_ms(now));
        for status in &statuses {
            query = query.bind(status.as_str());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(request_from_row).collect()
    }

    /// Open requests (received, verifying, approved) counted by kind (the officers' dashboard); a kind without
    /// any is absent.
    pub async fn count_open_requests_by_kind(&self) -> Result<Vec<(RequestKind, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, COUNT(*) FROM requests WHERE status IN ('received', 'verifying', 'approved') \
             GROUP BY kind ORDER BY kind",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let kind = RequestKind::parse(&r.try_get::<String, _>(0)?)
                    .ok_or_else(|| StoreError::Corrupt("request kind".into()))?;
                Ok((kind, r.try_get::<i64, _>(1)?))
            })
            .collect()
    }

    /// Open requests past their deadline (for `/metrics`).
    pub async fn count_overdue_requests(&self, now: DateTime<Utc>) -> Result<i64, StoreError> {
        Ok(sqlx::query(
            "SELECT COUNT(*) FROM requests WHERE status IN ('received', 'verifying', 'approved') AND deadline IS NOT NULL AND deadline < $1",
        )
        .bind(to_ms(now))
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?)
    }
}

/// Step events are a closed set of words; an unknown one read back is kept as `recorded`.
fn step_event(event: &str) -> StepEvent {
    StepEvent::parse(event).unwrap_or(StepEvent::Recorded)
}
