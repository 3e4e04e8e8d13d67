//! Organizations: register, change, suspend and reinstate them. Who may is asked of the authorization table
//! by the handlers; this module applies the organization rules of the domain and writes one transaction,
//! audit included.

use dinhdanh_domain::actor::{Actor, OrganizationKind, OrganizationStatus};
use dinhdanh_domain::organization::{Organization, OrganizationError, check_parent, parse_code, parse_name};
use dinhdanh_domain::{Email, PhoneNumber};
use dinhdanh_store::{AuditEntry, StoreError, Tx};
use serde_json::json;

use crate::AppState;
use crate::problem::ApiError;

pub struct NewOrganization {
    pub code: String,
    pub name: String,
    pub kind: OrganizationKind,
    pub parent_id: Option<String>,
    pub contact_email: Option<Email>,
    pub contact_phone: Option<PhoneNumber>,
}

/// A change; `None` leaves a field as it is, `Some(None)` clears an optional one.
#[derive(Default)]
pub struct OrganizationChange {
    pub name: Option<String>,
    pub parent_id: Option<Option<String>>,
    pub contact_email: Option<Option<Email>>,
    pub contact_phone: Option<Option<PhoneNumber>>,
}

fn invalid(field: &str, e: OrganizationError) -> ApiError {
    ApiError::field(field, e)
}

pub async fn create(state: &AppState, actor: &Actor, new: NewOrganization) -> Result<Organization, ApiError> {
    let now = state.clock.now();
    let code = parse_code(&new.code).map_err(|e| invalid("code", e))?;
    let name = parse_name(&new.name).map_err(|e| invalid("name", e))?;
    let mut tx = state.store.begin().await?;
    if let Some(parent_id) = &new.parent_id {
        let parent =
            tx.lock_organization(parent_id).await?.ok_or(ApiError::NotFound { what: "parent organization" })?;
        check_parent(new.kind, parent.kind).map_err(|e| invalid("parent_id", e))?;
    }
    let org = Organization {
        id: uuid::Uuid::new_v4().to_string(),
        code,
        name,
        kind: new.kind,
        parent_id: new.parent_id,
        status: OrganizationStatus::Active,
        contact_email: new.contact_email,
        contact_phone: new.contact_phone,
        created_at: now,
        updated_at: now,
    };
    match tx.insert_organization(&org).await {
        Err(StoreError::Conflict(what)) => return Err(ApiError::Conflict { what: what.to_owned() }),
        other => other?,
    }
    audit(
        &mut tx,
        actor,
        "organization.create",
        &org,
        json!({"code": org.code, "kind": org.kind, "parent_id": org.parent_id}),
    )
    .await?;
    tx.commit().await?;
    Ok(org)
}

pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: &str,
    change: OrganizationChange,
) -> Result<Organization, ApiError> {
    let mut tx = state.store.begin().await?;
    let mut org = tx.lock_organization(id).await?.ok_or(ApiError::NotFound { what: "organization" })?;
    let mut changed = Vec::new();
    if let Some(name) = change.name {
        org.name = parse_name(&name).map_err(|e| invalid("name", e))?;
        changed.push("name");
    }
    if let Some(parent_id) = change.parent_id {
        if let Some(parent_id) = &parent_id {
            if parent_id == &org.id {
                return Err(invalid("parent_id", OrganizationError::ParentCycle));
            }
            let parent =
                tx.lock_organization(parent_id).await?.ok_or(ApiError::NotFound { what: "parent organization" })?;
            check_parent(org.kind, parent.kind).map_err(|e| invalid("parent_id", e))?;
            let ancestors = state.store.organization_ancestors(parent_id).await?;
            if ancestors.iter().any(|a| a.id == org.id) {
                return Err(invalid("parent_id", OrganizationError::ParentCycle));
            }
        }
        org.parent_id = parent_id;
        changed.push("parent_id");
    }
    if let Some(email) = change.contact_email {
        org.contact_email = email;
        changed.push("contact_email");
    }
    if let Some(phone) = change.contact_phone {
        org.contact_phone = phone;
        changed.push("contact_phone");
    }
    org.updated_at = state.clock.now();
    tx.update_organization(&org).await?;
    audit(&mut tx, actor, "organization.update", &org, json!({"fields": changed})).await?;
    tx.commit().await?;
    Ok(org)
}

/// Suspends (the organization and its clients can do nothing) or reinstates an organization.
pub async fn set_status(
    state: &AppState,
    actor: &Actor,
    id: &str,
    status: OrganizationStatus,
    reason: &str,
) -> Result<Organization, ApiError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(ApiError::field("reason", "give a reason of at most 1000 characters"));
    }
    if let Actor::Officer { organization_id, .. } = actor
        && organization_id == id
        && status == OrganizationStatus::Suspended
    {
        return Err(ApiError::Conflict { what: "you cannot suspend your own organization".to_owned() });
    }
    let mut tx = state.store.begin().await?;
    let mut org = tx.lock_organization(id).await?.ok_or(ApiError::NotFound { what: "organization" })?;
    let action = match status {
        OrganizationStatus::Suspended => "organization.suspend",
        OrganizationStatus::Active => "organization.reinstate",
    };
    if org.status != status {
        org.status = status;
        org.updated_at = state.clock.now();
        tx.update_organization(&org).await?;
        audit(&mut tx, actor, action, &org, json!({"reason": reason})).await?;
    }
    tx.commit().await?;
    Ok(org)
}

async fn audit(
    tx: &mut Tx,
    actor: &Actor,
    action: &'static str,
    org: &Organization,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    tx.audit(AuditEntry {
        at: org.updated_at,
        actor: actor.audit_name(),
        action,
        subject: Some(format!("organization:{}", org.id)),
        outcome: "ok",
        detail,
    })
    .await?;
    Ok(())
}
