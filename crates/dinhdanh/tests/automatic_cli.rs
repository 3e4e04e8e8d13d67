//! `dinhdanh registry import` places and lifts the automatic locks the imported rows support, on SQLite and
//! PostgreSQL, through the real binary.

use std::process::{Command, Output};

use chrono::Utc;
use dinhdanh_domain::account::HolderKind;
use dinhdanh_domain::lock::{Ground, Party};
use dinhdanh_domain::{
    Account, AccountId, AccountStatus, Email, FullName, IdentificationNumber, IdentityKey, Level, ProvinceTable,
};
use dinhdanh_store::testing::TestDb;

const MAI: &str = "001190123456";

fn import(url: &str, file: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dinhdanh"))
        .args(["registry", "import", "--kind", "population", "--database-url", url, file.to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run dinhdanh")
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn population(dir: &std::path::Path, card_status: &str) -> std::path::PathBuf {
    let file = dir.join(format!("population-{card_status}.csv"));
    std::fs::write(
        &file,
        format!(
            "id_number,full_name,date_of_birth,gender,card_status\n\
             {MAI},Trần Thị Mai,1990-03-15,female,{card_status}\n\
             001190654321,Lê Thị Lan,1990-07-01,female,revoked\n"
        ),
    )
    .unwrap();
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_import_through_the_cli_places_and_lifts_automatic_locks() {
    for db in [TestDb::sqlite(), TestDb::postgres().await] {
        let dir = tempfile::tempdir().unwrap();
        let store = db.store().await;
        let now = Utc::now();
        let id = IdentificationNumber::parse(MAI, &ProvinceTable::builtin()).unwrap();
        let account = Account {
            id: AccountId::new(format!("acc-{}", db.dialect.name())),
            identity_key: IdentityKey::citizen(&id),
            holder_kind: HolderKind::Citizen,
            full_name: FullName::parse("Trần Thị Mai").unwrap(),
            level: Level::One,
            status: AccountStatus::Active,
            phone: None,
            email: Some(Email::parse("mai@example.vn").unwrap()),
            password_hash: "unused".into(),
            created_at: now,
            activated_at: Some(now),
        };
        let mut tx = store.begin().await.unwrap();
        tx.insert_account(&account).await.unwrap();
        tx.commit().await.unwrap();

        let out = stdout(&import(&db.url, &population(dir.path(), "revoked")));
        assert!(out.contains("automatic locks: 1 placed, 0 lifted"), "{out}");
        let locks = store.active_locks(&account.id, Utc::now()).await.unwrap();
        assert_eq!(locks.len(), 1);
        assert_eq!((locks[0].ground, &locks[0].placed_by), (Ground::IdentityDocumentRevoked, &Party::System));
        let notices = store.outbox_messages(None, 10).await.unwrap();
        assert!(notices.iter().any(|m| m.kind == "request_update" && m.recipient == "mai@example.vn"));

        // The same file again: nothing changes.
        let out = stdout(&import(&db.url, &population(dir.path(), "revoked")));
        assert!(out.contains("0 new or changed") && out.contains("automatic locks: 0 placed, 0 lifted"), "{out}");

        // A new card issued: lifted.
        let out = stdout(&import(&db.url, &population(dir.path(), "valid")));
        assert!(out.contains("automatic locks: 0 placed, 1 lifted"), "{out}");
        assert!(store.active_locks(&account.id, Utc::now()).await.unwrap().is_empty());
        store.close().await;
    }
}
