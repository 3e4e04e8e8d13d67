//! The holder portal over real HTTP, on SQLite and on PostgreSQL, driven like a browser without JavaScript: it
//! signs the holder in through the provider's own pages as a relying party (code flow, PKCE, `state`), shows the
//! account, locks it in one click and a confirmation (the lock ends the portal's session with every other), and
//! refuses forms without the browser's CSRF token, forged cookies and callbacks that are not its own.

use dinhdanh_domain::lock::Ground;
use dinhdanh_domain::{AccountId, AccountStatus, IdentificationNumber, IdentityKey, ProvinceTable};
use dinhdanh_store::on_both_backends;

mod support;
use support::browser::{Browser, Page};
use support::{MAI_ID, MAI_PASSWORD, TestServer, mai, mai_in_the_registry};

/// `GET /portal/sign-in` and on through the provider's pages (password, code, the portal's consent the first
/// time) and the callback, to the account page.
async fn sign_in_to_portal(server: &TestServer, browser: &mut Browser) -> Page {
    let start = browser.get(&server.url("/portal/sign-in")).await;
    assert_eq!(start.status, 303, "{}", start.html);
    let authorize = start.location.expect("to the provider");
    assert!(authorize.starts_with(&server.url("/oauth/authorize?")), "{authorize}");
    for part in ["client_id=dinhdanh-portal", "code_challenge_method=S256", "response_type=code", "state="] {
        assert!(authorize.contains(part), "{part} in {authorize}");
    }
    let page = browser.get(&authorize).await;
    assert_eq!(page.status, 200, "{}", page.html);
    let (interaction, csrf) = (page.field("interaction"), page.field("csrf"));
    let action = server.url("/oauth/authorize");
    let form =
        [("interaction", interaction.as_str()), ("csrf", &csrf), ("id_number", MAI_ID), ("password", MAI_PASSWORD)];
    let page = browser.post(&format!("{action}/password"), &form).await;
    assert!(page.has_field("code"), "{}", page.html);
    let code = server.last_sign_in_code().await;
    let mut page = browser
        .post(&format!("{action}/code"), &[("interaction", &interaction), ("csrf", &csrf), ("code", &code)])
        .await;
    if page.status == 200 {
        // The portal asks for `openid` only: its consent page lists no claim.
        assert!(!page.html.contains("name=\"claim\""), "{}", page.html);
        page = browser
            .post(
                &format!("{action}/consent"),
                &[("interaction", &interaction), ("csrf", &csrf), ("decision", "allow")],
            )
            .await;
    }
    assert_eq!(page.status, 303, "{}", page.html);
    let callback = page.location.expect("back to the portal");
    assert!(callback.starts_with(&server.url("/portal/callback?")), "{callback}");
    let back = browser.get(&callback).await;
    assert_eq!(back.status, 303, "{}", back.html);
    assert_eq!(back.location.as_deref(), Some("/portal"));
    assert!(back.set_cookie("dd_portal").is_some_and(|c| c.contains("Path=/portal")), "{:?}", back.headers);
    let account = browser.get(&server.url("/portal")).await;
    assert_eq!(account.status, 200, "{}", account.html);
    account
}

async fn active_locks(server: &TestServer, account: &AccountId) -> Vec<Ground> {
    let now = chrono::Utc::now();
    server.store.active_locks(account, now).await.unwrap().into_iter().map(|l| l.ground).collect()
}

/// Mai's registration form, with these fields changed.
fn mai_form<'a>(csrf: &'a str, changed: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("csrf", csrf),
        ("holder_kind", "citizen"),
        ("id_number", MAI_ID),
        // A browser sends the other kind's fields too, empty.
        ("passport_number", ""),
        ("nationality", ""),
        ("full_name", "Trần Thị Mai"),
        ("date_of_birth", "1990-05-01"),
        ("gender", "female"),
        ("phone", "0912345678"),
        ("email", ""),
        ("password", MAI_PASSWORD),
    ];
    for (name, value) in changed {
        form.iter_mut().find(|(n, _)| n == name).unwrap().1 = value;
    }
    form
}

async fn audit_count(server: &TestServer, action: &str) -> usize {
    server.store.recent_audit(Some(action), 1000).await.unwrap().len()
}

on_both_backends! {
    a_holder_signs_in_through_the_provider_sees_the_account_and_locks_it_at_once(db) {
        let server = TestServer::start(&db).await;
        let account = mai(&server).await;
        let mut browser = Browser::new();

        let welcome = browser.get(&server.url("/portal")).await;
        assert_eq!((welcome.status, welcome.lang()), (200, "vi"), "{}", welcome.html);
        assert!(welcome.html.contains("href=\"/portal/sign-in\""), "{}", welcome.html);

        let page = sign_in_to_portal(&server, &mut browser).await;
        assert!(page.html.contains("Tài khoản của bạn") && page.html.contains("Đang hoạt động"), "{}", page.html);
        assert!(page.html.contains("Mức độ 1"), "the account's level and this sign-in's: {}", page.html);
        assert!(page.html.contains("Tài khoản không bị khoá."), "{}", page.html);
        assert!(page.html.contains("Cổng thông tin / Portal"), "the sign-in to the portal is listed: {}", page.html);
        assert!(!page.html.contains("0912345678") && !page.html.contains("mai@example.vn"), "contacts masked");

        let confirm = browser.get(&server.url("/portal/lock")).await;
        assert_eq!(confirm.status, 200, "{}", confirm.html);
        assert!(confirm.html.contains("Xác nhận khoá tài khoản"), "{}", confirm.html);
        let csrf = confirm.field("csrf");
        let session_cookie = browser.cookies["dd_portal"].clone();
        let before = audit_count(&server, "lock.place").await;

        let done = browser.post(&server.url("/portal/lock"), &[("csrf", &csrf), ("reason", "Mất điện thoại")]).await;
        assert_eq!(done.status, 200, "{}", done.html);
        assert!(done.html.contains("Tài khoản đã bị khoá") && done.html.contains("Mã theo dõi yêu cầu"), "{}", done.html);
        assert_eq!(active_locks(&server, &account).await, [Ground::HolderRequest]);
        assert!(audit_count(&server, "lock.place").await > before, "the lock is audited");

        // The lock ended the portal's session: the old cookie is nobody's now.
        browser.cookies.insert("dd_portal".into(), session_cookie);
        let after = browser.get(&server.url("/portal")).await;
        assert_eq!(after.status, 200);
        assert!(after.html.contains("href=\"/portal/sign-in\"") && !after.html.contains("Tài khoản của bạn"), "{}", after.html);

        // Signing in again meets the provider's page for a locked holder, naming the ground (no code is sent).
        let start = browser.get(&server.url("/portal/sign-in")).await;
        let page = browser.get(&start.location.unwrap()).await;
        let (interaction, csrf) = (page.field("interaction"), page.field("csrf"));
        let form = [("interaction", interaction.as_str()), ("csrf", &csrf), ("id_number", MAI_ID), ("password", MAI_PASSWORD)];
        let page = browser.post(&server.url("/oauth/authorize/password"), &form).await;
        assert_eq!(page.status, 403, "{}", page.html);
        assert!(page.html.contains("khóa theo yêu cầu của chủ tài khoản"), "{}", page.html);
    }

    forms_without_the_browser_s_csrf_token_and_forged_cookies_change_nothing(db) {
        let server = TestServer::start(&db).await;
        let account = mai(&server).await;
        let mut browser = Browser::new();
        sign_in_to_portal(&server, &mut browser).await;

        for csrf in ["", "0000000000000000000000000000000000000000000000000000000000000000"] {
            let page = browser.post(&server.url("/portal/lock"), &[("csrf", csrf)]).await;
            assert_eq!(page.status, 403, "{}", page.html);
        }
        let page = browser.post(&server.url("/portal/sign-out"), &[]).await;
        assert_eq!(page.status, 403);
        assert!(active_locks(&server, &account).await.is_empty(), "no lock without the token");
        let still = browser.get(&server.url("/portal")).await;
        assert!(still.html.contains("Tài khoản của bạn"), "still signed in: {}", still.html);

        // A cookie the server did not seal signs nobody in.
        let mut stranger = Browser::new();
        stranger.cookies.insert("dd_portal".into(), "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into());
        let page = stranger.get(&server.url("/portal")).await;
        assert!(!page.html.contains("Tài khoản của bạn"), "{}", page.html);
        let page = stranger.get(&server.url("/portal/lock")).await;
        assert_eq!(page.status, 401, "{}", page.html);
    }

    a_callback_that_is_not_this_browser_s_opens_no_session(db) {
        let server = TestServer::start(&db).await;
        mai(&server).await;
        let mut browser = Browser::new();
        // No flow at all.
        let page = browser.get(&server.url("/portal/callback?code=abc&state=def")).await;
        assert_eq!(page.status, 400, "{}", page.html);
        assert!(page.html.contains("no_flow"), "{}", page.html);
        // A flow, but another state.
        let start = browser.get(&server.url("/portal/sign-in")).await;
        assert_eq!(start.status, 303);
        let page = browser.get(&server.url("/portal/callback?code=abc&state=def")).await;
        assert_eq!(page.status, 400, "{}", page.html);
        assert!(page.html.contains("state_mismatch"), "{}", page.html);
        assert!(page.set_cookie("dd_portal").is_none());

        // The real code, but sent from another browser (without the flow's cookie): refused; and in the browser
        // whose flow it is, the same code again after it was redeemed: refused too.
        let mut browser = Browser::new();
        let account_page = sign_in_to_portal(&server, &mut browser).await;
        assert!(account_page.html.contains("Tài khoản của bạn"));
        let mut other = Browser::new();
        let start = browser.get(&server.url("/portal/sign-in")).await;
        let page = browser.get(&start.location.unwrap()).await;
        assert_eq!(page.status, 303, "single sign-on: the provider session and the consent answer at once");
        let callback = page.location.unwrap();
        let stolen = other.get(&callback).await;
        assert_eq!(stolen.status, 400, "{}", stolen.html);
        assert!(other.cookies.get("dd_portal").is_none_or(|c| c.is_empty()));
    }

    the_switch_speaks_english_and_the_choice_follows_the_holder_to_the_provider(db) {
        let server = TestServer::start(&db).await;
        mai(&server).await;
        let mut browser = Browser::new();
        let page = browser.get(&server.url("/portal?lang=en")).await;
        assert_eq!(page.lang(), "en", "{}", page.html);
        assert!(page.html.contains("Your e-ID account") && page.html.contains(">Tiếng Việt</a>"), "{}", page.html);
        assert!(page.set_cookie("dd_lang").is_some_and(|c| c.contains("Path=/;")), "{:?}", page.headers);
        let again = browser.get(&server.url("/portal")).await;
        assert_eq!(again.lang(), "en", "remembered");
        let start = browser.get(&server.url("/portal/sign-in")).await;
        assert!(start.location.as_deref().unwrap().contains("ui_locales=en"));
        let provider = browser.get(&start.location.unwrap()).await;
        assert_eq!(provider.lang(), "en", "{}", provider.html);
    }

    consents_are_withdrawn_and_signing_out_ends_single_sign_on(db) {
        let server = TestServer::start(&db).await;
        mai(&server).await;
        let mut browser = Browser::new();
        let page = sign_in_to_portal(&server, &mut browser).await;
        assert!(page.html.contains("name=\"client_id\" value=\"dinhdanh-portal\""), "{}", page.html);
        let csrf = page.field("csrf");
        let before = audit_count(&server, "oidc.consent.withdraw").await;
        let done = browser.post(&server.url("/portal/consents/withdraw"), &[("csrf", &csrf), ("client_id", "dinhdanh-portal")]).await;
        assert_eq!((done.status, done.location.as_deref()), (303, Some("/portal?done=withdrawn")), "{}", done.html);
        assert_eq!(audit_count(&server, "oidc.consent.withdraw").await, before + 1);
        let page = browser.get(&server.url("/portal?done=withdrawn")).await;
        assert!(page.html.contains("Đã thu hồi sự đồng ý"), "{}", page.html);
        assert!(!page.html.contains("name=\"client_id\""), "nothing left to withdraw: {}", page.html);
        // Again (another tab): nothing to withdraw, no error.
        let again = browser.post(&server.url("/portal/consents/withdraw"), &[("csrf", &csrf), ("client_id", "dinhdanh-portal")]).await;
        assert_eq!((again.status, again.location.as_deref()), (303, Some("/portal")));

        let out = browser.post(&server.url("/portal/sign-out"), &[("csrf", &csrf)]).await;
        assert_eq!((out.status, out.location.as_deref()), (303, Some("/portal?done=signed-out")));
        let page = browser.get(&server.url("/portal?done=signed-out")).await;
        assert!(page.html.contains("Bạn đã đăng xuất."), "{}", page.html);
        // The provider session ended with it: the provider asks for the password again.
        let start = browser.get(&server.url("/portal/sign-in")).await;
        let provider = browser.get(&start.location.unwrap()).await;
        assert_eq!(provider.status, 200);
        assert!(provider.has_field("password"), "{}", provider.html);
    }

    a_citizen_registers_activates_and_signs_in_on_the_portal(db) {
        let server = TestServer::start(&db).await;
        mai_in_the_registry(&server).await;
        let mut browser = Browser::new();
        let welcome = browser.get(&server.url("/portal")).await;
        assert!(welcome.html.contains("href=\"/portal/register\""), "{}", welcome.html);
        let form = browser.get(&server.url("/portal/register")).await;
        assert_eq!(form.status, 200, "{}", form.html);
        assert!(form.html.contains("<label for=\"id-number\">"), "every field labelled: {}", form.html);
        let csrf = form.field("csrf");

        // A field the API's parser refuses: said next to it, what was typed kept, the password never echoed.
        let refused = browser.post(&server.url("/portal/register"), &mai_form(&csrf, &[("date_of_birth", "01/05/1990")])).await;
        assert_eq!(refused.status, 422, "{}", refused.html);
        assert!(refused.html.contains("aria-describedby=\"date-of-birth-error\""), "{}", refused.html);
        assert!(refused.html.contains("id=\"date-of-birth-error\""), "{}", refused.html);
        assert_eq!(refused.field("full_name"), "Trần Thị Mai");
        assert!(!refused.html.contains(MAI_PASSWORD), "the password is not sent back");
        // A declaration the registry does not hold: one message, nothing created.
        let mismatch = browser.post(&server.url("/portal/register"), &mai_form(&csrf, &[("full_name", "Trần Thị Mây")])).await;
        assert_eq!(mismatch.status, 422, "{}", mismatch.html);
        assert!(mismatch.html.contains("không khớp với Cơ sở dữ liệu quốc gia"), "{}", mismatch.html);
        assert_eq!(server.store.count_accounts().await.unwrap(), 0);

        let sent = browser.post(&server.url("/portal/register"), &mai_form(&csrf, &[])).await;
        assert_eq!(sent.status, 200, "{}", sent.html);
        assert!(sent.html.contains("Mã kích hoạt đã được gửi tới •••678."), "{}", sent.html);
        let account_id = sent.field("account_id");
        let wrong = browser.post(&server.url("/portal/activate"), &[("csrf", &csrf), ("account_id", &account_id), ("code", "000000")]).await;
        assert_eq!(wrong.status, 422, "{}", wrong.html);
        assert!(wrong.html.contains("lần thử"), "{}", wrong.html);
        let code = server.last_code().await;
        let done = browser.post(&server.url("/portal/activate"), &[("csrf", &csrf), ("account_id", &account_id), ("code", &code)]).await;
        assert_eq!(done.status, 200, "{}", done.html);
        assert!(done.html.contains("Tài khoản đã được kích hoạt"), "{}", done.html);
        let key = IdentityKey::citizen(&IdentificationNumber::parse(MAI_ID, &ProvinceTable::builtin()).unwrap());
        let account = server.store.account_by_identity(&key).await.unwrap().unwrap();
        assert_eq!(account.status, AccountStatus::Active);

        let page = sign_in_to_portal(&server, &mut browser).await;
        assert!(page.html.contains("Tài khoản của bạn"), "{}", page.html);

        // The same identity again, from another browser: the same pages as a new registration, and no second
        // account (nothing tells a stranger that Mai has one).
        let mut stranger = Browser::new();
        let form = stranger.get(&server.url("/portal/register")).await;
        let csrf = form.field("csrf");
        let again = stranger.post(&server.url("/portal/register"), &mai_form(&csrf, &[])).await;
        assert_eq!(again.status, 200, "{}", again.html);
        assert!(again.html.contains("Mã kích hoạt đã được gửi tới •••678."), "{}", again.html);
        assert_eq!(server.store.count_accounts().await.unwrap(), 1);
    }

    a_locked_holder_signs_in_to_restore_asks_for_the_lift_and_follows_the_request(db) {
        let server = TestServer::start(&db).await;
        let account = mai(&server).await;
        let mut browser = Browser::new();
        let page = sign_in_to_portal(&server, &mut browser).await;
        assert!(page.html.contains("Chưa có yêu cầu nào."), "{}", page.html);
        let confirm = browser.get(&server.url("/portal/lock")).await;
        let csrf = confirm.field("csrf");
        let done = browser.post(&server.url("/portal/lock"), &[("csrf", &csrf)]).await;
        assert_eq!(done.status, 200, "{}", done.html);

        // The restore sign-in: the same answer for a wrong password as for a stranger.
        let welcome = browser.get(&server.url("/portal")).await;
        assert!(welcome.html.contains("href=\"/portal/restore\""), "{}", welcome.html);
        let form = browser.get(&server.url("/portal/restore")).await;
        let csrf = form.field("csrf");
        let wrong = browser
            .post(&server.url("/portal/restore"), &[("csrf", &csrf), ("holder_kind", "citizen"), ("id_number", MAI_ID), ("password", "not her password")])
            .await;
        assert_eq!(wrong.status, 401, "{}", wrong.html);
        assert!(wrong.html.contains("Số định danh hoặc mật khẩu không đúng."), "{}", wrong.html);
        let code_page = browser
            .post(&server.url("/portal/restore"), &[("csrf", &csrf), ("holder_kind", "citizen"), ("id_number", MAI_ID), ("password", MAI_PASSWORD)])
            .await;
        assert_eq!(code_page.status, 200, "{}", code_page.html);
        let sign_in_id = code_page.field("sign_in_id");
        let code = server.last_sign_in_code().await;
        let opened = browser.post(&server.url("/portal/restore/code"), &[("csrf", &csrf), ("sign_in_id", &sign_in_id), ("code", &code)]).await;
        assert_eq!((opened.status, opened.location.as_deref()), (303, Some("/portal")), "{}", opened.html);

        // The restore session's page: the lock with its form, no sign-ins, no consents, no "lock my account".
        let page = browser.get(&server.url("/portal")).await;
        assert!(page.html.contains("Bạn đang đăng nhập để mở khoá"), "{}", page.html);
        assert!(page.html.contains("name=\"lock_id\""), "{}", page.html);
        assert!(!page.html.contains("id=\"sign-ins\"") && !page.html.contains("id=\"lock-my-account\""), "{}", page.html);
        let lock_id = page.field("lock_id");
        let filed = browser.post(&server.url("/portal/unlock"), &[("csrf", &csrf), ("lock_id", &lock_id), ("reason", "Đã tìm lại điện thoại")]).await;
        assert_eq!(filed.status, 200, "{}", filed.html);
        assert!(filed.html.contains("kiểm tra danh tính trực tiếp"), "a Level 1 request waits for an in-person check: {}", filed.html);
        assert_eq!(active_locks(&server, &account).await, [Ground::HolderRequest], "not lifted by a Level 1 session");
        let tracking = filed.html.split("Mã theo dõi yêu cầu: ").nth(1).unwrap()[..12].to_owned();
        let page = browser.get(&server.url("/portal")).await;
        assert!(page.html.contains(&tracking), "the account page lists the request: {}", page.html);

        // Anyone with the tracking code and the identification number follows it; a wrong pairing learns nothing.
        let mut stranger = Browser::new();
        let wrong = stranger.get(&server.url(&format!("/portal/track?tracking_code={tracking}&id_number=079085000042"))).await;
        assert_eq!(wrong.status, 404, "{}", wrong.html);
        let malformed = stranger.get(&server.url("/portal/track?tracking_code=nope&id_number=1")).await;
        assert_eq!(malformed.status, 422, "{}", malformed.html);
        let tracked = stranger.get(&server.url(&format!("/portal/track?tracking_code={tracking}&id_number={MAI_ID}"))).await;
        assert_eq!(tracked.status, 200, "{}", tracked.html);
        assert!(tracked.html.contains("Mở khoá") && tracked.html.contains("đã tiếp nhận"), "{}", tracked.html);
        assert!(tracked.html.contains("id=\"steps\""), "{}", tracked.html);
        assert!(!tracked.html.contains("Đã tìm lại điện thoại"), "no reasons on the public page");

        // A reviewer sees the holder in person and approves, recording the check: the holder signs in again.
        server.admin().await;
        let operator = server.store.organization_by_code("C06").await.unwrap().unwrap();
        let (_, reviewer) = server.officer_session(&operator.id, &[dinhdanh_domain::actor::OfficerRole::Reviewer]).await;
        let request = server.store.request_by_tracking_code(&dinhdanh_domain::tracking::TrackingCode::parse(&tracking).unwrap()).await.unwrap().unwrap();
        let check = serde_json::json!({"document_kind": "cccd", "document_number": MAI_ID, "office": "Công an phường Điện Biên"});
        let (status, body) = server
            .call(reqwest::Method::POST, &format!("/v1/requests/{}/decision", request.id), &reviewer,
                  Some(serde_json::json!({"decision": "approve", "in_person_check": check})))
            .await;
        assert_eq!((status, body["status"].as_str()), (200, Some("effective")), "{body}");
        assert!(active_locks(&server, &account).await.is_empty());
        let tracked = stranger.get(&server.url(&format!("/portal/track?tracking_code={tracking}&id_number={MAI_ID}"))).await;
        assert!(tracked.html.contains("đã có hiệu lực"), "{}", tracked.html);
        // (The test clock stands still; a grant made at the lift's very instant would count as made under it.)
        server.clock.advance(chrono::Duration::seconds(1));
        let mut fresh = Browser::new();
        let page = sign_in_to_portal(&server, &mut fresh).await;
        assert!(page.html.contains("Đang hoạt động"), "{}", page.html);
    }

    a_holder_who_lost_the_phone_locks_without_signing_in(db) {
        let server = TestServer::start(&db).await;
        let account = mai(&server).await;
        mai_in_the_registry(&server).await;
        let mut browser = Browser::new();
        let welcome = browser.get(&server.url("/portal")).await;
        assert!(welcome.html.contains("href=\"/portal/lost-phone\""), "{}", welcome.html);
        let form = browser.get(&server.url("/portal/lost-phone")).await;
        assert_eq!(form.status, 200, "{}", form.html);
        let csrf = form.field("csrf");
        let details = |name: &'static str| {
            [("csrf", csrf.clone()), ("holder_kind", "citizen".to_owned()), ("id_number", MAI_ID.to_owned()),
             ("full_name", name.to_owned()), ("date_of_birth", "1990-05-01".to_owned()), ("lost_channel", "sms".to_owned())]
        };
        let url = server.url("/portal/lost-phone");
        // Details that do not match: one answer, nothing sent.
        let form = details("Trần Thị Mại");
        let mismatch = browser.post(&url, &form.iter().map(|(n, v)| (*n, v.as_str())).collect::<Vec<_>>()).await;
        assert_eq!(mismatch.status, 422, "{}", mismatch.html);
        assert!(mismatch.html.contains("không khớp"), "{}", mismatch.html);
        let form = details("Trần Thị Mai");
        let sent = browser.post(&url, &form.iter().map(|(n, v)| (*n, v.as_str())).collect::<Vec<_>>()).await;
        assert_eq!(sent.status, 200, "{}", sent.html);
        assert!(sent.html.contains("kênh còn lại") && !sent.html.contains('•'), "not told where, even masked: {}", sent.html);
        let confirmation_id = sent.field("confirmation_id");
        let messages = server.store.outbox_messages(None, 20).await.unwrap();
        let message = messages.iter().find(|m| m.kind == "lock_confirmation_code").expect("a code to the other channel");
        assert_eq!(message.recipient, "mai@example.vn", "the phone was lost: the code goes by e-mail");
        let code: String = message.body.split(|ch: char| !ch.is_ascii_digit()).find(|w| w.len() == 6).unwrap().to_owned();
        let wrong = if code == "000000" { "000001" } else { "000000" };
        let refused = browser.post(&server.url("/portal/lost-phone/confirm"), &[("csrf", &csrf), ("confirmation_id", &confirmation_id), ("code", wrong)]).await;
        assert_eq!(refused.status, 422, "{}", refused.html);
        assert!(active_locks(&server, &account).await.is_empty());
        let locked = browser.post(&server.url("/portal/lost-phone/confirm"), &[("csrf", &csrf), ("confirmation_id", &confirmation_id), ("code", &code)]).await;
        assert_eq!(locked.status, 200, "{}", locked.html);
        assert!(locked.html.contains("Tài khoản đã bị khoá"), "{}", locked.html);
        assert_eq!(active_locks(&server, &account).await, [Ground::HolderRequest]);
    }

    the_pages_load_only_the_server_s_own_stylesheet(db) {
        let server = TestServer::start(&db).await;
        let mut browser = Browser::new();
        let page = browser.get(&server.url("/portal")).await;
        assert!(page.html.contains("<link rel=\"stylesheet\" href=\"/static/dinhdanh.css\">"), "{}", page.html);
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert_eq!(csp, "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'");
        let css = server.http.get(server.url("/static/dinhdanh.css")).send().await.unwrap();
        assert_eq!(css.status(), 200);
        assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
        assert_eq!(css.headers()["x-content-type-options"], "nosniff");
        let text = css.text().await.unwrap();
        assert!(text.contains("--accent: #0b5394") && !text.contains("@import") && !text.contains("url("), "nothing from elsewhere");
    }
}
