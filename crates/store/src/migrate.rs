//! Shared migrations, applied at start-up. Each file under `migrations/` is written once in a portable subset of
//! SQL; the few words the two dialects spell differently are placeholders (`{{ID}}`) that [`Dialect`] fills in,
//! and the closed sets of values a column may hold are `{{CHECK …}}` placeholders ([`check`]), put in place
//! after the rest of their migration.
//! Written by hand rather than with `sqlx::migrate!` because that macro wants one folder per database and
//! would make us keep two copies of every migration in step.

mod check;

use std::collections::BTreeSet;

use sha2_free_checksum::checksum;
use sqlx::{Any, Row, Transaction};

use crate::{Dialect, StoreError};

pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "foundation", sql: include_str!("../migrations/0001_foundation.sql") },
    Migration { version: 2, name: "actors", sql: include_str!("../migrations/0002_actors.sql") },
    Migration { version: 3, name: "locks", sql: include_str!("../migrations/0003_locks.sql") },
    Migration { version: 4, name: "automatic_locks", sql: include_str!("../migrations/0004_automatic_locks.sql") },
    Migration { version: 5, name: "restore_sessions", sql: include_str!("../migrations/0005_restore_sessions.sql") },
    Migration { version: 6, name: "session_assurance", sql: include_str!("../migrations/0006_session_assurance.sql") },
    Migration { version: 7, name: "sign_in_sources", sql: include_str!("../migrations/0007_sign_in_sources.sql") },
    Migration { version: 8, name: "claims_and_checks", sql: include_str!("../migrations/0008_claims_and_checks.sql") },
    Migration { version: 9, name: "audit_tree", sql: include_str!("../migrations/0009_audit_tree.sql") },
    Migration {
        version: 10,
        name: "registration_decoys",
        sql: include_str!("../migrations/0010_registration_decoys.sql"),
    },
    Migration { version: 11, name: "purge_indexes", sql: include_str!("../migrations/0011_purge_indexes.sql") },
    Migration { version: 12, name: "check_constraints", sql: include_str!("../migrations/0012_check_constraints.sql") },
    Migration { version: 13, name: "target_outcomes", sql: include_str!("../migrations/0013_target_outcomes.sql") },
    Migration { version: 14, name: "oidc", sql: include_str!("../migrations/0014_oidc.sql") },
    Migration {
        version: 15,
        name: "contact_verifications",
        sql: include_str!("../migrations/0015_contact_verifications.sql"),
    },
    Migration {
        version: 16,
        name: "registry_biometrics",
        sql: include_str!("../migrations/0016_registry_biometrics.sql"),
    },
    Migration { version: 17, name: "biometric_checks", sql: include_str!("../migrations/0017_biometric_checks.sql") },
    Migration { version: 18, name: "account_events", sql: include_str!("../migrations/0018_account_events.sql") },
    Migration { version: 19, name: "ssf_streams", sql: include_str!("../migrations/0019_ssf_streams.sql") },
    Migration { version: 20, name: "ssf_events", sql: include_str!("../migrations/0020_ssf_events.sql") },
    Migration { version: 21, name: "ssf_push", sql: include_str!("../migrations/0021_ssf_push.sql") },
    Migration { version: 22, name: "cluster", sql: include_str!("../migrations/0022_cluster.sql") },
    Migration { version: 23, name: "ssf_subjects", sql: include_str!("../migrations/0023_ssf_subjects.sql") },
];

/// Applies every migration not yet recorded, all in one transaction. On PostgreSQL an advisory lock makes
/// concurrent starts of several nodes wait for each other instead of racing.
pub(crate) async fn run(tx: &mut Transaction<'static, Any>, dialect: Dialect) -> Result<usize, StoreError> {
    run_up_to(tx, dialect, i64::MAX).await
}

/// [`run`], stopping after migration `last` (tests of an upgrade start from an older schema).
pub(crate) async fn run_up_to(
    tx: &mut Transaction<'static, Any>,
    dialect: Dialect,
    last: i64,
) -> Result<usize, StoreError> {
    if dialect == Dialect::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(7310012022)").execute(&mut **tx).await?;
    }
    // Asked first rather than `CREATE TABLE IF NOT EXISTS`, on which PostgreSQL sends the notice `relation
    // "schema_migrations" already exists, skipping` at every start, which sqlx logs at info level. (The
    // advisory lock, or SQLite's writer transaction, keeps another node from creating it in between.)
    let exists = match dialect {
        Dialect::Postgres => {
            "SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT to_regclass('schema_migrations') AS t) r \
                              WHERE r.t IS NOT NULL"
        }
        Dialect::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
    };
    let exists: i64 = sqlx::query(exists).fetch_one(&mut **tx).await?.get(0);
    if exists == 0 {
        sqlx::raw_sql(
            "CREATE TABLE schema_migrations (
                 version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut **tx)
        .await?;
    }
    let applied: Vec<(i64, String)> = sqlx::query("SELECT version, checksum FROM schema_migrations")
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(|row| (row.get::<i64, _>(0), row.get::<String, _>(1)))
        .collect();
    let mut count = 0;
    // Columns a migration before the current one put a CHECK on (declaring one again replaces it).
    let mut checked = BTreeSet::new();
    for migration in MIGRATIONS.iter().filter(|m| m.version <= last) {
        let (plain, checks) = check::extract(migration.sql)?;
        let sum = checksum(migration.sql);
        if let Some((_, stored)) = applied.iter().find(|(v, _)| *v == migration.version) {
            if *stored != sum {
                return Err(StoreError::Migration(format!(
                    "migration {} ({}) was changed after it was applied",
                    migration.version, migration.name
                )));
            }
            checked.extend(checks.into_iter().map(|c| (c.table, c.column)));
            continue;
        }
        if plain.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--")) {
            sqlx::raw_sql(&dialect.render(&plain)).execute(&mut **tx).await?;
        }
        if migration.version == 9 {
            // Data, not schema: the hash chain's entries become the tree's first leaves, once.
            crate::audit::adopt_chain(tx).await?;
        }
        for check in checks {
            let refused: i64 = sqlx::query_scalar(&check.violations_sql()).fetch_one(&mut **tx).await?;
            if refused > 0 {
                return Err(StoreError::Migration(format!(
                    "migration {} ({}): {refused} rows of {}.{} hold a value outside {:?}; correct them, then start \
                     again",
                    migration.version,
                    migration.name,
                    check.table,
                    check.column,
                    check.values()
                )));
            }
            let again = !checked.insert((check.table.clone(), check.column.clone()));
            sqlx::raw_sql(&check.render(dialect, again)).execute(&mut **tx).await?;
        }
        sqlx::query("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)")
            .bind(migration.version)
            .bind(migration.name)
            .bind(sum)
            .bind(crate::time::now_ms())
            .execute(&mut **tx)
            .await?;
        count += 1;
    }
    Ok(count)
}

/// A stable checksum of a migration's text (FNV-1a, 64 bits): enough to notice an edited migration, no crypto
/// needed.
mod sha2_free_checksum {
    pub fn checksum(text: &str) -> String {
        let mut hash: u64 = 0xcbf29ce484222325;
        for byte in text.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x100000001b3);
        }
        format!("{hash:016x}")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use dinhdanh_domain::account::AccountEventKind;
    use dinhdanh_domain::account::{HolderKind, SignInPurpose};
    use dinhdanh_domain::actor::{OfficerRole, OrganizationKind, OrganizationStatus, Scope};
    use dinhdanh_domain::biometrics::{CheckPurpose, Modality};
    use dinhdanh_domain::bulk::TargetOutcome;
    use dinhdanh_domain::client::{ClientAuthMethod, ClientStatus, CredentialKind};
    use dinhdanh_domain::lock::Ground;
    use dinhdanh_domain::officer::OfficerStatus;
    use dinhdanh_domain::registry::CardStatus;
    use dinhdanh_domain::request::{RequestKind, RequestStatus, StepEvent};
    use dinhdanh_domain::{AccountStatus, Channel, Gender, Level};

    use super::MIGRATIONS;
    use super::check::{self, Rule};
    use crate::OutboxStatus;

    fn texts<T: Copy>(all: &[T], text: fn(T) -> &'static str) -> BTreeSet<String> {
        all.iter().map(|v| text(*v).to_owned()).collect()
    }

    /// Every column with a closed set of values, and that set as the code writes it.
    fn expected() -> BTreeMap<(&'static str, &'static str), (Rule, BTreeSet<String>)> {
        let levels: BTreeSet<String> = Level::ALL.iter().map(|l| l.number().to_string()).collect();
        let grounds = texts(Ground::ALL, Ground::as_str);
        let statuses = texts(RequestStatus::ALL, RequestStatus::as_str);
        let channels = texts(Channel::ALL, Channel::as_str);
        let genders = texts(Gender::ALL, Gender::as_str);
        let scopes = texts(Scope::ALL, Scope::as_str);
        let outcomes: BTreeSet<String> =
            TargetOutcome::ALL.iter().filter(|o| o.is_stored()).map(|o| o.as_str().to_owned()).collect();
        BTreeMap::from([
            (("registry_citizens", "gender"), (Rule::In, genders.clone())),
            (("registry_citizens", "card_status"), (Rule::In, texts(CardStatus::ALL, CardStatus::as_str))),
            (("registry_foreigners", "gender"), (Rule::In, genders)),
            (("accounts", "holder_kind"), (Rule::In, texts(HolderKind::ALL, HolderKind::as_str))),
            (("accounts", "level"), (Rule::In, levels.clone())),
            (("accounts", "status"), (Rule::In, texts(AccountStatus::ALL, AccountStatus::as_str))),
            (("outbox", "channel"), (Rule::In, channels.clone())),
            (("outbox", "status"), (Rule::In, texts(OutboxStatus::ALL, OutboxStatus::as_str))),
            (("organizations", "kind"), (Rule::In, texts(OrganizationKind::ALL, OrganizationKind::as_str))),
            (("organizations", "status"), (Rule::In, texts(OrganizationStatus::ALL, OrganizationStatus::as_str))),
            (("api_clients", "auth_method"), (Rule::In, texts(ClientAuthMethod::ALL, ClientAuthMethod::as_str))),
            (("api_clients", "status"), (Rule::In, texts(ClientStatus::ALL, ClientStatus::as_str))),
            (("api_clients", "scopes"), (Rule::Words, scopes.clone())),
            (("client_credentials", "kind"), (Rule::In, texts(CredentialKind::ALL, CredentialKind::as_str))),
            (("access_tokens", "scopes"), (Rule::Words, scopes)),
            (("officers", "roles"), (Rule::Words, texts(OfficerRole::ALL, OfficerRole::as_str))),
            (("officers", "status"), (Rule::In, texts(OfficerStatus::ALL, OfficerStatus::as_str))),
            (("locks", "ground"), (Rule::In, grounds.clone())),
            (("requests", "kind"), (Rule::In, texts(RequestKind::ALL, RequestKind::as_str))),
            (("requests", "ground"), (Rule::In, grounds)),
            (("requests", "status"), (Rule::In, statuses.clone())),
            (("requests", "is_override"), (Rule::In, BTreeSet::from(["0".to_owned(), "1".to_owned()]))),
            (("request_steps", "status"), (Rule::In, statuses)),
            (("request_steps", "event"), (Rule::In, texts(StepEvent::ALL, StepEvent::as_str))),
            (("holder_sign_ins", "channel"), (Rule::In, channels.clone())),
            (("contact_verifications", "channel"), (Rule::In, channels)),
            (("holder_sign_ins", "purpose"), (Rule::In, texts(SignInPurpose::ALL, SignInPurpose::as_str))),
            (("holder_sessions", "assurance"), (Rule::In, levels)),
            (("holder_sessions", "purpose"), (Rule::In, crate::holders::SESSION_PURPOSES.map(str::to_owned).into())),
            (("request_targets", "outcome"), (Rule::In, outcomes)),
            (("biometric_checks", "purpose"), (Rule::In, texts(CheckPurpose::ALL, CheckPurpose::as_str))),
            (("biometric_checks", "modality"), (Rule::In, texts(Modality::ALL, Modality::as_str))),
            (("holder_sessions", "biometric"), (Rule::In, texts(Modality::ALL, Modality::as_str))),
            (("account_events", "kind"), (Rule::In, texts(AccountEventKind::ALL, AccountEventKind::as_str))),
            (("ssf_streams", "status"), (Rule::In, ["enabled", "paused", "disabled"].map(str::to_owned).into())),
            (("biometric_checks", "matched"), (Rule::In, BTreeSet::from(["0".to_owned(), "1".to_owned()]))),
            (
                ("oidc_keys", "state"),
                (Rule::In, crate::oidc::KEY_STATES.iter().map(|s| s.as_str().to_owned()).collect()),
            ),
        ])
    }

    #[test]
    fn every_closed_set_of_values_is_checked_exactly_as_the_code_writes_it() {
        // The last declaration of a column wins, as when the migrations run.
        let mut declared = BTreeMap::new();
        for migration in MIGRATIONS {
            for c in check::extract(migration.sql).unwrap().1 {
                declared.insert((c.table.clone(), c.column.clone()), (c.rule, c.values()));
            }
        }
        let expected: BTreeMap<_, _> =
            expected().into_iter().map(|((t, c), v)| ((t.to_owned(), c.to_owned()), v)).collect();
        for (column, want) in &expected {
            match declared.get(column) {
                None => panic!("{column:?} has no CHECK: declare it in a new migration"),
                Some(got) => assert_eq!(
                    got, want,
                    "{column:?}: the CHECK allows {got:?}, the code writes {want:?}; declare it again in a new migration"
                ),
            }
        }
        let unknown: Vec<_> = declared.keys().filter(|k| !expected.contains_key(*k)).collect();
        assert!(unknown.is_empty(), "CHECKs this test does not compare with the code: {unknown:?}");
    }
}
