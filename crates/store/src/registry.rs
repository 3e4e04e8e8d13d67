//! The stored copy of the reference registries: bulk upsert (import and refresh) and lookup by identifier.
//! An upsert that finds a row identical to the one given leaves it untouched, so re-importing the same file
//! changes nothing.

use chrono::{DateTime, Utc};
use dinhdanh_domain::registry::{CardStatus, CitizenRecord, ForeignerRecord};
use dinhdanh_domain::{FullName, Gender, IdentificationNumber, Nationality, PassportNumber};
use sqlx::any::AnyRow;
use sqlx::{QueryBuilder, Row};

use crate::time::{date_from_text, date_to_text, to_ms};
use crate::{Dialect, Store, StoreError};

/// What a bulk upsert did: `written` rows were new or changed; the others were already as given.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UpsertOutcome {
    pub written: u64,
    pub unchanged: u64,
}

impl std::ops::AddAssign for UpsertOutcome {
    fn add_assign(&mut self, rhs: Self) {
        self.written += rhs.written;
        self.unchanged += rhs.unchanged;
    }
}

pub(crate) const CITIZEN_COLUMNS: &str = "id_number, full_name, date_of_birth, gender, place_of_origin, permanent_residence, card_status, died_on, updated_at";
const CITIZEN_CONFLICT: &str = " ON CONFLICT (id_number) DO UPDATE SET
    full_name = excluded.full_name, date_of_birth = excluded.date_of_birth, gender = excluded.gender,
    place_of_origin = excluded.place_of_origin, permanent_residence = excluded.permanent_residence,
    card_status = excluded.card_status, died_on = excluded.died_on, updated_at = excluded.updated_at
  WHERE registry_citizens.full_name IS DISTINCT FROM excluded.full_name
     OR registry_citizens.date_of_birth IS DISTINCT FROM excluded.date_of_birth
     OR registry_citizens.gender IS DISTINCT FROM excluded.gender
     OR registry_citizens.place_of_origin IS DISTINCT FROM excluded.place_of_origin
     OR registry_citizens.permanent_residence IS DISTINCT FROM excluded.permanent_residence
     OR registry_citizens.card_status IS DISTINCT FROM excluded.card_status
     OR registry_citizens.died_on IS DISTINCT FROM excluded.died_on";

pub(crate) const FOREIGNER_COLUMNS: &str = "nationality, passport_number, full_name, date_of_birth, gender, passport_expires_on, stay_expires_on, died_on, updated_at";
const FOREIGNER_CONFLICT: &str = " ON CONFLICT (nationality, passport_number) DO UPDATE SET
    full_name = excluded.full_name, date_of_birth = excluded.date_of_birth, gender = excluded.gender,
    passport_expires_on = excluded.passport_expires_on, stay_expires_on = excluded.stay_expires_on,
    died_on = excluded.died_on, updated_at = excluded.updated_at
  WHERE registry_foreigners.full_name IS DISTINCT FROM excluded.full_name
     OR registry_foreigners.date_of_birth IS DISTINCT FROM excluded.date_of_birth
     OR registry_foreigners.gender IS DISTINCT FROM excluded.gender
     OR registry_foreigners.passport_expires_on IS DISTINCT FROM excluded.passport_expires_on
     OR registry_foreigners.stay_expires_on IS DISTINCT FROM excluded.stay_expires_on
     OR registry_foreigners.died_on IS DISTINCT FROM excluded.died_on";

/// Rows per multi-row INSERT on SQLite (9 parameters each, well under SQLite's parameter limit).
const SQLITE_ROWS_PER_STATEMENT: usize = 400;

/// One registry row flattened to the text columns both tables share the shape of.
type Columns = [Option<String>; 8];

fn citizen_columns(r: &CitizenRecord) -> Columns {
    [
        Some(r.id_number.as_str().to_owned()),
        Some(r.full_name.as_str().to_owned()),
        Some(date_to_text(r.date_of_birth)),
        Some(r.gender.as_str().to_owned()),
        r.place_of_origin.clone(),
        r.permanent_residence.clone(),
        Some(r.card_status.as_str().to_owned()),
        r.died_on.map(date_to_text),
    ]
}

fn foreigner_columns(r: &ForeignerRecord) -> Columns {
    [
        Some(r.nationality.as_str().to_owned()),
        Some(r.passport_number.as_str().to_owned()),
        Some(r.full_name.as_str().to_owned()),
        Some(date_to_text(r.date_of_birth)),
        Some(r.gender.as_str().to_owned()),
        r.passport_expires_on.map(date_to_text),
        r.stay_expires_on.map(date_to_text),
        r.died_on.map(date_to_text),
    ]
}

impl Store {
    /// Inserts or updates a batch of citizens in one transaction.
    pub async fn upsert_citizens(
        &self,
        rows: &[CitizenRecord],
        now: DateTime<Utc>,
    ) -> Result<UpsertOutcome, StoreError> {
        let columns: Vec<Columns> = rows.iter().map(citizen_columns).collect();
        self.upsert_rows("registry_citizens", CITIZEN_COLUMNS, CITIZEN_CONFLICT, 1, columns, now).await
    }

    /// Inserts or updates a batch of foreigners in one transaction.
    pub async fn upsert_foreigners(
        &self,
        rows: &[ForeignerRecord],
        now: DateTime<Utc>,
    ) -> Result<UpsertOutcome, StoreError> {
        let columns: Vec<Columns> = rows.iter().map(foreigner_columns).collect();
        self.upsert_rows("registry_foreigners", FOREIGNER_COLUMNS, FOREIGNER_CONFLICT, 2, columns, now).await
    }

    async fn upsert_rows(
        &self,
        table: &str,
        column_list: &str,
        on_conflict: &str,
        key_columns: usize,
        rows: Vec<Columns>,
        now: DateTime<Utc>,
    ) -> Result<UpsertOutcome, StoreError> {
        if rows.is_empty() {
            return Ok(UpsertOutcome::default());
        }
        let given = rows.len() as u64;
        let rows = last_of_each_key(rows, key_columns);
        let duplicates = given - rows.len() as u64;
        let written = match (self.dialect, &self.pg) {
            (Dialect::Postgres, Some(pg)) => {
                // Whole columns as arrays: one statement and one round trip per batch, whatever its size.
                let mut arrays: Vec<Vec<Option<&str>>> = (0..8).map(|_| Vec::with_capacity(rows.len())).collect();
                for row in &rows {
                    for (array, value) in arrays.iter_mut().zip(row.iter()) {
                        array.push(value.as_deref());
                    }
                }
                let sql = format!(
                    "INSERT INTO {table} ({column_list}) SELECT *, $9::bigint FROM UNNEST($1::text[], $2::text[], \
                     $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]){on_conflict}"
                );
                let mut query = sqlx::query(&sql);
                for array in arrays {
                    query = query.bind(array);
                }
                query.bind(to_ms(now)).execute(pg).await?.rows_affected()
            }
            _ => {
                let mut tx = self.begin().await?;
                let mut written = 0;
                for chunk in rows.chunks(SQLITE_ROWS_PER_STATEMENT) {
                    let mut builder = QueryBuilder::new(format!("INSERT INTO {table} ({column_list}) "));
                    builder.push_values(chunk, |mut b, row| {
                        for value in row {
                            b.push_bind(value.clone());
                        }
                        b.push_bind(to_ms(now));
                    });
                    builder.push(on_conflict);
                    written += builder.build().execute(&mut *tx.inner).await?.rows_affected();
                }
                tx.commit().await?;
                written
            }
        };
        Ok(UpsertOutcome { written, unchanged: rows.len() as u64 - written + duplicates })
    }

    pub async fn find_citizen(&self, id: &IdentificationNumber) -> Result<Option<CitizenRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {CITIZEN_COLUMNS} FROM registry_citizens WHERE id_number = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| citizen_from_row(&r)).transpose()
    }

    pub async fn find_foreigner(
        &self,
        nationality: &Nationality,
        passport: &PassportNumber,
    ) -> Result<Option<ForeignerRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {FOREIGNER_COLUMNS} FROM registry_foreigners WHERE nationality = $1 AND passport_number = $2"
        ))
        .bind(nationality.as_str())
        .bind(passport.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| foreigner_from_row(&r)).transpose()
    }

    /// Writes the registries' biometric references, each replacing the one of its person and finger (or face),
    /// in one transaction: `(identity key, finger position, base64 ISO/IEC 19794-2 record)` and `(identity key,
    /// base64 face template)`. The caller has checked every value.
    pub async fn upsert_registry_biometrics(
        &self,
        fingerprints: &[(String, u8, String)],
        faces: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for (key, position, record) in fingerprints {
            sqlx::query(
                "INSERT INTO registry_fingerprints (identity_key, finger_position, record, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (identity_key, finger_position) \
                 DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(i64::from(*position))
            .bind(record)
            .bind(to_ms(now))
            .execute(&mut *tx.inner)
            .await?;
        }
        for (key, template) in faces {
            sqlx::query(
                "INSERT INTO registry_faces (identity_key, template, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (identity_key) DO UPDATE SET template = excluded.template, updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(template)
            .bind(to_ms(now))
            .execute(&mut *tx.inner)
            .await?;
        }
        tx.commit().await
    }

    /// A person's finger records, `(finger position, base64 record)` by position.
    pub async fn registry_fingerprints(&self, identity_key: &str) -> Result<Vec<(u8, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT finger_position, record FROM registry_fingerprints WHERE identity_key = $1 ORDER BY finger_position",
        )
        .bind(identity_key)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let position: i64 = r.try_get(0)?;
                let position =
                    u8::try_from(position).map_err(|_| StoreError::Corrupt(format!("finger position {position}")))?;
                Ok((position, r.try_get(1)?))
            })
            .collect()
    }

    /// A person's face template (base64), if the registry holds one.
    pub async fn registry_face(&self, identity_key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT template FROM registry_faces WHERE identity_key = $1")
            .bind(identity_key)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn count_citizens(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) FROM registry_citizens").fetch_one(&self.pool).await?.try_get(0)?)
    }

    pub async fn count_foreigners(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) FROM registry_foreigners").fetch_one(&self.pool).await?.try_get(0)?)
    }

    /// A few citizens, in identifier order, for demos and samples.
    /// Living people with a valid card, who can register and use an account (for demos).
    pub async fn sample_citizens(&self, limit: i64) -> Result<Vec<CitizenRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CITIZEN_COLUMNS} FROM registry_citizens WHERE died_on IS NULL AND card_status = 'valid' \
             ORDER BY id_number LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(citizen_from_row).collect()
    }

    /// A few foreigners, for demos and samples.
    /// Living foreigners whose passport and stay are still valid on `today` (for demos).
    pub async fn sample_foreigners(
        &self,
        limit: i64,
        today: chrono::NaiveDate,
    ) -> Result<Vec<ForeignerRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {FOREIGNER_COLUMNS} FROM registry_foreigners WHERE died_on IS NULL \
             AND (passport_expires_on IS NULL OR passport_expires_on >= $2) \
             AND (stay_expires_on IS NULL OR stay_expires_on >= $2) \
             ORDER BY nationality, passport_number LIMIT $1"
        ))
        .bind(limit)
        .bind(date_to_text(today))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(foreigner_from_row).collect()
    }
}

/// A batch may name the same identity twice (a registry export with a correction appended): the last row wins,
/// as it would if the rows were applied one by one. PostgreSQL refuses to touch one row twice in a statement.
fn last_of_each_key(rows: Vec<Columns>, key_columns: usize) -> Vec<Columns> {
    // Keys strictly increasing (the import sorts its batches): no key twice, nothing to look up.
    if rows.windows(2).all(|w| w[0][..key_columns] < w[1][..key_columns]) {
        return rows;
    }
    let mut position = std::collections::HashMap::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        position.insert(row[..key_columns].to_vec(), i);
    }
    if position.len() == rows.len() {
        return rows;
    }
    rows.into_iter()
        .enumerate()
        .filter(|(i, row)| position[&row[..key_columns].to_vec()] == *i)
        .map(|(_, r)| r)
        .collect()
}

fn corrupt<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> StoreError {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}

fn opt_date(row: &AnyRow, column: &str) -> Result<Option<chrono::NaiveDate>, StoreError> {
    row.try_get::<Option<String>, _>(column)?.as_deref().map(date_from_text).transpose()
}

pub(crate) fn citizen_from_row(row: &AnyRow) -> Result<CitizenRecord, StoreError> {
    Ok(CitizenRecord {
        id_number: IdentificationNumber::from_stored(row.try_get("id_number")?),
        full_name: FullName::parse(&row.try_get::<String, _>("full_name")?).map_err(corrupt("full name"))?,
        date_of_birth: date_from_text(&row.try_get::<String, _>("date_of_birth")?)?,
        gender: Gender::parse(&row.try_get::<String, _>("gender")?).map_err(corrupt("gender"))?,
        place_of_origin: row.try_get("place_of_origin")?,
        permanent_residence: row.try_get("permanent_residence")?,
        card_status: CardStatus::parse(&row.try_get::<String, _>("card_status")?)
            .ok_or_else(|| StoreError::Corrupt("card status".into()))?,
        died_on: opt_date(row, "died_on")?,
    })
}

pub(crate) fn foreigner_from_row(row: &AnyRow) -> Result<ForeignerRecord, StoreError> {
    Ok(ForeignerRecord {
        nationality: Nationality::parse(&row.try_get::<String, _>("nationality")?).map_err(corrupt("nationality"))?,
        passport_number: PassportNumber::parse(&row.try_get::<String, _>("passport_number")?)
            .map_err(corrupt("passport"))?,
        full_name: FullName::parse(&row.try_get::<String, _>("full_name")?).map_err(corrupt("full name"))?,
        date_of_birth: date_from_text(&row.try_get::<String, _>("date_of_birth")?)?,
        gender: Gender::parse(&row.try_get::<String, _>("gender")?).map_err(corrupt("gender"))?,
        passport_expires_on: opt_date(row, "passport_expires_on")?,
        stay_expires_on: opt_date(row, "stay_expires_on")?,
        died_on: opt_date(row, "died_on")?,
    })
}
