//! Signed checkpoints of the audit log: at an interval, the tree head is signed with the key file named in the
//! configuration (never kept in the database), stored, and published to a file the operator keeps elsewhere.
//! With several nodes, whichever signs a size first keeps it; the others find it kept and publish nothing.

use std::io::Write;
use std::path::Path;

use dinhdanh_store::StoredCheckpoint;

use crate::AppState;
use crate::problem::ApiError;

/// Signs the tree as it stands if it grew since the last checkpoint, and publishes it. `None` when there is
/// nothing new to sign, or no signing key is configured.
pub async fn sign_checkpoint(state: &AppState) -> Result<Option<StoredCheckpoint>, ApiError> {
    let Some(signer) = &state.config.audit_signer else { return Ok(None) };
    let Some(checkpoint) = state.store.sign_checkpoint(signer, state.clock.now()).await? else { return Ok(None) };
    if let Some(path) = &state.config.audit_publish_file
        && let Err(e) = publish(path, &checkpoint)
    {
        // Kept in the database and served by the API all the same; the operator's copy is behind.
        tracing::error!(error = %e, path = %path.display(), "cannot publish the signed audit checkpoint");
        metrics::counter!("dinhdanh_audit_checkpoints_unpublished_total").increment(1);
    }
    metrics::gauge!("dinhdanh_audit_tree_size").set(checkpoint.size as f64);
    Ok(Some(checkpoint))
}

/// Appends one JSON line per checkpoint, `{"tree_size": …, "note": "…"}`: what `dinhdanh audit verify
/// --checkpoints FILE` reads.
pub fn publish(path: &Path, checkpoint: &StoredCheckpoint) -> std::io::Result<()> {
    let line = serde_json::json!({"tree_size": checkpoint.size, "note": checkpoint.note});
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    writeln!(file, "{line}")?;
    file.sync_data()
}
