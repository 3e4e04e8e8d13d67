//! Organizations: create, read, list, update (including suspension).

use dinhdanh_domain::actor::{OrganizationKind, OrganizationStatus};
use dinhdanh_domain::organization::Organization;
use dinhdanh_domain::{Email, PhoneNumber};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::time::{from_ms, to_ms};
use crate::{Store, StoreError, Tx};

const COLUMNS: &str = "id, code, name, kind, parent_id, status, contact_email, contact_phone, created_at, updated_at";

fn organization_from_row(row: &AnyRow) -> Result<Organization, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("organization {what}"));
    Ok(Organization {
        id: row.try_get("id")?,
        code: row.try_get("code")?,
        name: row.try_get("name")?,
        kind: OrganizationKind::parse(&row.try_get::<String, _>("kind")?).ok_or_else(|| corrupt("kind"))?,
        parent_id: row.try_get("parent_id")?,
        status: OrganizationStatus::parse(&row.try_get::<String, _>("status")?).ok_or_else(|| corrupt("status"))?,
        contact_email: row
            .try_get::<Option<String>, _>("contact_email")?
            .map(|e| Email::parse(&e).map_err(|_| corrupt("email")))
            .transpose()?,
        contact_phone: row
            .try_get::<Option<String>, _>("contact_phone")?
            .map(|p| PhoneNumber::parse(&p).map_err(|_| corrupt("phone")))
            .transpose()?,
        created_at: from_ms(row.try_get("created_at")?)?,
        updated_at: from_ms(row.try_get("updated_at")?)?,
    })
}

impl Tx {
    /// [`StoreError::Conflict`] when the code is taken.
    pub async fn insert_organization(&mut self, org: &Organization) -> Result<(), StoreError> {
        sqlx::query(&format!("INSERT INTO organizations ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"))
            .bind(&org.id)
            .bind(&org.code)
            .bind(&org.name)
            .bind(org.kind.as_str())
            .bind(org.parent_id.clone())
            .bind(org.status.as_str())
            .bind(org.contact_email.as_ref().map(|e| e.as_str().to_owned()))
            .bind(org.contact_phone.as_ref().map(|p| p.as_str().to_owned()))
            .bind(to_ms(org.created_at))
            .bind(to_ms(org.updated_at))
            .execute(&mut *self.inner)
            .await
            .map_err(|e| StoreError::conflict_or(e, "an organization with this code"))?;
        Ok(())
    }

    /// Writes every changeable field of an organization (name, parent, status, contacts).
    pub async fn update_organization(&mut self, org: &Organization) -> Result<(), StoreError> {
        self.invalidates(crate::credentials::Kind::Organization);
        self.invalidates(crate::credentials::Kind::Officer);
        sqlx::query(
            "UPDATE organizations SET name = $1, parent_id = $2, status = $3, contact_email = $4, contact_phone = $5, \
             updated_at = $6 WHERE id = $7",
        )
        .bind(&org.name)
        .bind(org.parent_id.clone())
        .bind(org.status.as_str())
        .bind(org.contact_email.as_ref().map(|e| e.as_str().to_owned()))
        .bind(org.contact_phone.as_ref().map(|p| p.as_str().to_owned()))
        .bind(to_ms(org.updated_at))
        .bind(&org.id)
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }

    /// Reads an organization inside the transaction, without holding it.
    pub async fn organization(&mut self, id: &str) -> Result<Option<Organization>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM organizations WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *self.inner)
            .await?;
        row.as_ref().map(organization_from_row).transpose()
    }

    /// Reads an organization and holds it until the transaction ends.
    pub async fn lock_organization(&mut self, id: &str) -> Result<Option<Organization>, StoreError> {
        sqlx::query("UPDATE organizations SET id = id WHERE id = $1").bind(id).execute(&mut *self.inner).await?;
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM organizations WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *self.inner)
            .await?;
        row.as_ref().map(organization_from_row).transpose()
    }
}

impl Store {
    pub async fn organization(&self, id: &str) -> Result<Option<Organization>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM organizations WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(organization_from_row).transpose()
    }

    pub async fn organization_by_code(&self, code: &str) -> Result<Option<Organization>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM organizations WHERE code = $1"))
            .bind(code)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(organization_from_row).transpose()
    }

    /// All organizations, by code, optionally of one kind.
    pub async fn organizations(&self, kind: Option<OrganizationKind>) -> Result<Vec<Organization>, StoreError> {
        let rows =
            sqlx::query(&format!("SELECT {COLUMNS} FROM organizations WHERE ($1 IS NULL OR kind = $1) ORDER BY code"))
                .bind(kind.map(|k| k.as_str().to_owned()))
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(organization_from_row).collect()
    }

    /// The chain of parents above an organization, nearest first (for cycle checks and "superior body" rules).
    pub async fn organization_ancestors(&self, id: &str) -> Result<Vec<Organization>, StoreError> {
        let mut chain = Vec::new();
        let mut next = self.organization(id).await?.and_then(|o| o.parent_id);
        while let Some(parent_id) = next {
            if chain.iter().any(|o: &Organization| o.id == parent_id) || chain.len() > 64 {
                return Err(StoreError::Corrupt("organization parents form a cycle".into()));
            }
            let Some(parent) = self.organization(&parent_id).await? else { break };
            next = parent.parent_id.clone();
            chain.push(parent);
        }
        Ok(chain)
    }
}
