//! The audit log's signed checkpoints, public: they name no one (a tree size, a root hash, a time), and anyone
//! holding an inclusion proof from `dinhdanh audit prove` checks it against them with the verifier key.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::ApiQuery;
use crate::AppState;
use crate::problem::ApiError;

#[derive(OpenApi)]
#[openapi(paths(list_checkpoints), tags((name = "audit", description = "Nhật ký kiểm toán / The audit log")))]
pub struct Doc;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CheckpointsQuery {
    /// How many, newest first (1 to 1000, default 20).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointBody {
    /// How many entries the signed tree holds.
    pub tree_size: u64,
    /// The root hash of that tree (RFC 9162), hex.
    pub root_hash: String,
    #[serde(with = "crate::api::time::millis")]
    #[schema(example = crate::api::time::example)]
    pub signed_at: DateTime<Utc>,
    /// The signed note (C2SP checkpoint, Ed25519), exactly as signed.
    pub note: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointsBody {
    /// The key that signs the checkpoints (`<name>+<key id>+<base64>`, the note format's verifier key); absent
    /// when this node signs none.
    pub verifier_key: Option<String>,
    pub checkpoints: Vec<CheckpointBody>,
}

/// The audit log's signed tree heads, newest first. Compare them with the copies the operator publishes
/// elsewhere: an audit log whose entries were rewritten no longer matches them (`dinhdanh audit verify`).
#[utoipa::path(get, path = "/v1/audit/checkpoints", operation_id = "listAuditCheckpoints", tag = "audit",
    params(CheckpointsQuery), responses((status = 200, description = "The signed heads, newest first", body = CheckpointsBody)))]
pub async fn list_checkpoints(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<CheckpointsQuery>,
) -> Result<Json<CheckpointsBody>, ApiError> {
    let limit = super::page_limit(query.limit, 20, 1000)?;
    let checkpoints = state.store.checkpoints(limit).await?;
    Ok(Json(CheckpointsBody {
        verifier_key: state.config.audit_signer.as_ref().map(|s| s.verifier().to_text()),
        checkpoints: checkpoints
            .into_iter()
            .map(|c| CheckpointBody {
                tree_size: c.size,
                root_hash: dinhdanh_store::merkle::hex(&c.root),
                signed_at: c.signed_at,
                note: c.note,
            })
            .collect(),
    }))
}
