//! The provider's own pages — identifier and password, one-time code, consent, a locked holder's page,
//! refusals, logout confirmation and "signed out" — rendered from the askama templates under
//! `crates/server/templates/oidc/` (a layout and one per page; askama HTML-escapes every value). Each page speaks
//! one language, with the words of [`super::i18n`], and links to itself in the other ([`Again`]). Forms work
//! without JavaScript and carry the interaction id and the CSRF token in hidden fields. Deliberately unstyled:
//! the web issue gives them their look. Which page comes next is `service::oidc`'s, not this module's.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use dinhdanh_oidc::authorize::{SignInReason, UiLocale};
use dinhdanh_oidc::metadata::Issuer;

use super::i18n::{Lang, Texts, fill};
use crate::service::oidc::authorize::{BiometricError, Outcome, PageKind, SignInError};
use crate::service::oidc::logout::LogoutOutcome;

/// Where a page's language switch leads: the same page again, in the other language.
#[derive(Debug, Clone)]
pub enum Again {
    /// A page of an interaction, shown again by `GET /oauth/authorize/page` (nothing else comes of it).
    Interaction { id: String, page: PageKind },
    /// A `GET` that can be repeated as it is: its URL, without `lang`.
    Request(String),
}

impl Again {
    fn href(&self, issuer: &Issuer, to: Lang) -> String {
        match self {
            Again::Interaction { id, page } => {
                let query = form_urlencoded::Serializer::new(String::new())
                    .append_pair("interaction", id)
                    .append_pair("page", page.as_str())
                    .append_pair("lang", to.tag())
                    .finish();
                format!("{}/page?{query}", issuer.url("/oauth/authorize"))
            }
            Again::Request(url) => format!("{url}{}lang={}", if url.contains('?') { '&' } else { '?' }, to.tag()),
        }
    }
}

/// What the browser said about its language: the switch just used, the one the `dd_lang` cookie remembers,
/// and the request's `ui_locales` where the outcome does not carry it (a refusal, logout).
#[derive(Debug, Clone, Copy, Default)]
pub struct LangPrefs {
    pub switched: Option<Lang>,
    pub remembered: Option<Lang>,
    pub requested: Option<UiLocale>,
}

impl LangPrefs {
    fn pick(self, requested: Option<UiLocale>) -> Lang {
        Lang::pick(self.switched, self.remembered, requested.or(self.requested))
    }
}

/// What the layout needs: the language, its words, the title, the switch's link.
struct Base {
    lang: Lang,
    t: &'static Texts,
    title: &'static str,
    switch_href: String,
}

impl Base {
    fn new(issuer: &Issuer, lang: Lang, title: impl Fn(&'static Texts) -> &'static str, again: &Again) -> Self {
        let t = Texts::of(lang);
        Self { lang, t, title: title(t), switch_href: again.href(issuer, lang.other()) }
    }
}

#[derive(Template)]
#[template(path = "oidc/sign_in.html")]
struct SignInPage<'a> {
    base: Base,
    action: String,
    interaction: &'a str,
    csrf: &'a str,
    notice: Option<&'static str>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "oidc/code.html")]
struct CodePage<'a> {
    base: Base,
    action: String,
    interaction: &'a str,
    csrf: &'a str,
    sent: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "oidc/biometric.html")]
struct BiometricPage<'a> {
    base: Base,
    action: String,
    interaction: &'a str,
    csrf: &'a str,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "oidc/consent.html")]
struct ConsentPage<'a> {
    base: Base,
    heading: String,
    action: String,
    interaction: &'a str,
    csrf: &'a str,
    /// Each claim's value (the form field) and label.
    claims: Vec<(&'static str, &'static str)>,
    offline: bool,
}

#[derive(Template)]
#[template(path = "oidc/locked.html")]
struct LockedPage<'a> {
    base: Base,
    /// Each lock's ground and how to lift it, in the page's language.
    locks: Vec<(&'a str, &'a str)>,
}

#[derive(Template)]
#[template(path = "oidc/refused.html")]
struct RefusedPage<'a> {
    base: Base,
    heading: &'static str,
    error: &'a str,
    description: &'a str,
}

#[derive(Template)]
#[template(path = "oidc/logout.html")]
struct LogoutPage<'a> {
    base: Base,
    asked_by: Option<String>,
    action: String,
    params: &'a [(String, String)],
    csrf: &'a str,
}

#[derive(Template)]
#[template(path = "oidc/signed_out.html")]
struct SignedOutPage {
    base: Base,
}

/// The response for a rendered page: never framed (clickjacking), loading nothing from elsewhere (only the
/// server's own stylesheet, `api::assets`), sending no referrer.
pub(crate) fn page(status: StatusCode, template: &impl Template) -> Response {
    let mut response = match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

fn error_text(t: &Texts, error: &SignInError) -> String {
    match error {
        SignInError::Failed | SignInError::Malformed => t.sign_in_failed.to_owned(),
        SignInError::WrongCode { attempts_left } if *attempts_left >= 0 => {
            fill(t.wrong_code, &[("attempts", &attempts_left.to_string())])
        }
        SignInError::WrongCode { .. } => t.malformed_code.to_owned(),
        SignInError::Throttled { retry_after_seconds } => {
            fill(t.throttled, &[("seconds", &retry_after_seconds.to_string())])
        }
        SignInError::CodeExpired => t.code_expired.to_owned(),
    }
}

fn biometric_error_text(t: &Texts, error: &BiometricError) -> String {
    match error {
        BiometricError::Mismatch { tries_left: Some(left) } => {
            fill(t.biometric_mismatch, &[("attempts", &left.to_string())])
        }
        BiometricError::Mismatch { tries_left: None } => t.biometric_mismatch_in_person.to_owned(),
        BiometricError::NoReference => t.biometric_no_reference.to_owned(),
        BiometricError::Exhausted { retry_after_seconds } => {
            fill(t.biometric_exhausted, &[("hours", &((retry_after_seconds + 3599) / 3600).to_string())])
        }
        BiometricError::Unreadable => t.biometric_unreadable.to_owned(),
    }
}

fn refused(base: Base, status: u16, heading: &'static str, error: &str, description: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    page(status, &RefusedPage { base, heading, error, description })
}

/// The page for an outcome (never [`Outcome::Redirect`], which the caller answers with a `303`). `again` is
/// where the switch leads on a page that is not an interaction's own (a locked holder's, a refusal).
pub fn render(issuer: &Issuer, outcome: Outcome, csrf: &str, prefs: LangPrefs, again: Again) -> Response {
    let authorize = issuer.url("/oauth/authorize");
    let lang = prefs.pick(match &outcome {
        Outcome::SignIn { ui_locale, .. }
        | Outcome::Code { ui_locale, .. }
        | Outcome::Biometric { ui_locale, .. }
        | Outcome::Consent { ui_locale, .. }
        | Outcome::Locked { ui_locale, .. } => *ui_locale,
        Outcome::Redirect(_) | Outcome::Refused { .. } => None,
    });
    let t = Texts::of(lang);
    let on = |id: &str, page| Again::Interaction { id: id.to_owned(), page };
    match outcome {
        Outcome::Redirect(url) => Redirect::to(&url).into_response(),
        Outcome::SignIn { interaction, reason, error, .. } => {
            let notice = match reason {
                SignInReason::NoSession => None,
                SignInReason::Reauthenticate => Some(t.reauthenticate),
                SignInReason::StepUp(_) => Some(t.step_up),
            };
            let base = Base::new(issuer, lang, |t| t.sign_in_title, &on(&interaction, PageKind::Password));
            let error = error.map(|e| error_text(t, &e));
            let action = format!("{authorize}/password");
            page(StatusCode::OK, &SignInPage { base, action, interaction: &interaction, csrf, notice, error })
        }
        Outcome::Code { interaction, sent_to, error, .. } => {
            let base = Base::new(issuer, lang, |t| t.code_title, &on(&interaction, PageKind::Code));
            let sent = (!sent_to.is_empty()).then(|| fill(t.code_sent, &[("destination", &sent_to)]));
            let error = error.map(|e| error_text(t, &e));
            let action = format!("{authorize}/code");
            page(StatusCode::OK, &CodePage { base, action, interaction: &interaction, csrf, sent, error })
        }
        Outcome::Biometric { interaction, error, .. } => {
            let base = Base::new(issuer, lang, |t| t.biometric_title, &on(&interaction, PageKind::Biometric));
            let error = error.map(|e| biometric_error_text(t, &e));
            let action = format!("{authorize}/biometric");
            page(StatusCode::OK, &BiometricPage { base, action, interaction: &interaction, csrf, error })
        }
        Outcome::Consent { interaction, client_name, request, .. } => {
            let base = Base::new(issuer, lang, |t| t.consent_title, &on(&interaction, PageKind::Consent));
            let consent = ConsentPage {
                base,
                heading: fill(t.consent_heading, &[("client", &client_name)]),
                action: format!("{authorize}/consent"),
                interaction: &interaction,
                csrf,
                claims: request.claims.iter().map(|c| (c.as_str(), t.claim(*c))).collect(),
                offline: request.offline_access(),
            };
            page(StatusCode::OK, &consent)
        }
        Outcome::Locked { locks, .. } => {
            let base = Base::new(issuer, lang, |t| t.locked_title, &again);
            let locks = locks
                .iter()
                .map(|l| match lang {
                    Lang::Vi => (l.description_vi.as_str(), l.how_to_lift_vi.as_str()),
                    Lang::En => (l.description_en.as_str(), l.how_to_lift_en.as_str()),
                })
                .collect();
            page(StatusCode::FORBIDDEN, &LockedPage { base, locks })
        }
        Outcome::Refused { status, error, description } => {
            let base = Base::new(issuer, lang, |t| t.refused_title, &again);
            refused(base, status, t.refused_heading, error.as_str(), &description)
        }
    }
}

/// The logout pages: the confirmation form, "signed out", or a refusal (never [`LogoutOutcome::Redirect`],
/// which the caller answers with a `303`). `again` is the request to repeat for the switch on a refusal.
pub fn render_logout(issuer: &Issuer, outcome: LogoutOutcome, csrf: &str, prefs: LangPrefs, again: Again) -> Response {
    let lang = prefs.pick(None);
    let t = Texts::of(lang);
    let end_session = issuer.url("/oauth/logout");
    match outcome {
        LogoutOutcome::Redirect { url, .. } => Redirect::to(&url).into_response(),
        LogoutOutcome::Confirm { params, client_name } => {
            let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish();
            let same = Again::Request(if query.is_empty() { end_session } else { format!("{end_session}?{query}") });
            let logout = LogoutPage {
                base: Base::new(issuer, lang, |t| t.logout_title, &same),
                asked_by: client_name.map(|name| fill(t.logout_asked_by, &[("client", &name)])),
                action: issuer.url("/oauth/logout/confirm"),
                params: &params,
                csrf,
            };
            page(StatusCode::OK, &logout)
        }
        // Asked again, the endpoint finds no session and says the same.
        LogoutOutcome::SignedOut { .. } => {
            let base = Base::new(issuer, lang, |t| t.signed_out_title, &Again::Request(end_session));
            page(StatusCode::OK, &SignedOutPage { base })
        }
        LogoutOutcome::Refused { error, description } => {
            let base = Base::new(issuer, lang, |t| t.refused_title, &again);
            refused(base, 400, t.logout_refused_heading, error.as_str(), &description)
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;
    use dinhdanh_oidc::consent::ConsentRequest;
    use dinhdanh_oidc::scope::{Claim, Scope};

    use super::*;
    use crate::api::oidc::i18n::VI;
    use crate::problem::LockNotice;

    fn issuer() -> Issuer {
        Issuer::parse("https://id.example.vn").unwrap()
    }

    fn prefs(lang: Lang) -> LangPrefs {
        LangPrefs { remembered: Some(lang), ..LangPrefs::default() }
    }

    async fn html(response: Response) -> String {
        String::from_utf8(to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap()
    }

    fn nowhere() -> Again {
        Again::Request("https://id.example.vn/oauth/authorize".into())
    }

    async fn sign_in(lang: Lang, error: Option<SignInError>) -> String {
        let outcome =
            Outcome::SignIn { interaction: "i1".into(), reason: SignInReason::Reauthenticate, error, ui_locale: None };
        html(render(&issuer(), outcome, "dd_csrf_1", prefs(lang), nowhere())).await
    }

    async fn code(lang: Lang) -> String {
        let outcome = Outcome::Code {
            interaction: "i1".into(),
            sent_to: "09******78".into(),
            error: Some(SignInError::WrongCode { attempts_left: 2 }),
            ui_locale: None,
        };
        html(render(&issuer(), outcome, "dd_csrf_1", prefs(lang), nowhere())).await
    }

    async fn biometric(lang: Lang, error: Option<BiometricError>) -> String {
        let outcome = Outcome::Biometric { interaction: "i1".into(), error, ui_locale: None };
        html(render(&issuer(), outcome, "dd_csrf_1", prefs(lang), nowhere())).await
    }

    async fn consent(client_name: &str) -> String {
        let request = ConsentRequest {
            client_id: "c1".into(),
            scopes: [Scope::OpenId, Scope::Profile, Scope::OfflineAccess].into(),
            claims: [Claim::Name, Claim::PhoneNumber].into(),
        };
        let outcome =
            Outcome::Consent { interaction: "i1".into(), client_name: client_name.into(), request, ui_locale: None };
        html(render(&issuer(), outcome, "dd_csrf_1", LangPrefs::default(), nowhere())).await
    }

    /// The `id`s of the inputs a holder fills in or ticks (not the hidden ones).
    fn visible_input_ids(html: &str) -> Vec<&str> {
        html.split("<input ")
            .skip(1)
            .filter(|tag| !tag.starts_with("type=\"hidden\""))
            .map(|tag| {
                let start = tag.find("id=\"").unwrap_or_else(|| panic!("an input without an id: {tag}")) + 4;
                tag[start..].split('"').next().unwrap()
            })
            .collect()
    }

    #[tokio::test]
    async fn every_input_has_a_label_and_the_hints_a_password_manager_needs() {
        let pages = [
            sign_in(Lang::Vi, None).await,
            code(Lang::En).await,
            biometric(Lang::Vi, None).await,
            consent("Ngân hàng A").await,
        ];
        for page in pages {
            let ids = visible_input_ids(&page);
            assert!(!ids.is_empty(), "{page}");
            for id in ids {
                assert!(page.contains(&format!("<label for=\"{id}\">")), "no label for {id}: {page}");
            }
        }
        let page = sign_in(Lang::Vi, None).await;
        assert!(page.contains("name=\"id_number\" inputmode=\"numeric\" autocomplete=\"username\""), "{page}");
        assert!(page.contains("autocomplete=\"current-password\""), "{page}");
        let page = code(Lang::En).await;
        assert!(page.contains("name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\""), "{page}");
    }

    #[tokio::test]
    async fn errors_are_alerts_beside_the_form_in_the_pages_language() {
        let page = sign_in(Lang::Vi, Some(SignInError::Throttled { retry_after_seconds: 30 })).await;
        assert!(
            page.contains("<p role=\"alert\" id=\"form-error\">Quá nhiều lần thử sai; hãy thử lại sau 30 giây.</p>")
        );
        assert!(page.contains("aria-describedby=\"form-error\""), "{page}");
        assert!(page.contains("<p>Dịch vụ yêu cầu đăng nhập lại.</p>"), "{page}");
        let page = code(Lang::En).await;
        assert!(page.contains("<html lang=\"en\">"), "{page}");
        assert!(page.contains("<p role=\"alert\" id=\"form-error\">The code is wrong; 2 tries left.</p>"), "{page}");
        assert!(page.contains("<p>A code was sent to 09******78.</p>"), "{page}");
        assert!(!sign_in(Lang::Vi, None).await.contains("role=\"alert\""));
        let page = biometric(Lang::En, Some(BiometricError::Mismatch { tries_left: Some(3) })).await;
        assert!(
            page.contains(
                "<p role=\"alert\" id=\"form-error\">It does not match the registry&#39;s; 3 tries left today.</p>"
            ),
            "{page}"
        );
        assert!(page.contains("<label for=\"template\">Template (base64)</label>"), "{page}");
        assert!(page.contains("aria-describedby=\"template-hint form-error\""), "{page}");
        let page = biometric(Lang::Vi, Some(BiometricError::Exhausted { retry_after_seconds: 3601 })).await;
        assert!(page.contains("hãy thử lại sau khoảng 2 giờ"), "{page}");
    }

    #[tokio::test]
    async fn what_the_page_shows_is_escaped() {
        let page = consent("<script>alert(1)</script> & \"Bank\"").await;
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("Chia sẻ thông tin với &#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;Bank&#34;"));
        // One checkbox per claim, ticked; offline access said plainly.
        assert!(page.contains("name=\"claim\" value=\"name\" checked> <label for=\"claim-1\">Họ và tên</label>"));
        assert!(page.contains("name=\"claim\" value=\"phone_number\" checked"), "{page}");
        assert!(page.contains(VI.offline_access), "{page}");
    }

    #[tokio::test]
    async fn a_locked_holder_reads_each_ground_in_the_pages_language() {
        let lock = LockNotice {
            ground: "holder_request".into(),
            description_vi: "Theo yêu cầu của chủ tài khoản".into(),
            description_en: "At the holder's request".into(),
            since: chrono::Utc::now(),
            until: None,
            how_to_lift_vi: "Chủ tài khoản tự mở".into(),
            how_to_lift_en: "The holder lifts it".into(),
        };
        let locked = |lang| {
            let outcome = Outcome::Locked { locks: vec![lock.clone()], ui_locale: Some(UiLocale::En) };
            render(&issuer(), outcome, "", prefs(lang), nowhere())
        };
        let response = locked(Lang::En);
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
        let page = html(response).await;
        assert!(
            page.contains("<p>At the holder&#39;s request</p><p>How to lift it: The holder lifts it</p>"),
            "{page}"
        );
        let page = html(locked(Lang::Vi)).await;
        assert!(page.contains("Theo yêu cầu của chủ tài khoản") && !page.contains("holder&#39;s"), "{page}");
    }

    #[tokio::test]
    async fn the_switch_leads_to_the_same_page_in_the_other_language() {
        let page = sign_in(Lang::Vi, None).await;
        let link = "<a href=\"https://id.example.vn/oauth/authorize/page?interaction=i1&#38;page=password&#38;lang=en\" \
                    hreflang=\"en\" lang=\"en\">English</a>";
        assert!(page.contains(link), "{page}");
        let refusal =
            Outcome::Refused { status: 400, error: dinhdanh_oidc::ErrorCode::InvalidRequest, description: "x".into() };
        let again = Again::Request("https://id.example.vn/oauth/authorize?client_id=c1".into());
        let page = html(render(&issuer(), refusal, "", prefs(Lang::En), again)).await;
        assert!(page.contains("href=\"https://id.example.vn/oauth/authorize?client_id=c1&#38;lang=vi\""), "{page}");
        assert!(page.contains(">Tiếng Việt</a>"), "{page}");
    }
}
