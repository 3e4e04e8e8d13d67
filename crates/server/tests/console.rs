//! The officer console over real HTTP, on SQLite and on PostgreSQL, driven like a browser without JavaScript:
//! sign-in with password and TOTP (a wrong code refused and audited), an authority's lock request taken through
//! a reviewer and a supervisor (separation of duties refusing the forwarder's approval), forms without the CSRF
//! token, a suspended organization's officer, the audited account lookup and the dashboard's numbers; the
//! Shared Signals dead letters an administrator sees and sends again.

use chrono::Duration;
use dinhdanh_domain::Level;
use dinhdanh_domain::actor::{OrganizationKind, Scope};
use dinhdanh_domain::lock::Ground;
use dinhdanh_domain::request::RequestStatus;
use dinhdanh_server::clock::Clock;
use dinhdanh_store::on_both_backends;
use reqwest::Method;
use serde_json::{Value, json};

mod support;
use support::browser::{Browser, Page};
use support::{EnrolledOfficer, OFFICER_PASSWORD, TestServer};

const MAI: &str = "001190123456";
const PASSWORD: &str = OFFICER_PASSWORD;

/// The code the officer's app shows at the server's time.
fn code(server: &TestServer, officer: &EnrolledOfficer) -> String {
    officer.code_at(server.clock.now().timestamp())
}

/// An officer of `organization_id` with `roles`, created by an administrator and enrolled over the API.
async fn officer(
    server: &TestServer,
    admin: &str,
    organization_id: &str,
    username: &str,
    roles: &[&str],
) -> EnrolledOfficer {
    server.enrolled_officer(admin, organization_id, username, roles).await
}

/// The operator organization (C06) and an administrator's token.
async fn operator(server: &TestServer) -> (String, String) {
    let admin = server.admin().await;
    let operator = server.store.organization_by_code("C06").await.unwrap().unwrap();
    (operator.id, admin)
}

fn csrf(browser: &Browser) -> String {
    browser.cookies.get("dd_console_csrf").cloned().expect("the console set its CSRF cookie")
}

/// A code that is not this one.
fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 500_000) % 1_000_000)
}

/// Posts the sign-in form as the officer types it, with `code`.
async fn post_sign_in(server: &TestServer, browser: &mut Browser, officer: &EnrolledOfficer, code: &str) -> Page {
    let form = browser.get(&server.url("/console")).await;
    assert!(form.has_field("username") && form.has_field("code"), "{}", form.html);
    let csrf = csrf(browser);
    let fields = [("csrf", csrf.as_str()), ("username", &officer.username), ("password", PASSWORD), ("code", code)];
    browser.post(&server.url("/console/sign-in"), &fields).await
}

/// Signs the officer in through the console's form, on to the queue.
async fn sign_in(server: &TestServer, officer: &EnrolledOfficer) -> Browser {
    sign_in_to(server, officer, "/console/requests").await
}

/// Signs in, landing on `landing`.
async fn sign_in_to(server: &TestServer, officer: &EnrolledOfficer, landing: &str) -> Browser {
    let mut browser = Browser::new();
    let page = post_sign_in(server, &mut browser, officer, &code(server, officer)).await;
    assert_eq!((page.status, page.location.as_deref()), (303, Some(landing)), "{}", page.html);
    server.clock.advance(Duration::seconds(30));
    browser
}

async fn audit(server: &TestServer, action: &str) -> Vec<dinhdanh_store::AuditRecord> {
    server.store.recent_audit(Some(action), 1000).await.unwrap()
}

/// An authority's lock request on Mai's account, filed over the API: its id and tracking code.
async fn court_lock_request(server: &TestServer) -> (String, String) {
    let scopes = [Scope::LocksRequest, Scope::LocksLift];
    let (_, court) = server.organization_token("TAND-HN", OrganizationKind::ProsecutingAgency, &scopes).await;
    let basis = json!({"document_kind": "Quyết định", "number": "123/QĐ-CSĐT", "issued_on": "2026-05-30",
                       "issuing_body": "Cơ quan Cảnh sát điều tra Công an TP Hà Nội", "signer": "Nguyễn Văn A"});
    let body = json!({"ground": "authority_request", "account": {"id_number": MAI}, "legal_basis": basis,
                      "reason": "phục vụ điều tra / for an investigation"});
    let (status, body) = server.call(Method::POST, "/v1/lock-requests", &court, Some(body)).await;
    assert_eq!(status, 201, "{body}");
    (body["id"].as_str().unwrap().to_owned(), body["tracking_code"].as_str().unwrap().to_owned())
}

async fn post_step(server: &TestServer, browser: &mut Browser, request_id: &str, step: &str, note: &str) -> Page {
    let csrf = csrf(browser);
    let url = server.url(&format!("/console/requests/{request_id}/{step}"));
    browser.post(&url, &[("csrf", &csrf), ("note", note)]).await
}

/// The cells of the row headed `label` in the table with this id.
fn row(page: &Page, table_id: &str, label: &str) -> Vec<String> {
    let start =
        page.html.find(&format!("<table id=\"{table_id}\"")).unwrap_or_else(|| panic!("{table_id}: {}", page.html));
    let table = &page.html[start..start + page.html[start..].find("</table>").unwrap()];
    let row_start =
        table.find(&format!("<th scope=\"row\">{label}</th>")).unwrap_or_else(|| panic!("{label}: {table}"));
    let row = &table[row_start..row_start + table[row_start..].find("</tr>").unwrap()];
    row.split("<td>").skip(1).map(|cell| cell.split("</td>").next().unwrap().to_owned()).collect()
}

on_both_backends! {
    an_officer_signs_in_with_password_and_totp_and_a_wrong_code_is_refused_and_audited(db) {
        let server = TestServer::start(&db).await;
        let (operator, admin) = operator(&server).await;
        let hoa = officer(&server, &admin, &operator, "hoa.lt", &["reviewer"]).await;
        let mut browser = Browser::new();

        let refused = post_sign_in(&server, &mut browser, &hoa, &wrong(&code(&server, &hoa))).await;
        assert_eq!((refused.status, refused.lang()), (401, "vi"), "{}", refused.html);
        assert!(refused.html.contains("role=\"alert\""), "{}", refused.html);
        assert!(refused.set_cookie("dd_console").is_none(), "no session for a wrong code");
        let reasons: Vec<(String, Value)> =
            audit(&server, "officer.sign_in").await.into_iter().map(|a| (a.outcome, a.detail["reason"].clone())).collect();
        assert_eq!(reasons, vec![("refused".to_owned(), json!("wrong_code"))], "audited as the API audits it");

        // A form without the browser's CSRF token is refused before anything is checked or counted.
        let fields = [("username", hoa.username.as_str()), ("password", PASSWORD), ("code", &code(&server, &hoa))];
        let forged = browser.post(&server.url("/console/sign-in"), &fields).await;
        assert_eq!(forged.status, 403, "{}", forged.html);
        assert_eq!(audit(&server, "officer.sign_in").await.len(), 1);

        let signed_in = post_sign_in(&server, &mut browser, &hoa, &code(&server, &hoa)).await;
        assert_eq!((signed_in.status, signed_in.location.as_deref()), (303, Some("/console/requests")));
        let cookie = signed_in.set_cookie("dd_console").unwrap();
        assert!(cookie.contains("Path=/console") && cookie.contains("HttpOnly"), "{cookie}");
        let queue = browser.get(&server.url("/console/requests")).await;
        assert_eq!(queue.status, 200, "{}", queue.html);
        assert!(queue.html.contains("id=\"sign-out\"") && queue.html.contains("cán bộ xác minh"), "{}", queue.html);
        assert_eq!(queue.headers.get("cache-control").unwrap(), "no-store");

        let english = browser.get(&server.url("/console/requests?lang=en")).await;
        assert_eq!(english.lang(), "en");
        assert!(english.html.contains("Request queue"), "{}", english.html);

        let csrf = csrf(&browser);
        let out = browser.post(&server.url("/console/sign-out"), &[("csrf", &csrf)]).await;
        assert_eq!(out.status, 303);
        assert_eq!(audit(&server, "officer.sign_out").await.len(), 1);
        let after = browser.get(&server.url("/console/requests")).await;
        assert_eq!((after.status, after.location.as_deref()), (303, Some("/console")), "signed out");
    }

    five_wrong_codes_lock_the_console_sign_in_as_the_apis_throttle_does(db) {
        let server = TestServer::start(&db).await;
        let (operator, admin) = operator(&server).await;
        let hoa = officer(&server, &admin, &operator, "hoa.lt", &["reviewer"]).await;
        let mut browser = Browser::new();
        let mut statuses = Vec::new();
        for _ in 0..5 {
            statuses.push(post_sign_in(&server, &mut browser, &hoa, &wrong(&code(&server, &hoa))).await.status);
        }
        assert_eq!(statuses, [401, 401, 401, 401, 429], "the fifth failure locks the sign-in");
        // Even the right code is refused while the sign-in is locked, and the page says for how long.
        let locked = post_sign_in(&server, &mut browser, &hoa, &code(&server, &hoa)).await;
        assert_eq!(locked.status, 429, "{}", locked.html);
        assert!(locked.html.contains("15 phút"), "{}", locked.html);
        assert!(locked.set_cookie("dd_console").is_none());
        let refusals = audit(&server, "officer.sign_in").await;
        assert_eq!(refusals.len(), 6);
        assert!(refusals.iter().all(|a| a.outcome == "refused"));
    }

    an_authoritys_request_is_forwarded_by_a_reviewer_and_approved_by_another_supervisor(db) {
        let server = TestServer::start(&db).await;
        let (operator, admin) = operator(&server).await;
        let (account, _) = server.holder(MAI, Level::One).await;
        // The reviewer holds both roles: only separation of duties keeps them from deciding what they forwarded.
        let lan = officer(&server, &admin, &operator, "lan.nt", &["reviewer", "supervisor"]).await;
        let minh = officer(&server, &admin, &operator, "minh.pv", &["supervisor"]).await;
        let (request_id, tracking_code) = court_lock_request(&server).await;
        let mut reviewer = sign_in(&server, &lan).await;
        let mut supervisor = sign_in(&server, &minh).await;

        let queue = reviewer.get(&server.url("/console/requests?kind=lock")).await;
        assert!(queue.html.contains(&format!("href=\"/console/requests/{request_id}\">{tracking_code}</a>")), "{}", queue.html);
        let unlocks = reviewer.get(&server.url("/console/requests?kind=unlock")).await;
        assert!(!unlocks.html.contains(&tracking_code), "filtered by kind: {}", unlocks.html);

        let page = reviewer.get(&server.url(&format!("/console/requests/{request_id}"))).await;
        assert_eq!(page.status, 200, "{}", page.html);
        assert!(page.html.contains("id=\"claim\"") && page.html.contains("id=\"forward\""), "{}", page.html);
        assert!(!page.html.contains("id=\"approve\""), "the reviewer's step comes first: {}", page.html);

        assert_eq!(post_step(&server, &mut reviewer, &request_id, "claim", "").await.status, 303);
        let forwarded = post_step(&server, &mut reviewer, &request_id, "forward", "đã xác minh văn bản").await;
        assert_eq!(forwarded.location, Some(format!("/console/requests/{request_id}?done=1")));
        let page = reviewer.get(&server.url(&format!("/console/requests/{request_id}?done=1"))).await;
        assert!(page.html.contains("đã xác minh văn bản") && page.html.contains("role=\"status\""), "{}", page.html);

        // Separation of duties: the forwarder, a supervisor too, cannot approve; the service's reason is shown.
        let refused = post_step(&server, &mut reviewer, &request_id, "approve", "").await;
        assert_eq!(refused.status, 403, "{}", refused.html);
        assert!(refused.html.contains("id=\"refusal\"") && refused.html.contains("separation of duties"), "{}", refused.html);
        let request = server.store.request(&request_id).await.unwrap().unwrap();
        assert_eq!((request.status, request.decided_at), (RequestStatus::Verifying, None), "nothing changed");
        assert!(server.store.active_locks(&account.id, server.clock.now()).await.unwrap().is_empty());

        // A form without the CSRF token changes nothing either.
        let url = server.url(&format!("/console/requests/{request_id}/approve"));
        let forged = supervisor.post(&url, &[("note", "")]).await;
        assert_eq!(forged.status, 403, "{}", forged.html);
        assert_eq!(server.store.request(&request_id).await.unwrap().unwrap().status, RequestStatus::Verifying);

        // Rejecting needs written reasons: refused with the service's answer, nothing changed.
        let no_reasons = post_step(&server, &mut supervisor, &request_id, "reject", "  ").await;
        assert_eq!(no_reasons.status, 422, "{}", no_reasons.html);
        assert_eq!(server.store.request(&request_id).await.unwrap().unwrap().status, RequestStatus::Verifying);

        let approved = post_step(&server, &mut supervisor, &request_id, "approve", "hợp pháp").await;
        assert_eq!(approved.status, 303, "{}", approved.html);
        assert_eq!(server.store.request(&request_id).await.unwrap().unwrap().status, RequestStatus::Effective);
        let grounds: Vec<Ground> =
            server.store.active_locks(&account.id, server.clock.now()).await.unwrap().into_iter().map(|l| l.ground).collect();
        assert_eq!(grounds, vec![Ground::AuthorityRequest]);
        let page = supervisor.get(&server.url(&format!("/console/requests/{request_id}"))).await;
        assert!(page.html.contains("id=\"no-actions\""), "a decided request has no step left: {}", page.html);
        let approvals = audit(&server, "request.approve").await;
        assert_eq!(approvals.len(), 1);
        let queue = supervisor.get(&server.url("/console/requests")).await;
        assert!(!queue.html.contains(&tracking_code), "no longer open: {}", queue.html);
    }

    an_officer_of_a_suspended_organization_is_refused_on_the_next_page(db) {
        let server = TestServer::start(&db).await;
        let (_, admin) = operator(&server).await;
        let unit = server.organization("PC06-HN", OrganizationKind::Operator).await;
        let tuan = officer(&server, &admin, &unit.id, "tuan.pm", &["reviewer"]).await;
        let mut browser = sign_in(&server, &tuan).await;
        assert_eq!(browser.get(&server.url("/console/requests")).await.status, 200);

        let (status, body) = server
            .call(Method::POST, &format!("/v1/organizations/{}/suspend", unit.id), &admin,
                  Some(json!({"reason": "kiểm tra nội bộ / internal review"})))
            .await;
        assert_eq!(status, 200, "{body}");
        let refused = browser.get(&server.url("/console/requests")).await;
        assert_eq!(refused.status, 403, "{}", refused.html);
        assert!(refused.has_field("username"), "back to the sign-in form: {}", refused.html);
        assert!(!refused.html.contains("id=\"queue\""));
        assert!(refused.set_cookie("dd_console").is_some_and(|c| c.contains("Max-Age=0")), "the session cookie is dropped");
    }

    an_administrator_alone_has_no_queue_no_lookup_and_no_dashboard(db) {
        let server = TestServer::start(&db).await;
        let (operator, admin) = operator(&server).await;
        // An administrator, who may not list requests, lands on the dead letters, and so does `/console` later.
        let root = officer(&server, &admin, &operator, "root.admin", &["administrator"]).await;
        let mut browser = sign_in_to(&server, &root, "/console/dead-letters").await;
        let home = browser.get(&server.url("/console")).await;
        assert_eq!((home.status, home.location.as_deref()), (303, Some("/console/dead-letters")), "{}", home.html);
        for path in ["/console/requests", &format!("/console/accounts?id_number={MAI}"), "/console/dashboard"] {
            let page = browser.get(&server.url(path)).await;
            assert_eq!(page.status, 403, "{path}: {}", page.html);
            assert!(page.html.contains("role=\"alert\"") && page.html.contains("<html lang=\"vi\""), "{}", page.html);
        }
        assert_eq!(audit(&server, "authorization.denied").await.len(), 3, "each refusal audited");
        assert!(audit(&server, "account.lookup").await.is_empty(), "refused before looking anything up");
    }

    an_account_lookup_shows_locks_and_requests_and_is_audited(db) {
        let server = TestServer::start(&db).await;
        let (operator, admin) = operator(&server).await;
        let (account, _) = server.holder(MAI, Level::One).await;
        support::lock(&server, &account.id).await;
        let (_, tracking_code) = court_lock_request(&server).await;
        let hoa = officer(&server, &admin, &operator, "hoa.lt", &["reviewer"]).await;
        let mut browser = sign_in(&server, &hoa).await;

        let found = browser.get(&server.url(&format!("/console/accounts?id_number={MAI}"))).await;
        assert_eq!(found.status, 200, "{}", found.html);
        assert!(found.html.contains("Trần Thị Mai"), "{}", found.html);
        assert!(found.html.contains("Không sử dụng được") && found.html.contains("Đang áp dụng"), "{}", found.html);
        assert!(found.html.contains("chủ tài khoản / the holder"), "who placed the lock: {}", found.html);
        assert!(found.html.contains(&tracking_code), "the account's requests: {}", found.html);
        let lookups = audit(&server, "account.lookup").await;
        assert_eq!(lookups.len(), 1);
        assert_eq!((lookups[0].subject.as_deref(), lookups[0].outcome.as_str()), (Some(account.id.as_str()), "ok"));
        assert!(lookups[0].actor.starts_with("officer:"), "{}", lookups[0].actor);
        assert!(!lookups[0].detail.to_string().contains(MAI), "the identity looked for is not in the log");

        let unknown = browser.get(&server.url("/console/accounts?id_number=079190000001")).await;
        assert_eq!(unknown.status, 404, "{}", unknown.html);
        assert!(unknown.html.contains("id=\"not-found\""), "{}", unknown.html);
        let lookups = audit(&server, "account.lookup").await;
        assert_eq!(lookups.len(), 2, "a lookup that finds nothing is audited too");
        assert!(lookups.iter().any(|l| l.outcome == "not_found" && l.subject.is_none()));

        let malformed = browser.get(&server.url("/console/accounts?id_number=123")).await;
        assert_eq!(malformed.status, 422, "{}", malformed.html);
        assert!(malformed.html.contains("id=\"lookup-error\"") && malformed.html.contains("aria-invalid"), "{}", malformed.html);
        assert_eq!(audit(&server, "account.lookup").await.len(), 2, "nothing looked up");
    }

    the_dashboard_counts_the_open_requests_the_overdue_ones_and_the_locks_per_day(db) {
        let server = TestServer::start(&db).await;
        let (operator, admin) = operator(&server).await;
        let (mai, mai_session) = server.holder(MAI, Level::Two).await;
        let (other, _) = server.holder("079190000001", Level::One).await;
        // Mai locks her own account and lifts it again at Level 2; the other holder's lock stays.
        let (status, body) = server.call(Method::POST, "/v1/lock-requests", &mai_session, Some(json!({"reason": "mất điện thoại"}))).await;
        assert_eq!(status, 201, "{body}");
        let lock_id = server.store.locks_of_account(&mai.id).await.unwrap()[0].id.clone();
        let session = server.holder_session(&mai).await;
        let (status, body) = server
            .call(Method::POST, "/v1/unlock-requests", &session, Some(json!({"lock_id": lock_id, "reason": "đã tìm thấy"})))
            .await;
        assert_eq!(status, 201, "{body}");
        support::lock(&server, &other.id).await;
        let (_, tracking_code) = court_lock_request(&server).await;
        let hoa = officer(&server, &admin, &operator, "hoa.lt", &["supervisor"]).await;
        // Past the reviewer's deadline (one working day).
        server.clock.advance(Duration::days(3));
        let mut browser = sign_in(&server, &hoa).await;

        let page = browser.get(&server.url("/console/dashboard")).await;
        assert_eq!(page.status, 200, "{}", page.html);
        assert_eq!(row(&page, "open-requests", "Khoá"), ["1"]);
        assert_eq!(row(&page, "open-requests", "Mở khoá"), ["0"]);
        assert!(page.html.contains("<strong>1 yêu cầu đang mở đã quá hạn.</strong>"), "{}", page.html);
        // Placed on 1 June (Vietnam time): Mai's own lock, the other holder's; lifted: Mai's.
        assert_eq!(row(&page, "placed-table", "01/06"), ["2", "2"], "holder_request, then the total");
        assert_eq!(row(&page, "lifted-table", "01/06"), ["1", "1"]);
        assert_eq!(row(&page, "placed-table", "02/06"), ["0", "0"]);
        for chart in ["open", "placed", "lifted"] {
            let svg = &page.html[page.html.find(&format!("id=\"{chart}-chart\"")).unwrap()..];
            let svg = &svg[..svg.find("</svg>").unwrap()];
            assert!(svg.contains(&format!("<title id=\"{chart}-title\">")) && svg.contains("<desc"), "{svg}");
            if chart != "open" {
                assert!(svg.contains(">khóa theo yêu cầu của chủ tài khoản</text>"), "the legend names the ground: {svg}");
            }
        }
        assert!(page.html.contains("<title>01/06 · khóa theo yêu cầu của chủ tài khoản: 2</title>"), "{}", page.html);
        assert!(!page.html.contains("<script") && !page.html.contains("style="), "no script, no inline style");
        let links: Vec<&str> = page.html.split("<link").skip(1).map(|l| &l[..l.find('>').unwrap()]).collect();
        assert_eq!(links, [r#" rel="stylesheet" href="/static/dinhdanh.css""#], "only the server's own stylesheet");

        let overdue = browser.get(&server.url("/console/requests?overdue=1")).await;
        assert!(overdue.html.contains(&tracking_code) && overdue.html.contains("<strong>Quá hạn</strong>"), "{}", overdue.html);
    }

    an_administrator_sees_the_dead_letters_and_sends_one_again_and_no_one_else_can(db) {
        let server = TestServer::start(&db).await;
        let (operator, admin) = operator(&server).await;
        // A relying party's push stream with one event its receiver refused.
        let (bank, token) = server.organization_token("NHA", OrganizationKind::RelyingParty, &[Scope::SsfStreams]).await;
        let stream = json!({"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": "https://nha.example.vn/ssf"}});
        let (status, created) = server.call(Method::POST, "/ssf/streams", &token, Some(stream)).await;
        assert_eq!(status, 201, "{created}");
        let stream_id = created["stream_id"].as_str().unwrap().to_owned();
        let disabled = "https://schemas.openid.net/secevent/risc/event-type/account-disabled";
        let claims = json!({"aud": created["aud"], "jti": "j-1", "iat": 0, "events": {disabled: {}}});
        let now = server.clock.now();
        let mut tx = server.store.begin().await.unwrap();
        tx.queue_ssf_event(&stream_id, "j-1", &claims, now).await.unwrap();
        tx.commit().await.unwrap();
        let head = server.store.push_heads(&stream_id, 1).await.unwrap().into_iter().next().unwrap();
        server.store.record_push_failure(head.id, 1, None, "invalid_key: unknown <signing> key", Some(now)).await.unwrap();
        let replay_url = server.url(&format!("/console/dead-letters/{}/replay", head.id));

        // A supervisor has no link to them, is refused the page (audited) and cannot send one again.
        let minh = officer(&server, &admin, &operator, "minh.pv", &["supervisor"]).await;
        let mut supervisor = sign_in(&server, &minh).await;
        let queue = supervisor.get(&server.url("/console/requests")).await;
        assert!(queue.status == 200 && !queue.html.contains("id=\"dead-letters-link\""), "{}", queue.html);
        let refused = supervisor.get(&server.url("/console/dead-letters")).await;
        assert_eq!(refused.status, 403, "{}", refused.html);
        let csrf_token = csrf(&supervisor);
        let refused = supervisor.post(&replay_url, &[("csrf", &csrf_token)]).await;
        assert_eq!(refused.status, 403, "{}", refused.html);
        assert_eq!(audit(&server, "authorization.denied").await.len(), 2);
        assert_eq!(server.store.dead_ssf_events(10).await.unwrap().len(), 1, "still dead");

        // The administrator has the link and the list: relying party, stream, type, tries, error, when.
        let root = officer(&server, &admin, &operator, "root.admin", &["administrator"]).await;
        let mut browser = sign_in_to(&server, &root, "/console/dead-letters").await;
        let page = browser.get(&server.url("/console/dead-letters")).await;
        assert_eq!((page.status, page.lang()), (200, "vi"), "{}", page.html);
        assert!(page.html.contains("<a href=\"/console/dead-letters\" id=\"dead-letters-link\">Sự kiện không gửi được</a>"), "{}", page.html);
        let cells = row(&page, "dead-letters", &bank.name);
        assert_eq!(cells[0], format!("<code>{stream_id}</code>"));
        assert_eq!(cells[1], format!("<abbr title=\"{disabled}\">account-disabled</abbr>"));
        assert_eq!((cells[2].as_str(), cells[3].as_str()), ("1", "invalid_key: unknown &#60;signing&#62; key"), "escaped");
        assert_eq!(cells[4], (now + Duration::hours(7)).format("%d/%m/%Y %H:%M").to_string(), "Vietnam time");
        assert!(cells[5].contains("name=\"csrf\"") && cells[5].contains(&format!("id=\"replay-{}\"", head.id)), "{}", cells[5]);
        let english = browser.get(&server.url("/console/dead-letters?lang=en")).await;
        assert!(english.html.contains("<h1>Dead letters</h1>") && english.html.contains(">Send again</button>"), "{}", english.html);

        // A form without the browser's CSRF token changes nothing; with it, the letter goes back to its queue.
        let forged = browser.post(&replay_url, &[]).await;
        assert_eq!(forged.status, 403, "{}", forged.html);
        assert_eq!(server.store.dead_ssf_events(10).await.unwrap().len(), 1);
        let csrf_token = csrf(&browser);
        let replayed = browser.post(&replay_url, &[("csrf", &csrf_token)]).await;
        assert_eq!((replayed.status, replayed.location.as_deref()), (303, Some("/console/dead-letters?done=replayed")), "{}", replayed.html);
        assert!(server.store.dead_ssf_events(10).await.unwrap().is_empty());
        let queued = server.store.push_heads(&stream_id, 1).await.unwrap().into_iter().next().unwrap();
        assert_eq!((queued.id, queued.attempts, queued.next_attempt_at), (head.id, 0, None), "at the head, to go at once");
        let replays = audit(&server, "ssf.dead_letter.replay").await;
        assert_eq!(replays.len(), 1);
        assert!(replays[0].actor.starts_with("officer:"), "{}", replays[0].actor);
        let after = browser.get(&server.url("/console/dead-letters?done=replayed")).await;
        assert!(after.html.contains("role=\"status\"") && after.html.contains("id=\"dead-letters-empty\""), "{}", after.html);
        let again = browser.post(&replay_url, &[("csrf", &csrf_token)]).await;
        assert_eq!(again.status, 404, "no longer dead: {}", again.html);
    }
}
