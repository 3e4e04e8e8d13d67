//! Automatic locks from the registries, on SQLite and PostgreSQL: a registry import or refresh that records a
//! card revoked or retained, a death, or a foreigner's passport or stay expired places the lock by itself — as a
//! system request that takes effect at once, with its steps, the holder's notice, the audit and the revocation of
//! sessions — and lifts it when the ground ends, never for a death; the daily expiry check reads the day in
//! Vietnam; other parties' locks are never touched; a second run changes nothing.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use dinhdanh_domain::account::HolderKind;
use dinhdanh_domain::actor::OrganizationKind;
use dinhdanh_domain::authority::Route;
use dinhdanh_domain::lock::{Ground, Lift, Lock, Party};
use dinhdanh_domain::registry::{CardStatus, CitizenRecord, ForeignerRecord};
use dinhdanh_domain::request::{RequestKind, RequestStatus};
use dinhdanh_domain::{
    Account, AccountId, AccountStatus, Email, FullName, Gender, IdentificationNumber, IdentityKey, Level, Nationality,
    PassportNumber, PhoneNumber, ProvinceTable,
};
use dinhdanh_server::clock::Clock;
use dinhdanh_server::service::automatic::{ReconcileReport, reconcile_automatic_locks};
use dinhdanh_store::on_both_backends;
use reqwest::Method;
use serde_json::json;

mod support;
use support::TestServer;

const MAI: &str = "001190123456";

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn mai(card_status: CardStatus, died_on: Option<NaiveDate>) -> CitizenRecord {
    CitizenRecord {
        id_number: IdentificationNumber::parse(MAI, &ProvinceTable::builtin()).unwrap(),
        full_name: FullName::parse("Trần Thị Mai").unwrap(),
        date_of_birth: d(1990, 3, 15),
        gender: Gender::Female,
        place_of_origin: None,
        permanent_residence: None,
        card_status,
        died_on,
    }
}

fn kim(passport_expires_on: Option<NaiveDate>, stay_expires_on: Option<NaiveDate>) -> ForeignerRecord {
    ForeignerRecord {
        passport_number: PassportNumber::parse("M1234567").unwrap(),
        nationality: Nationality::parse("KOR").unwrap(),
        full_name: FullName::parse("Kim Min-jun").unwrap(),
        date_of_birth: d(1985, 5, 5),
        gender: Gender::Male,
        passport_expires_on,
        stay_expires_on,
        died_on: None,
    }
}

async fn citizen_row(server: &TestServer, record: CitizenRecord) {
    server.store.upsert_citizens(&[record], server.clock.now()).await.unwrap();
}

async fn foreigner_row(server: &TestServer, record: ForeignerRecord) {
    server.store.upsert_foreigners(&[record], server.clock.now()).await.unwrap();
}

/// An active Level 1 account for the foreigner of [`kim`], with a live session.
async fn foreign_holder(server: &TestServer) -> (Account, String) {
    let now = server.clock.now();
    let account = Account {
        id: AccountId::new(uuid::Uuid::new_v4().to_string()),
        identity_key: IdentityKey::foreigner(
            &Nationality::parse("KOR").unwrap(),
            &PassportNumber::parse("M1234567").unwrap(),
        ),
        holder_kind: HolderKind::Foreigner,
        full_name: FullName::parse("Kim Min-jun").unwrap(),
        level: Level::One,
        status: AccountStatus::Active,
        phone: Some(PhoneNumber::parse("0987654321").unwrap()),
        email: Some(Email::parse("kim@example.kr").unwrap()),
        password_hash: "unused".into(),
        created_at: now,
        activated_at: Some(now),
    };
    let (token, hash) = dinhdanh_server::secrets::new_token(dinhdanh_server::auth::HOLDER_SESSION_PREFIX);
    let mut tx = server.store.begin().await.unwrap();
    tx.insert_account(&account).await.unwrap();
    tx.insert_holder_session(&hash, &account.id, Level::One, false, now, now + Duration::hours(1)).await.unwrap();
    tx.commit().await.unwrap();
    (account, token)
}

async fn reconcile(server: &TestServer) -> ReconcileReport {
    reconcile_automatic_locks(&server.state).await.unwrap()
}

fn counts(report: ReconcileReport) -> (u64, u64) {
    (report.locks_placed, report.locks_lifted)
}

async fn active(server: &TestServer, account: &Account) -> Vec<Lock> {
    server.store.active_locks(&account.id, server.clock.now()).await.unwrap()
}

async fn grounds(server: &TestServer, account: &Account) -> Vec<Ground> {
    active(server, account).await.into_iter().map(|l| l.ground).collect()
}

/// What a run leaves behind, to show that a second run adds nothing.
async fn footprint(server: &TestServer, account: &Account) -> (usize, usize, usize, usize) {
    let store = &server.store;
    (
        store.locks_of_account(&account.id).await.unwrap().len(),
        store.requests_of_account(&account.id, 1000).await.unwrap().len(),
        store.outbox_messages(None, 1000).await.unwrap().len(),
        store.audit_of_subject(account.id.as_str(), 1000).await.unwrap().len(),
    )
}

async fn signed_in(server: &TestServer, token: &str) -> bool {
    let (status, _) = server.call(Method::GET, "/v1/requests", token, None).await;
    status != 401
}

/// Moves the manual clock to `at` (forward only).
fn move_to(server: &TestServer, at: DateTime<Utc>) {
    let now = server.clock.now();
    assert!(at >= now);
    server.clock.advance(at - now);
}

on_both_backends! {
    a_revoked_card_places_the_lock_through_a_system_request_and_a_new_card_lifts_it(db) {
        let server = TestServer::start(&db).await;
        let (holder, token) = server.holder(MAI, Level::One).await;
        citizen_row(&server, mai(CardStatus::Valid, None)).await;
        assert_eq!(counts(reconcile(&server).await), (0, 0));
        assert!(signed_in(&server, &token).await);

        // The registry's refresh records the card revoked.
        server.clock.advance(Duration::hours(1));
        citizen_row(&server, mai(CardStatus::Revoked, None)).await;
        let report = reconcile(&server).await;
        assert_eq!((report.accounts_checked, report.locks_placed, report.locks_lifted), (1, 1, 0));
        let locks = active(&server, &holder).await;
        assert_eq!(locks.len(), 1);
        let lock = &locks[0];
        assert_eq!((lock.ground, &lock.placed_by), (Ground::IdentityDocumentRevoked, &Party::System));
        assert!(lock.reason.contains("thu hồi") && lock.reason.contains("revoked"), "{}", lock.reason);
        assert!(lock.reference.as_deref().unwrap().contains("population.card_status=revoked"), "{:?}", lock.reference);

        // The request that carried it: the system's, immediate, effective, with its two steps.
        let request = server.store.request(lock.request_id.as_deref().unwrap()).await.unwrap().unwrap();
        assert_eq!((request.kind, request.status, request.route), (RequestKind::Lock, RequestStatus::Effective, Route::Immediate));
        assert_eq!(request.requester, Party::System);
        let steps = server.store.request_steps(&request.id).await.unwrap();
        assert_eq!(steps.iter().map(|s| s.event.as_str()).collect::<Vec<_>>(), ["received", "effective"]);

        // The holder is told on every channel, and every session ended.
        let notices = server.store.outbox_messages(None, 50).await.unwrap();
        let told: Vec<_> = notices
            .iter()
            .filter(|m| m.kind == "request_update" && m.body.contains(&request.tracking_code.to_string()))
            .collect();
        assert_eq!(told.len(), 2, "SMS and e-mail");
        assert!(told[0].body.contains("thẻ căn cước bị thu hồi"), "{}", told[0].body);
        assert!(!signed_in(&server, &token).await);

        // Audited as the system, without personal data.
        let audit = server.store.audit_of_subject(holder.id.as_str(), 50).await.unwrap();
        let place = audit.iter().find(|a| a.action == "lock.place").expect("lock.place audited");
        assert_eq!(place.actor, "system");
        assert!(audit.iter().any(|a| a.action == "request.receive" && a.actor == "system"));
        for entry in &audit {
            let detail = entry.detail.to_string();
            assert!(!detail.contains(MAI) && !detail.contains("Trần") && !detail.contains("1990"), "{detail}");
        }

        // A second run changes nothing.
        let before = footprint(&server, &holder).await;
        let again = reconcile(&server).await;
        assert_eq!((again.accounts_checked, again.locks_placed, again.locks_lifted), (0, 0, 0));
        assert_eq!(footprint(&server, &holder).await, before);

        // A new card is issued: the system lifts its lock, with a request of its own, and tells the holder.
        server.clock.advance(Duration::days(3));
        citizen_row(&server, mai(CardStatus::Valid, None)).await;
        assert_eq!(counts(reconcile(&server).await), (0, 1));
        assert!(active(&server, &holder).await.is_empty());
        let lifted = server.store.locks_of_account(&holder.id).await.unwrap().remove(0).lifted.unwrap();
        assert_eq!(lifted.by, Party::System);
        let unlock = server.store.request(lifted.request_id.as_deref().unwrap()).await.unwrap().unwrap();
        assert_eq!((unlock.kind, unlock.status), (RequestKind::Unlock, RequestStatus::Effective));
        let audit = server.store.audit_of_subject(holder.id.as_str(), 50).await.unwrap();
        assert!(audit.iter().any(|a| a.action == "lock.lift" && a.actor == "system"));
        assert!(server.store.outbox_messages(None, 50).await.unwrap().iter().any(|m| m.body.contains(&unlock.tracking_code.to_string())));
        let new_session = server.holder_session(&holder).await;
        assert!(signed_in(&server, &new_session).await);
        assert_eq!(counts(reconcile(&server).await), (0, 0));
    }

    a_retained_card_is_the_same_ground_in_the_registrys_word(db) {
        let server = TestServer::start(&db).await;
        let (holder, _) = server.holder(MAI, Level::One).await;
        citizen_row(&server, mai(CardStatus::Retained, None)).await;
        assert_eq!(counts(reconcile(&server).await), (1, 0));
        let lock = active(&server, &holder).await.remove(0);
        assert_eq!(lock.ground, Ground::IdentityDocumentRevoked);
        assert!(lock.reason.contains("tạm giữ") && lock.reason.contains("retained"), "{}", lock.reason);
        // Revoked after being retained: the ground still holds, nothing to do.
        server.clock.advance(Duration::hours(1));
        citizen_row(&server, mai(CardStatus::Revoked, None)).await;
        assert_eq!(counts(reconcile(&server).await), (0, 0));
    }

    a_death_places_a_lock_that_the_registry_never_lifts(db) {
        let server = TestServer::start(&db).await;
        let (holder, _) = server.holder(MAI, Level::One).await;
        citizen_row(&server, mai(CardStatus::Valid, None)).await;
        server.clock.advance(Duration::hours(1));
        citizen_row(&server, mai(CardStatus::Valid, Some(d(2026, 5, 30)))).await;
        assert_eq!(counts(reconcile(&server).await), (1, 0));
        assert_eq!(grounds(&server, &holder).await, [Ground::HolderDeceased]);
        // The registry takes the death back: the lock stays (only the supervisors' override lifts it).
        server.clock.advance(Duration::days(1));
        citizen_row(&server, mai(CardStatus::Valid, None)).await;
        assert_eq!(counts(reconcile(&server).await), (0, 0));
        assert_eq!(grounds(&server, &holder).await, [Ground::HolderDeceased]);
        let before = footprint(&server, &holder).await;
        reconcile(&server).await;
        assert_eq!(footprint(&server, &holder).await, before);
    }

    an_expired_passport_is_caught_by_the_periodic_job_only_after_its_last_valid_day(db) {
        let server = TestServer::start(&db).await;
        let (holder, _) = foreign_holder(&server).await;
        // Valid until 2 June 2026; the clock starts on 1 June, 15:00 in Hà Nội.
        foreigner_row(&server, kim(Some(d(2026, 6, 2)), Some(d(2027, 1, 1)))).await;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let jobs = tokio::spawn(dinhdanh_server::run_background_jobs(server.state.clone(), StdDuration::from_millis(50), async move {
            let _ = stopped.await;
        }));
        tokio::time::sleep(StdDuration::from_millis(300)).await;
        assert!(grounds(&server, &holder).await.is_empty());
        // The last valid day, 23:59 in Hà Nội: still valid.
        move_to(&server, Utc.with_ymd_and_hms(2026, 6, 2, 16, 59, 0).unwrap());
        tokio::time::sleep(StdDuration::from_millis(300)).await;
        assert!(grounds(&server, &holder).await.is_empty());
        let token = server.holder_session(&holder).await;
        assert!(signed_in(&server, &token).await);
        // Midnight in Hà Nội (still 2 June in UTC): expired.
        move_to(&server, Utc.with_ymd_and_hms(2026, 6, 2, 17, 1, 0).unwrap());
        let mut waited = 0;
        while grounds(&server, &holder).await.is_empty() {
            assert!(waited < 200, "the periodic job did not place the lock");
            tokio::time::sleep(StdDuration::from_millis(50)).await;
            waited += 1;
        }
        let _ = stop.send(());
        jobs.await.unwrap();
        assert_eq!(grounds(&server, &holder).await, [Ground::TravelDocumentExpired]);
        let lock = active(&server, &holder).await.remove(0);
        assert!(lock.reference.as_deref().unwrap().contains("immigration.passport_expires_on=2026-06-02"), "{:?}", lock.reference);
        assert!(!signed_in(&server, &token).await);
        assert_eq!(counts(reconcile(&server).await), (0, 0), "the job placed it once");
        // A refresh records the renewed passport: lifted.
        server.clock.advance(Duration::days(2));
        foreigner_row(&server, kim(Some(d(2036, 6, 1)), Some(d(2027, 1, 1)))).await;
        assert_eq!(counts(reconcile(&server).await), (0, 1));
        assert!(grounds(&server, &holder).await.is_empty());
    }

    an_ended_stay_is_locked_from_the_next_day_in_vietnam_and_an_extension_lifts_it(db) {
        let server = TestServer::start(&db).await;
        let (holder, _) = foreign_holder(&server).await;
        foreigner_row(&server, kim(Some(d(2030, 1, 1)), Some(d(2026, 6, 5)))).await;
        move_to(&server, Utc.with_ymd_and_hms(2026, 6, 5, 16, 0, 0).unwrap()); // 23:00 on 5 June in Hà Nội
        assert_eq!(counts(reconcile(&server).await), (0, 0));
        move_to(&server, Utc.with_ymd_and_hms(2026, 6, 5, 17, 0, 0).unwrap()); // 00:00 on 6 June in Hà Nội
        assert_eq!(counts(reconcile(&server).await), (1, 0));
        assert_eq!(grounds(&server, &holder).await, [Ground::ResidenceExpired]);
        assert_eq!(counts(reconcile(&server).await), (0, 0));
        // The stay is extended.
        server.clock.advance(Duration::days(1));
        foreigner_row(&server, kim(Some(d(2030, 1, 1)), Some(d(2026, 12, 31)))).await;
        assert_eq!(counts(reconcile(&server).await), (0, 1));
        assert!(grounds(&server, &holder).await.is_empty());
        // It ends again later: a new lock.
        move_to(&server, Utc.with_ymd_and_hms(2027, 1, 1, 1, 0, 0).unwrap());
        assert_eq!(counts(reconcile(&server).await), (1, 0));
    }

    the_holders_and_an_authoritys_locks_are_never_touched(db) {
        let server = TestServer::start(&db).await;
        let (holder, token) = server.holder(MAI, Level::One).await;
        citizen_row(&server, mai(CardStatus::Valid, None)).await;
        let (status, own) = server.call(Method::POST, "/v1/lock-requests", &token, Some(json!({"reason": "mất điện thoại"}))).await;
        assert_eq!(status, 201, "{own}");
        // A court's lock (written as the approved request would leave it).
        let court = server.organization("TAND-HN", OrganizationKind::ProsecutingAgency).await;
        let court_lock = Lock {
            id: uuid::Uuid::new_v4().to_string(),
            account_id: holder.id.clone(),
            ground: Ground::AuthorityRequest,
            placed_by: Party::Organization { organization_id: court.id.clone(), kind: OrganizationKind::ProsecutingAgency },
            legal_basis: None,
            reference: None,
            reason: "điều tra".into(),
            effective_at: server.clock.now(),
            ends_at: None,
            request_id: None,
            lifted: None,
        };
        let mut tx = server.store.begin().await.unwrap();
        tx.insert_lock(&court_lock).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(counts(reconcile(&server).await), (0, 0));

        server.clock.advance(Duration::hours(1));
        citizen_row(&server, mai(CardStatus::Revoked, None)).await;
        assert_eq!(counts(reconcile(&server).await), (1, 0));
        let mut held = grounds(&server, &holder).await;
        held.sort();
        assert_eq!(held, [Ground::HolderRequest, Ground::AuthorityRequest, Ground::IdentityDocumentRevoked]);
        server.clock.advance(Duration::hours(1));
        citizen_row(&server, mai(CardStatus::Valid, None)).await;
        assert_eq!(counts(reconcile(&server).await), (0, 1));
        let mut held = grounds(&server, &holder).await;
        held.sort();
        assert_eq!(held, [Ground::HolderRequest, Ground::AuthorityRequest]);
        assert_eq!(counts(reconcile(&server).await), (0, 0));
    }

    a_supervisors_override_holds_until_the_registry_changes_again(db) {
        let server = TestServer::start(&db).await;
        let (holder, _) = server.holder(MAI, Level::One).await;
        citizen_row(&server, mai(CardStatus::Revoked, None)).await;
        assert_eq!(counts(reconcile(&server).await), (1, 0));
        // Two supervisors lift it with a legal basis (the override, as its approval leaves it).
        server.clock.advance(Duration::hours(1));
        let lock = active(&server, &holder).await.remove(0);
        let lift = Lift {
            at: server.clock.now(),
            by: Party::Officer { officer_id: "supervisor-1".into() },
            legal_basis: None,
            reason: "registry error confirmed".into(),
            request_id: None,
        };
        let mut tx = server.store.begin().await.unwrap();
        assert!(tx.lift_lock(&lock.id, &lift).await.unwrap());
        tx.commit().await.unwrap();
        // The registry still says revoked, but the system does not undo the supervisors' decision.
        let report = reconcile(&server).await;
        assert_eq!((report.accounts_checked, report.locks_placed), (0, 0));
        assert!(grounds(&server, &holder).await.is_empty());
        // A later change in the registry (the card is retained now) is a new fact: locked again.
        server.clock.advance(Duration::hours(1));
        citizen_row(&server, mai(CardStatus::Retained, None)).await;
        assert_eq!(counts(reconcile(&server).await), (1, 0));
    }

    accounts_without_a_ground_or_still_pending_are_not_candidates(db) {
        let server = TestServer::start(&db).await;
        let (holder, _) = server.holder(MAI, Level::One).await;
        citizen_row(&server, mai(CardStatus::Valid, None)).await;
        // Other registry rows with grounds but no account; one foreigner with an expired passport and no account.
        let mut other = mai(CardStatus::Revoked, Some(d(2020, 1, 1)));
        other.id_number = IdentificationNumber::parse("001190654321", &ProvinceTable::builtin()).unwrap();
        citizen_row(&server, other.clone()).await;
        // A registration never activated is not locked (it expires and is removed instead).
        let now = server.clock.now();
        let pending = Account {
            id: AccountId::new(uuid::Uuid::new_v4().to_string()),
            identity_key: IdentityKey::citizen(&other.id_number),
            holder_kind: HolderKind::Citizen,
            full_name: other.full_name.clone(),
            level: Level::One,
            status: AccountStatus::PendingActivation,
            phone: None,
            email: Some(Email::parse("pending@example.vn").unwrap()),
            password_hash: "unused".into(),
            created_at: now,
            activated_at: None,
        };
        let mut tx = server.store.begin().await.unwrap();
        tx.insert_account(&pending).await.unwrap();
        tx.commit().await.unwrap();
        foreigner_row(&server, kim(Some(d(2020, 1, 1)), None)).await;
        let report = reconcile(&server).await;
        assert_eq!(report, ReconcileReport::default());
        assert!(grounds(&server, &holder).await.is_empty());
    }
}
