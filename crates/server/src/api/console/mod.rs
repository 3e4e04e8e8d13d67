//! The officer console's pages under `/console` (issue 15, docs/console.md): sign-in with password and TOTP, the
//! request queue and the steps on a request, the audited account lookup and the dashboard. Server-rendered HTML
//! from the askama templates under `templates/console/`, working without JavaScript, Vietnamese by default with
//! the site's language switch, and the words of [`i18n`]. Thin: signing in and out are `service::officers`',
//! the queue and the steps `service::locks`' (as the API calls them, so the authorization table, four-eyes and
//! separation of duties hold alike), the lookup and the dashboard `service::console`'s, and the Shared Signals
//! dead letters (for administrators) and their replay `service::ssf`'s.
//!
//! Cookies, all `HttpOnly`, `SameSite=Lax`, `Secure` behind `https`, and only for `/console`: `dd_console` (the
//! officer's session token itself, re-proved on every request), `dd_console_csrf` (the forms' double-submit
//! token). Every form posts its CSRF token; a form without the browser's token changes nothing.

mod chart;
pub mod i18n;

use std::cmp::Reverse;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use dinhdanh_domain::AccountStatus;
use dinhdanh_domain::account::HolderKind;
use dinhdanh_domain::actor::{Actor, OfficerRole};
use dinhdanh_domain::authority::Route;
use dinhdanh_domain::authorization::Action;
use dinhdanh_domain::lock::{Ground, Lock};
use dinhdanh_domain::request::{Request, RequestKind, RequestStatus};
use dinhdanh_oidc::metadata::Issuer;
use dinhdanh_store::QueueFilter;
use tower_http::limit::RequestBodyLimitLayer;

use crate::AppState;
use crate::api::forms::{Csrf, Posted, field, lang_of, query_and_lang};
use crate::api::i18n::{Lang, fill};
use crate::api::locks::AccountRefBody;
use crate::api::locks::filing::InPersonCheckBody;
use crate::api::oidc::pages::page;
use crate::api::oidc::{cookie, issuer_of, no_store, remember_lang, set_cookie_at};
use crate::api::portal::i18n::vietnam_time;
use crate::problem::ApiError;
use crate::ratelimit::limit_by_ip;
use crate::service::console::{self as service, AccountFile, DASHBOARD_DAYS, Dashboard};
use crate::service::locks::{self, Decision, OfficerStep};
use chart::Chart;
use i18n::ConsoleTexts;

pub const HOME: &str = "/console";
const SIGN_IN: &str = "/console/sign-in";
const SIGN_OUT: &str = "/console/sign-out";
const REQUESTS: &str = "/console/requests";
const ACCOUNTS: &str = "/console/accounts";
const DASHBOARD: &str = "/console/dashboard";
const DEAD_LETTERS: &str = "/console/dead-letters";

const SESSION_COOKIE: &str = "dd_console";
const CSRF: Csrf = Csrf { cookie: "dd_console_csrf" };
const CSRF_MAX_AGE_SECONDS: i64 = 12 * 60 * 60;
/// The most requests the queue page lists at once (the most urgent first).
const QUEUE_LIMIT: i64 = 200;

/// The console's routes, under the public rate limit (the sign-in form is reached by strangers) and the body
/// limit.
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(HOME, get(home))
        .route(SIGN_IN, post(sign_in))
        .route(SIGN_OUT, post(sign_out))
        .route(REQUESTS, get(queue))
        .route("/console/requests/{id}", get(request_page))
        .route("/console/requests/{id}/{step}", post(step))
        .route(ACCOUNTS, get(accounts))
        .route(DASHBOARD, get(dashboard))
        .route(DEAD_LETTERS, get(dead_letters))
        .route("/console/dead-letters/{id}/replay", post(replay_dead_letter))
        .layer(axum::middleware::from_fn_with_state(state.public_limiter.clone(), limit_by_ip))
        .layer(RequestBodyLimitLayer::new(crate::BODY_LIMIT))
}

/// Where a signed-in officer lands: the queue if the authorization table lets them list requests, else the dead
/// letters if it lets them act on those (an administrator), else the queue, which tells them what they lack.
fn landing(actor: &Actor) -> &'static str {
    let may = |action| dinhdanh_domain::authorization::authorize(actor, action).is_ok();
    if !may(Action::RequestsList) && may(Action::EventDeadLetters) { DEAD_LETTERS } else { REQUESTS }
}

/// The signed-in officer's part of the layout: the sections, the roles, the sign-out form.
struct Nav {
    roles: String,
    csrf: String,
    /// Whether the authorization table lets this officer act on the dead letters (the link is shown then).
    dead_letters: bool,
}

impl Nav {
    fn of(lang: Lang, actor: &Actor, csrf: &str) -> Self {
        let dead_letters = dinhdanh_domain::authorization::authorize(actor, Action::EventDeadLetters).is_ok();
        Self { roles: role_names(ConsoleTexts::of(lang), actor), csrf: csrf.to_owned(), dead_letters }
    }
}

/// What the layout needs: the language, its words, the title, the switch's link, and the officer's navigation.
struct Base {
    lang: Lang,
    t: &'static ConsoleTexts,
    title: String,
    switch_href: String,
    nav: Option<Nav>,
}

impl Base {
    /// The layout for a page whose `GET` is `path` with `query` (the switch shows it again in the other
    /// language).
    fn new(lang: Lang, title: String, path: &str, query: &[(String, String)], nav: Option<Nav>) -> Self {
        let mut pairs = query.to_vec();
        pairs.push(("lang".to_owned(), lang.other().tag().to_owned()));
        let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        Self { lang, t: ConsoleTexts::of(lang), title, switch_href: format!("{path}?{query}"), nav }
    }
}

fn role_names(t: &ConsoleTexts, actor: &Actor) -> String {
    let Actor::Officer { roles, .. } = actor else { return String::new() };
    let names: Vec<&str> = roles
        .iter()
        .map(|role| match role {
            OfficerRole::Reviewer => t.role_reviewer,
            OfficerRole::Supervisor => t.role_supervisor,
            OfficerRole::Administrator => t.role_administrator,
        })
        .collect();
    fill(t.signed_in_as, &[("roles", &names.join(", "))])
}

fn console_cookie(issuer: &Issuer, name: &str, value: &str, max_age_seconds: i64) -> HeaderValue {
    set_cookie_at(issuer, HOME, name, value, max_age_seconds)
}

fn set(response: &mut Response, value: HeaderValue) {
    response.headers_mut().append(header::SET_COOKIE, value);
}

/// A page with the CSRF cookie set when the browser had none, and the switched language remembered.
fn finish(issuer: &Issuer, mut response: Response, csrf: &(String, bool), switched: Option<Lang>) -> Response {
    if csrf.1 {
        set(&mut response, console_cookie(issuer, CSRF.cookie, &csrf.0, CSRF_MAX_AGE_SECONDS));
    }
    remember_lang(issuer, &mut response, switched);
    no_store(response)
}

/// A `GET` page's request: the issuer, the language, the query without the switch, and the CSRF token.
struct Get {
    issuer: Issuer,
    lang: Lang,
    switched: Option<Lang>,
    query: Vec<(String, String)>,
    csrf: (String, bool),
}

impl Get {
    fn read(state: &AppState, headers: &HeaderMap, query: Option<String>) -> Result<Self, ApiError> {
        let issuer = issuer_of(state, headers)?;
        let (query, switched) = query_and_lang(query.as_deref());
        let lang = lang_of(headers, switched);
        Ok(Self { issuer, lang, switched, query, csrf: CSRF.token(headers) })
    }

    fn param(&self, name: &str) -> &str {
        field(&self.query, name).unwrap_or_default().trim()
    }

    fn nav(&self, actor: &Actor) -> Option<Nav> {
        Some(Nav::of(self.lang, actor, &self.csrf.0))
    }

    fn finish(&self, response: Response) -> Response {
        finish(&self.issuer, response, &self.csrf, self.switched)
    }
}

/// A signed-in officer's `GET` page: the request and the officer, re-proved now. Its rejection is the answer
/// when nobody (anymore) is signed in (see [`officer`]).
struct SignedIn {
    get: Get,
    actor: Actor,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let signed_in = async {
            let get = Get::read(state, &parts.headers, parts.uri.query().map(str::to_owned))?;
            Ok::<_, ApiError>(officer(state, &parts.headers, &get.issuer, get.lang).await?.map(|actor| (get, actor)))
        };
        match signed_in.await {
            Ok(Ok((get, actor))) => Ok(Self { get, actor }),
            Ok(Err(page)) => Err(page),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// A posted form with this browser's CSRF token, or the page refusing it (`403`, nothing changed).
fn posted(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Result<Posted, Response>, ApiError> {
    Ok(Posted::read(state, headers, body, &CSRF)?.map_err(|lang| {
        let t = ConsoleTexts::of(lang);
        let base = Base::new(lang, t.error_title.to_owned(), HOME, &[], None);
        no_store(page(StatusCode::FORBIDDEN, &ErrorPage { base, message: t.form_expired.to_owned() }))
    }))
}

/// A signed-in officer's posted form: the form with this browser's CSRF token and the officer, re-proved now; or
/// the page refusing it ([`posted`], [`officer`]).
async fn posted_by_officer(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Result<(Posted, Actor), Response>, ApiError> {
    let posted = match posted(state, headers, body)? {
        Ok(posted) => posted,
        Err(refused) => return Ok(Err(refused)),
    };
    Ok(officer(state, headers, &posted.issuer, posted.lang).await?.map(|actor| (posted, actor)))
}

/// Who the console's cookie signs in, re-proved now; or the answer when nobody (anymore): no cookie sends the
/// browser to the sign-in page, an ended session or a suspended organization shows it with the reason.
async fn officer(
    state: &AppState,
    headers: &HeaderMap,
    issuer: &Issuer,
    lang: Lang,
) -> Result<Result<Actor, Response>, ApiError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(Err(no_store(Redirect::to(HOME).into_response())));
    };
    let t = ConsoleTexts::of(lang);
    let (status, notice) = match service::signed_in(state, token).await {
        Ok(Some(actor)) => return Ok(Ok(actor)),
        Ok(None) => (StatusCode::UNAUTHORIZED, t.session_ended),
        Err(ApiError::OrganizationSuspended) => (StatusCode::FORBIDDEN, t.organization_suspended),
        Err(other) => return Err(other),
    };
    let csrf = CSRF.token(headers);
    let mut response = sign_in_page(lang, status, SignInForm { notice: Some(notice), ..Default::default() }, &csrf.0);
    set(&mut response, console_cookie(issuer, SESSION_COOKIE, "", 0));
    Ok(Err(finish(issuer, response, &csrf, None)))
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage {
    base: Base,
    message: String,
}

/// The sign-in form's state: a notice, the refusal (announced), what was typed, and the empty fields.
#[derive(Default)]
struct SignInForm {
    notice: Option<&'static str>,
    alert: Option<String>,
    username: String,
    missing_username: bool,
    missing_password: bool,
    missing_code: bool,
}

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage {
    base: Base,
    form: SignInForm,
    action: &'static str,
    csrf: String,
}

fn sign_in_page(lang: Lang, status: StatusCode, form: SignInForm, csrf: &str) -> Response {
    let base = Base::new(lang, ConsoleTexts::of(lang).sign_in_title.to_owned(), HOME, &[], None);
    page(status, &SignInPage { base, form, action: SIGN_IN, csrf: csrf.to_owned() })
}

/// `GET /console`: the officer's landing page when signed in ([`landing`]), else the sign-in form.
async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let get = Get::read(&state, &headers, query)?;
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && let Ok(Some(actor)) = service::signed_in(&state, token).await
    {
        return Ok(get.finish(Redirect::to(landing(&actor)).into_response()));
    }
    let t = ConsoleTexts::of(get.lang);
    let notice = (get.param("done") == "signed-out").then_some(t.signed_out_notice);
    let mut response = sign_in_page(get.lang, StatusCode::OK, SignInForm { notice, ..Default::default() }, &get.csrf.0);
    if cookie(&headers, SESSION_COOKIE).is_some() {
        // A session that ended (expired, disabled, suspended): forget it.
        set(&mut response, console_cookie(&get.issuer, SESSION_COOKIE, "", 0));
    }
    Ok(get.finish(response))
}

/// `POST /console/sign-in`: password and TOTP code through the officers' sign-in (its audit, its throttle,
/// its one answer for every failure); the session token goes into the console's cookie.
async fn sign_in(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let posted = match posted(&state, &headers, &body)? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let t = ConsoleTexts::of(posted.lang);
    let (username, password, code) = (posted.field("username").trim(), posted.field("password"), posted.field("code"));
    let csrf = CSRF.token(&headers);
    let mut form = SignInForm {
        username: username.to_owned(),
        missing_username: username.is_empty(),
        missing_password: password.is_empty(),
        missing_code: code.trim().is_empty(),
        ..Default::default()
    };
    if form.missing_username || form.missing_password || form.missing_code {
        return Ok(no_store(sign_in_page(posted.lang, StatusCode::UNPROCESSABLE_ENTITY, form, &csrf.0)));
    }
    let status = match crate::service::officers::sign_in(&state, username, password.to_owned(), code.trim()).await {
        Ok(session) => {
            let now = state.clock.now();
            let max_age = (session.expires_at - now).num_seconds().max(0);
            let to = match service::signed_in(&state, &session.token).await? {
                Some(actor) => landing(&actor),
                None => REQUESTS,
            };
            let mut response = Redirect::to(to).into_response();
            set(&mut response, console_cookie(&posted.issuer, SESSION_COOKIE, &session.token, max_age));
            return Ok(no_store(response));
        }
        Err(ApiError::SignInFailed) => {
            form.alert = Some(t.sign_in_failed.to_owned());
            StatusCode::UNAUTHORIZED
        }
        Err(ApiError::SignInLocked { retry_after_seconds }) => {
            let minutes = (retry_after_seconds + 59) / 60;
            form.alert = Some(fill(t.sign_in_locked, &[("minutes", &minutes.to_string())]));
            StatusCode::TOO_MANY_REQUESTS
        }
        Err(other) => return Err(other),
    };
    Ok(no_store(sign_in_page(posted.lang, status, form, &csrf.0)))
}

/// `POST /console/sign-out`: ends the officer's session.
async fn sign_out(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let posted = match posted(&state, &headers, &body)? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && let Ok(Some(actor)) = service::signed_in(&state, token).await
    {
        crate::service::officers::sign_out(&state, &actor, token).await?;
    }
    let mut response = Redirect::to(&format!("{HOME}?done=signed-out")).into_response();
    set(&mut response, console_cookie(&posted.issuer, SESSION_COOKIE, "", 0));
    Ok(no_store(response))
}

fn kind_name(t: &ConsoleTexts, kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Lock => t.kind_lock,
        RequestKind::Unlock => t.kind_unlock,
    }
}

fn role_name(t: &ConsoleTexts, role: OfficerRole) -> &'static str {
    match role {
        OfficerRole::Reviewer => t.role_reviewer,
        OfficerRole::Supervisor => t.role_supervisor,
        OfficerRole::Administrator => t.role_administrator,
    }
}

fn time_or(at: Option<DateTime<Utc>>, none: &str) -> String {
    at.map(vietnam_time).unwrap_or_else(|| none.to_owned())
}

/// A request as a row of the queue or of an account's requests.
struct RequestRow {
    href: String,
    tracking_code: String,
    kind: &'static str,
    ground: &'static str,
    status: &'static str,
    received: String,
    deadline: String,
    overdue: bool,
    next_step_by: &'static str,
    claimed: &'static str,
}

fn request_row(lang: Lang, r: &Request, me: &str, now: DateTime<Utc>) -> RequestRow {
    let t = ConsoleTexts::of(lang);
    let claimed = match r.claimed_by.as_deref() {
        _ if r.status.is_final() => "",
        Some(by) if by == me => t.claimed_by_you,
        Some(_) if r.claimed_by_another(me, now) => t.claimed_by_other,
        _ => t.not_claimed,
    };
    RequestRow {
        href: format!("{REQUESTS}/{}", r.id),
        tracking_code: r.tracking_code.to_string(),
        kind: kind_name(t, r.kind),
        ground: lang.choose(r.ground.description()),
        status: lang.choose(r.status.description()),
        received: vietnam_time(r.received_at),
        deadline: time_or(r.deadline, t.no_deadline),
        overdue: r.is_overdue(now),
        next_step_by: match r.next_decider() {
            Some(role) if !r.status.is_final() => role_name(t, role),
            _ => "",
        },
        claimed,
    }
}

fn officer_id(actor: &Actor) -> &str {
    match actor {
        Actor::Officer { officer_id, .. } => officer_id,
        _ => "",
    }
}

/// The queue's filter as the form shows it back.
struct QueueForm {
    kind: String,
    status: String,
    latest_first: bool,
    overdue_only: bool,
}

#[derive(Template)]
#[template(path = "console/queue.html")]
struct QueuePage {
    base: Base,
    form: QueueForm,
    count_line: String,
    rows: Vec<RequestRow>,
}

/// `GET /console/requests`: the open requests the officer may see, filtered by kind, status and overdue, by
/// deadline (the soonest first, or the latest).
async fn queue(State(state): State<AppState>, SignedIn { get, actor }: SignedIn) -> Result<Response, ApiError> {
    let kind = RequestKind::parse(get.param("kind"));
    let status = RequestStatus::parse(get.param("status")).filter(|s| !s.is_final());
    let form = QueueForm {
        kind: kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
        status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        latest_first: get.param("sort") == "latest",
        overdue_only: get.param("overdue") == "1",
    };
    let filter =
        QueueFilter { statuses: status.into_iter().collect(), kind, ground: None, overdue_only: form.overdue_only };
    let mut requests = match locks::list_requests(&state, &actor, &filter, QUEUE_LIMIT).await {
        Ok(requests) => requests,
        Err(e) => return refused_page(get.lang, e),
    };
    if form.latest_first {
        // Stable: requests without a deadline stay last.
        requests.sort_by_key(|r| Reverse(r.deadline));
    }
    let now = state.clock.now();
    let me = officer_id(&actor);
    let rows: Vec<RequestRow> = requests.iter().map(|r| request_row(get.lang, r, me, now)).collect();
    let t = ConsoleTexts::of(get.lang);
    let base = Base::new(get.lang, t.queue_title.to_owned(), REQUESTS, &get.query, get.nav(&actor));
    let count_line = fill(t.queue_count, &[("count", &rows.len().to_string())]);
    Ok(get.finish(page(StatusCode::OK, &QueuePage { base, form, count_line, rows })))
}

struct StepRow {
    when: String,
    step: &'static str,
    note: String,
}

/// The steps the officer's roles allow on the request now; the service decides again when one is taken
/// (claims held by another, separation of duties), and its refusal is shown on the page.
#[derive(Default)]
struct Actions {
    claim: bool,
    release: bool,
    forward: bool,
    decide: bool,
}

impl Actions {
    fn any(&self) -> bool {
        self.claim || self.release || self.forward || self.decide
    }
}

fn actions(request: &Request, actor: &Actor) -> Actions {
    let Actor::Officer { officer_id, roles, .. } = actor else { return Actions::default() };
    let open = matches!(request.status, RequestStatus::Received | RequestStatus::Verifying);
    let Some(due) = request.next_decider().filter(|role| open && roles.contains(role)) else {
        return Actions::default();
    };
    let mine = request.claimed_by.as_deref() == Some(officer_id.as_str());
    let reviewers_step =
        matches!(request.route, Route::ReviewerThenSupervisor { .. }) && request.forwarded_at.is_none();
    Actions {
        claim: !mine,
        release: mine,
        forward: reviewers_step && due == OfficerRole::Reviewer,
        decide: !reviewers_step,
    }
}

#[derive(Template)]
#[template(path = "console/request.html")]
struct RequestPage {
    base: Base,
    notice: Option<&'static str>,
    refusal: Option<String>,
    row: RequestRow,
    account_id: String,
    reason: String,
    reference: String,
    legal_basis: String,
    is_override: bool,
    lock_ends: String,
    decision_reason: String,
    /// The approval must record an in-person check (a holder's own unlock filed at Level 1).
    in_person_check: bool,
    steps: Vec<StepRow>,
    actions: Actions,
    action_base: String,
    csrf: String,
}

fn request_view(
    get_lang: Lang,
    nav: Option<Nav>,
    request: &Request,
    steps: &[dinhdanh_domain::request::Step],
    actor: &Actor,
    now: DateTime<Utc>,
    csrf: &str,
) -> RequestPage {
    let t = ConsoleTexts::of(get_lang);
    let row = request_row(get_lang, request, officer_id(actor), now);
    let title = format!("{} {}", t.request_title, row.tracking_code);
    let path = row.href.clone();
    RequestPage {
        base: Base::new(get_lang, title, &path, &[], nav),
        notice: None,
        refusal: None,
        account_id: request.subject.account().map(|a| a.to_string()).unwrap_or_default(),
        reason: request.reason.clone(),
        reference: request.reference.clone().unwrap_or_default(),
        legal_basis: request
            .legal_basis
            .as_ref()
            .map(|b| format!("{} {} ({}), {}, {}", b.document_kind, b.number, b.issued_on, b.issuing_body, b.signer))
            .unwrap_or_default(),
        is_override: request.is_override,
        lock_ends: request.lock_ends_at.map(vietnam_time).unwrap_or_default(),
        decision_reason: request.decision_reason.clone().unwrap_or_default(),
        in_person_check: request.awaits_in_person_check(),
        steps: steps
            .iter()
            .map(|s| StepRow {
                when: vietnam_time(s.at),
                step: get_lang.choose(s.event.description()),
                note: s.note.clone().unwrap_or_default(),
            })
            .collect(),
        actions: actions(request, actor),
        action_base: path,
        row,
        csrf: csrf.to_owned(),
    }
}

/// `GET /console/requests/{id}`: the request, its steps and the officer's possible steps.
async fn request_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    SignedIn { get, actor }: SignedIn,
) -> Result<Response, ApiError> {
    let (request, steps) = match locks::request_with_steps(&state, &actor, &id).await {
        Ok(found) => found,
        Err(e) => return refused_page(get.lang, e),
    };
    let mut view = request_view(get.lang, get.nav(&actor), &request, &steps, &actor, state.clock.now(), &get.csrf.0);
    if get.param("done") == "1" {
        view.notice = Some(ConsoleTexts::of(get.lang).step_done);
    }
    Ok(get.finish(page(StatusCode::OK, &view)))
}

/// The page's words for a refusal by the services: their own reason, in the page's language.
fn refusal_text(lang: Lang, error: &ApiError) -> String {
    let (_, vi, en) = error.texts();
    let mut text = lang.choose((vi, en));
    if let ApiError::Validation(fields) = error {
        for f in fields {
            text.push_str(&format!(" {}: {}", f.field, f.message));
        }
    }
    text
}

/// A service's refusal of a page as a page: the authorization table said no (`403`, audited by `authorize`), or
/// there is no such request (`404`); any other error is answered as the API answers it.
fn refused_page(lang: Lang, error: ApiError) -> Result<Response, ApiError> {
    match error {
        ApiError::Forbidden { .. } | ApiError::NotFound { .. } => {
            let t = ConsoleTexts::of(lang);
            let base = Base::new(lang, t.error_title.to_owned(), HOME, &[], None);
            let message = refusal_text(lang, &error);
            Ok(no_store(page(error.status(), &ErrorPage { base, message })))
        }
        other => Err(other),
    }
}

/// `POST /console/requests/{id}/{step}`: claim, release, forward, approve or reject, through the lock engine's
/// officer step. A refusal shows the service's reason on the request's page, with its status; nothing changed.
async fn step(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, step)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (posted, actor) = match posted_by_officer(&state, &headers, &body).await? {
        Ok(both) => both,
        Err(page) => return Ok(page),
    };
    let note = posted.field("note").trim().to_owned();
    let step = match step.as_str() {
        "claim" => OfficerStep::Claim,
        "release" => OfficerStep::Release,
        "forward" => OfficerStep::Forward { note: Some(note).filter(|n| !n.is_empty()) },
        "approve" => {
            // Only the form of a request that awaits an in-person check has these fields.
            let in_person_check = match posted.field("document_number") {
                "" => None,
                _ => match (InPersonCheckBody {
                    document_kind: posted.field("document_kind").to_owned(),
                    document_number: posted.field("document_number").to_owned(),
                    office: posted.field("office").to_owned(),
                })
                .parse()
                {
                    Ok(check) => Some(check),
                    Err(refused) => return refused_step(&state, &headers, &posted, &actor, &id, refused).await,
                },
            };
            OfficerStep::Decide { decision: Decision::Approve, reason: note, in_person_check }
        }
        "reject" => OfficerStep::Decide { decision: Decision::Reject, reason: note, in_person_check: None },
        _ => return Err(ApiError::NotFound { what: "step" }),
    };
    let refused = match locks::officer_step(&state, &actor, &id, step, None).await {
        Ok(_) => return Ok(no_store(Redirect::to(&format!("{REQUESTS}/{id}?done=1")).into_response())),
        Err(
            e @ (ApiError::Forbidden { .. }
            | ApiError::Conflict { .. }
            | ApiError::Validation(_)
            | ApiError::LockRefused { .. }),
        ) => e,
        Err(other) => return Err(other),
    };
    refused_step(&state, &headers, &posted, &actor, &id, refused).await
}

/// The request's page again with the refusal of a step: its status, nothing changed.
async fn refused_step(
    state: &AppState,
    headers: &HeaderMap,
    posted: &Posted,
    actor: &Actor,
    id: &str,
    refused: ApiError,
) -> Result<Response, ApiError> {
    let (request, steps) = locks::request_with_steps(state, actor, id).await?;
    let csrf = CSRF.token(headers);
    let nav = Some(Nav::of(posted.lang, actor, &csrf.0));
    let mut view = request_view(posted.lang, nav, &request, &steps, actor, state.clock.now(), &csrf.0);
    view.refusal = Some(refusal_text(posted.lang, &refused));
    Ok(no_store(page(refused.status(), &view)))
}

struct LockRow {
    ground: &'static str,
    placed_by: String,
    since: String,
    state: &'static str,
    lifted: String,
}

struct HistoryRow {
    when: String,
    what: String,
    by: String,
}

/// The account a lookup found, as the page shows it.
struct AccountView {
    full_name: String,
    holder_kind: &'static str,
    level: String,
    status: &'static str,
    locks: Vec<LockRow>,
    requests: Vec<RequestRow>,
    history: Vec<HistoryRow>,
}

/// The lookup form as it shows back what was typed.
#[derive(Default)]
struct LookupForm {
    id_number: String,
    passport_number: String,
    nationality: String,
    invalid: bool,
}

#[derive(Template)]
#[template(path = "console/accounts.html")]
struct AccountsPage {
    base: Base,
    form: LookupForm,
    not_found: bool,
    found: Option<AccountView>,
}

fn lock_state(t: &ConsoleTexts, lock: &Lock, now: DateTime<Utc>) -> &'static str {
    if lock.lifted.is_some() {
        t.lifted
    } else if lock.is_active(now) {
        t.in_force
    } else {
        t.ended
    }
}

fn account_view(lang: Lang, file: AccountFile, me: &str, now: DateTime<Utc>) -> AccountView {
    let t = ConsoleTexts::of(lang);
    let usable = file.account.status == AccountStatus::Active && !file.locks.iter().any(|l| l.lock.is_active(now));
    let mut history = Vec::new();
    let mut locks = Vec::new();
    for view in &file.locks {
        let ground = lang.choose(view.lock.description());
        if let (Some(lift), Some(by)) = (&view.lock.lifted, &view.lifted_by) {
            let what = format!("{}: {ground}", t.lifted_event);
            history.push((lift.at, HistoryRow { when: vietnam_time(lift.at), what, by: by.clone() }));
        }
        let when = vietnam_time(view.lock.effective_at);
        let what = format!("{}: {ground}", t.locked_event);
        history.push((view.lock.effective_at, HistoryRow { when: when.clone(), what, by: view.placed_by.clone() }));
        locks.push(LockRow {
            ground,
            placed_by: view.placed_by.clone(),
            since: when,
            state: lock_state(t, &view.lock, now),
            lifted: match (&view.lock.lifted, &view.lifted_by) {
                (Some(lift), Some(by)) => format!("{} ({by})", vietnam_time(lift.at)),
                _ => String::new(),
            },
        });
    }
    history.sort_by_key(|(at, _)| Reverse(*at));
    AccountView {
        full_name: file.account.full_name.as_str().to_owned(),
        holder_kind: match file.account.holder_kind {
            HolderKind::Citizen => t.citizen,
            HolderKind::Foreigner => t.foreigner,
        },
        level: fill(t.level_value, &[("level", &file.account.level.number().to_string())]),
        status: if usable { t.usable } else { t.not_usable },
        locks,
        requests: file.requests.iter().map(|r| request_row(lang, r, me, now)).collect(),
        history: history.into_iter().map(|(_, row)| row).collect(),
    }
}

/// `GET /console/accounts`: the lookup form, and with an identity in the query the account's status, locks,
/// requests and history (every lookup audited by the service).
async fn accounts(State(state): State<AppState>, SignedIn { get, actor }: SignedIn) -> Result<Response, ApiError> {
    let mut form = LookupForm {
        id_number: get.param("id_number").to_owned(),
        passport_number: get.param("passport_number").to_owned(),
        nationality: get.param("nationality").to_owned(),
        invalid: false,
    };
    let (mut status, mut not_found, mut found) = (StatusCode::OK, false, None);
    let given = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
    let reference = AccountRefBody {
        id_number: given(&form.id_number),
        passport_number: given(&form.passport_number),
        nationality: given(&form.nationality),
    };
    if reference.id_number.is_some() || reference.passport_number.is_some() || reference.nationality.is_some() {
        match reference.identity_key(&state) {
            Ok(identity) => match service::look_up(&state, &actor, &identity).await {
                Err(e) => return refused_page(get.lang, e),
                Ok(Some(file)) => found = Some(account_view(get.lang, file, officer_id(&actor), state.clock.now())),
                Ok(None) => {
                    not_found = true;
                    status = StatusCode::NOT_FOUND;
                }
            },
            Err(_) => {
                form.invalid = true;
                status = StatusCode::UNPROCESSABLE_ENTITY;
            }
        }
    }
    let t = ConsoleTexts::of(get.lang);
    let base = Base::new(get.lang, t.accounts_title.to_owned(), ACCOUNTS, &get.query, get.nav(&actor));
    Ok(get.finish(page(status, &AccountsPage { base, form, not_found, found })))
}

/// One row of a per-day table: the day, the count of each ground shown, the total.
struct DayRow {
    day: String,
    counts: Vec<i64>,
    total: i64,
}

/// A chart of locks per day by ground, with the same numbers as a table.
struct PerDay {
    heading: String,
    chart: Chart,
    grounds: Vec<&'static str>,
    rows: Vec<DayRow>,
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    base: Base,
    open_chart: Chart,
    open_rows: Vec<(&'static str, i64)>,
    overdue_line: String,
    per_day: Vec<PerDay>,
}

fn per_day(
    lang: Lang,
    id: &'static str,
    heading: String,
    dashboard: &Dashboard,
    counts: impl Fn(&service::DayCounts) -> &std::collections::BTreeMap<Ground, i64>,
) -> PerDay {
    let t = ConsoleTexts::of(lang);
    // The grounds that occur in these days, in the domain's order.
    let grounds: Vec<Ground> = Ground::ALL
        .iter()
        .copied()
        .filter(|g| dashboard.days.iter().any(|(_, day)| counts(day).contains_key(g)))
        .collect();
    let names: Vec<&'static str> = grounds.iter().map(|g| lang.choose(g.description())).collect();
    let rows: Vec<DayRow> = dashboard
        .days
        .iter()
        .map(|(day, c)| {
            let counts: Vec<i64> = grounds.iter().map(|g| counts(c).get(g).copied().unwrap_or(0)).collect();
            DayRow { day: day.format("%d/%m").to_string(), total: counts.iter().sum(), counts }
        })
        .collect();
    let columns: Vec<(String, Vec<i64>)> = rows.iter().map(|r| (r.day.clone(), r.counts.clone())).collect();
    let series: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let chart = chart::stacked(id, heading.clone(), t.per_day_desc.to_owned(), &series, &columns, true);
    PerDay { heading, chart, grounds: names, rows }
}

/// `GET /console/dashboard`: open requests by kind, the overdue count, and locks placed and lifted per day by
/// ground over the last [`DASHBOARD_DAYS`] days, as inline SVG charts with their numbers in tables.
async fn dashboard(State(state): State<AppState>, SignedIn { get, actor }: SignedIn) -> Result<Response, ApiError> {
    let numbers = match service::dashboard(&state, &actor).await {
        Ok(numbers) => numbers,
        Err(e) => return refused_page(get.lang, e),
    };
    let t = ConsoleTexts::of(get.lang);
    let open_rows: Vec<(&'static str, i64)> =
        numbers.open_by_kind.iter().map(|(k, n)| (kind_name(t, *k), *n)).collect();
    let columns: Vec<(String, Vec<i64>)> = open_rows.iter().map(|(k, n)| ((*k).to_owned(), vec![*n])).collect();
    let open_chart = chart::stacked(
        "open",
        t.open_requests_heading.to_owned(),
        t.open_requests_desc.to_owned(),
        &[t.count_label.to_owned()],
        &columns,
        false,
    );
    let days = DASHBOARD_DAYS.to_string();
    let per_day = vec![
        per_day(get.lang, "placed", fill(t.placed_heading, &[("days", &days)]), &numbers, |d| &d.placed),
        per_day(get.lang, "lifted", fill(t.lifted_heading, &[("days", &days)]), &numbers, |d| &d.lifted),
    ];
    let overdue_line = fill(t.overdue_count, &[("count", &numbers.overdue.to_string())]);
    let base = Base::new(get.lang, t.dashboard_title.to_owned(), DASHBOARD, &get.query, get.nav(&actor));
    Ok(get.finish(page(StatusCode::OK, &DashboardPage { base, open_chart, open_rows, overdue_line, per_day })))
}

/// A dead letter as a row of its page.
struct DeadLetterRow {
    id: String,
    stream_id: String,
    relying_party: String,
    /// The event type's last segment (`account-disabled`), and its whole URI.
    event_type: String,
    event_type_uri: String,
    attempts: i64,
    last_error: String,
    dead_at: String,
}

#[derive(Template)]
#[template(path = "console/dead_letters.html")]
struct DeadLettersPage {
    base: Base,
    notice: Option<&'static str>,
    rows: Vec<DeadLetterRow>,
    csrf: String,
}

/// `GET /console/dead-letters`: the Shared Signals events receivers refused or never took, newest first, each with
/// a form to send it again (administrators; anyone else is refused by the table, audited).
async fn dead_letters(State(state): State<AppState>, SignedIn { get, actor }: SignedIn) -> Result<Response, ApiError> {
    let dead = match crate::service::ssf::dead_letters(&state, &actor).await {
        Ok(dead) => dead,
        Err(e) => return refused_page(get.lang, e),
    };
    let t = ConsoleTexts::of(get.lang);
    let rows = dead
        .into_iter()
        .map(|d| DeadLetterRow {
            id: d.id.to_string(),
            stream_id: d.stream_id,
            relying_party: d.relying_party,
            event_type: d.event_type.rsplit('/').next().unwrap_or_default().to_owned(),
            event_type_uri: d.event_type,
            attempts: d.attempts,
            last_error: d.last_error.unwrap_or_default(),
            dead_at: vietnam_time(d.dead_at),
        })
        .collect();
    let notice = (get.param("done") == "replayed").then_some(t.replayed_notice);
    let base = Base::new(get.lang, t.dead_letters_title.to_owned(), DEAD_LETTERS, &get.query, get.nav(&actor));
    Ok(get.finish(page(StatusCode::OK, &DeadLettersPage { base, notice, rows, csrf: get.csrf.0.clone() })))
}

/// `POST /console/dead-letters/{id}/replay`: sends the dead letter again (the API's replay: the table, the audit),
/// then back to the list with a notice. One no longer dead is `404`, nothing changed.
async fn replay_dead_letter(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (posted, actor) = match posted_by_officer(&state, &headers, &body).await? {
        Ok(both) => both,
        Err(page) => return Ok(page),
    };
    match crate::service::ssf::replay(&state, &actor, &id).await {
        Ok(()) => Ok(no_store(Redirect::to(&format!("{DEAD_LETTERS}?done=replayed")).into_response())),
        Err(e) => refused_page(posted.lang, e),
    }
}
