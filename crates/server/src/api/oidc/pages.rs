//! The sign-in pages of the authorization endpoint: plain server-rendered HTML, Vietnamese first with English
//! beside it, forms that work without JavaScript, each carrying the interaction id and the CSRF token in hidden
//! fields. Deliberately unstyled: the web issue will give them their look (and askama templates). Every value
//! put into a page goes through [`esc`].

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use dinhdanh_oidc::authorize::SignInReason;
use dinhdanh_oidc::metadata::Issuer;
use dinhdanh_oidc::scope::Claim;

use crate::service::oidc::authorize::{Outcome, SignInError};
use crate::service::oidc::logout::LogoutOutcome;

/// HTML-escapes text for element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head><body><main>\n{body}\n</main></body></html>\n"
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    // The pages are never framed (clickjacking) and load nothing from elsewhere.
    headers.insert("x-frame-options", axum::http::HeaderValue::from_static("DENY"));
    headers.insert(
        "content-security-policy",
        axum::http::HeaderValue::from_static("default-src 'none'; form-action 'self'; frame-ancestors 'none'"),
    );
    headers.insert("referrer-policy", axum::http::HeaderValue::from_static("no-referrer"));
    response
}

fn hidden(interaction: &str, csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"interaction\" value=\"{}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(interaction),
        esc(csrf)
    )
}

fn error_text(error: &SignInError) -> String {
    match error {
        SignInError::Failed | SignInError::Malformed => {
            "Số định danh hoặc mật khẩu không đúng. / The identification number or the password is wrong.".into()
        }
        SignInError::WrongCode { attempts_left } if *attempts_left >= 0 => format!(
            "Mã xác thực không đúng, còn {attempts_left} lần thử. / The code is wrong; {attempts_left} tries left."
        ),
        SignInError::WrongCode { .. } => "Mã xác thực gồm 6 chữ số. / The code has 6 digits.".into(),
        SignInError::Throttled { retry_after_seconds } => format!(
            "Quá nhiều lần thử sai; hãy thử lại sau {retry_after_seconds} giây. / Too many failed tries; try again \
             in {retry_after_seconds} seconds."
        ),
        SignInError::CodeExpired => "Mã đã hết hạn; hãy đăng nhập lại. / The code has expired; sign in again.".into(),
    }
}

fn alert(error: &Option<SignInError>) -> String {
    error.as_ref().map(|e| format!("<p role=\"alert\">{}</p>", esc(&error_text(e)))).unwrap_or_default()
}

fn claim_label(claim: Claim) -> &'static str {
    match claim {
        Claim::Name => "Họ và tên / Full name",
        Claim::Birthdate => "Ngày sinh / Date of birth",
        Claim::Gender => "Giới tính / Gender",
        Claim::PhoneNumber => "Số điện thoại / Phone number",
        Claim::PhoneNumberVerified => "Số điện thoại đã xác minh chưa / Whether the phone number is verified",
        Claim::Email => "Thư điện tử / E-mail address",
        Claim::EmailVerified => "Thư điện tử đã xác minh chưa / Whether the e-mail address is verified",
        Claim::IdNumber => "Số định danh cá nhân / Personal identification number",
    }
}

/// The page for an outcome (never [`Outcome::Redirect`], which the caller answers with a `303`).
pub fn render(issuer: &Issuer, outcome: Outcome, csrf: &str) -> Response {
    let base = issuer.url("/oauth/authorize");
    match outcome {
        Outcome::Redirect(url) => axum::response::Redirect::to(&url).into_response(),
        Outcome::SignIn { interaction, reason, error } => {
            let why = match reason {
                SignInReason::NoSession => "",
                SignInReason::Reauthenticate => {
                    "<p>Dịch vụ yêu cầu đăng nhập lại. / The service asks you to sign in again.</p>"
                }
                SignInReason::StepUp(_) => {
                    "<p>Dịch vụ yêu cầu mức bảo đảm cao hơn. / The service asks for a higher level of assurance.</p>"
                }
            };
            let body = format!(
                "<h1>Đăng nhập bằng tài khoản định danh điện tử</h1><p lang=\"en\">Sign in with your e-ID account</p>\
                 {why}{alert}\
                 <form method=\"post\" action=\"{base}/password\">{hidden}\
                 <fieldset><legend>Công dân Việt Nam / Vietnamese citizen</legend>\
                 <p><label><input type=\"radio\" name=\"holder_kind\" value=\"citizen\" checked> \
                 Đăng nhập bằng số định danh / Sign in with the identification number</label></p>\
                 <p><label>Số định danh cá nhân / Personal identification number<br>\
                 <input name=\"id_number\" inputmode=\"numeric\" autocomplete=\"username\"></label></p></fieldset>\
                 <fieldset><legend>Người nước ngoài / Foreigner</legend>\
                 <p><label><input type=\"radio\" name=\"holder_kind\" value=\"foreigner\"> \
                 Đăng nhập bằng hộ chiếu / Sign in with the passport</label></p>\
                 <p><label>Số hộ chiếu / Passport number<br><input name=\"passport_number\"></label></p>\
                 <p><label>Quốc tịch (mã ISO 3 chữ, ví dụ KOR) / Nationality (ISO 3-letter code, e.g. KOR)<br>\
                 <input name=\"nationality\" maxlength=\"3\"></label></p></fieldset>\
                 <p><label>Mật khẩu / Password<br>\
                 <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label></p>\
                 <p><button type=\"submit\">Tiếp tục / Continue</button></p></form>",
                alert = alert(&error),
                base = esc(&base),
                hidden = hidden(&interaction, csrf),
            );
            page(StatusCode::OK, "Đăng nhập / Sign in", &body)
        }
        Outcome::Code { interaction, sent_to, error } => {
            let sent = if sent_to.is_empty() {
                String::new()
            } else {
                format!("<p>Mã xác thực đã được gửi tới {0}. / A code was sent to {0}.</p>", esc(&sent_to))
            };
            let body = format!(
                "<h1>Nhập mã xác thực</h1><p lang=\"en\">Enter the one-time code</p>{sent}{alert}\
                 <form method=\"post\" action=\"{base}/code\">{hidden}\
                 <p><label>Mã 6 chữ số / 6-digit code<br>\
                 <input name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" maxlength=\"6\" required>\
                 </label></p><p><button type=\"submit\">Xác nhận / Confirm</button></p></form>",
                alert = alert(&error),
                base = esc(&base),
                hidden = hidden(&interaction, csrf),
            );
            page(StatusCode::OK, "Mã xác thực / One-time code", &body)
        }
        Outcome::Consent { interaction, client_name, request } => {
            let claims: String = request
                .claims
                .iter()
                .map(|c| {
                    format!(
                        "<li><label><input type=\"checkbox\" name=\"claim\" value=\"{}\" checked> {}</label></li>",
                        esc(c.as_str()),
                        esc(claim_label(*c))
                    )
                })
                .collect();
            let offline = if request.offline_access() {
                "<p>Dịch vụ này sẽ tiếp tục truy cập khi bạn không trực tuyến, cho tới khi bạn thu hồi. / This service \
                 will keep access while you are away, until you withdraw it.</p>"
            } else {
                ""
            };
            let what = if claims.is_empty() {
                "<p>Dịch vụ chỉ nhận một mã định danh riêng cho dịch vụ và mức bảo đảm của lần đăng nhập này. / \
                 The service receives only an identifier of its own for you and this sign-in's level of \
                 assurance.</p>"
                    .to_owned()
            } else {
                format!(
                    "<p>Dịch vụ đề nghị nhận các thông tin sau; bỏ chọn những mục bạn không muốn chia sẻ. / The service \
                     asks for the following; untick what you do not want to share.</p><ul>{claims}</ul>"
                )
            };
            let body = format!(
                "<h1>Chia sẻ thông tin với {name}</h1><p lang=\"en\">Share your information with {name}</p>\
                 <form method=\"post\" action=\"{base}/consent\">{hidden}{what}{offline}\
                 <p><button type=\"submit\" name=\"decision\" value=\"allow\">Đồng ý / Allow</button> \
                 <button type=\"submit\" name=\"decision\" value=\"deny\">Từ chối / Decline</button></p></form>",
                name = esc(&client_name),
                base = esc(&base),
                hidden = hidden(&interaction, csrf),
            );
            page(StatusCode::OK, "Đồng ý chia sẻ / Consent", &body)
        }
        Outcome::Locked(locks) => {
            let items: String = locks
                .iter()
                .map(|l| {
                    format!(
                        "<li><p>{} / <span lang=\"en\">{}</span></p><p>Cách mở khoá: {} / <span lang=\"en\">How to \
                         lift it: {}</span></p></li>",
                        esc(&l.description_vi),
                        esc(&l.description_en),
                        esc(&l.how_to_lift_vi),
                        esc(&l.how_to_lift_en)
                    )
                })
                .collect();
            let body = format!(
                "<h1>Tài khoản đang bị khoá</h1><p lang=\"en\">Your account is locked</p>\
                 <p>Không thể đăng nhập vào dịch vụ khi tài khoản đang bị khoá. / You cannot sign in to services while \
                 your account is locked.</p><ul>{items}</ul>"
            );
            page(StatusCode::FORBIDDEN, "Tài khoản bị khoá / Account locked", &body)
        }
        Outcome::Refused { status, error, description } => {
            let body = format!(
                "<h1>Không thể tiếp tục đăng nhập</h1><p lang=\"en\">The sign-in cannot go on</p>\
                 <p><code>{}</code>: {}</p>",
                esc(error.as_str()),
                esc(&description)
            );
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            page(status, "Lỗi / Error", &body)
        }
    }
}

/// The logout pages: the confirmation form, "signed out", or a refusal (never [`LogoutOutcome::Redirect`],
/// which the caller answers with a `303`).
pub fn render_logout(issuer: &Issuer, outcome: LogoutOutcome, csrf: &str) -> Response {
    match outcome {
        LogoutOutcome::Redirect { url, .. } => axum::response::Redirect::to(&url).into_response(),
        LogoutOutcome::Confirm { params, client_name } => {
            let fields: String = params
                .iter()
                .map(|(n, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", esc(n), esc(v)))
                .collect();
            let from =
                client_name.map(|n| format!("<p>Yêu cầu từ {0}. / Asked by {0}.</p>", esc(&n))).unwrap_or_default();
            let body = format!(
                "<h1>Đăng xuất khỏi tài khoản định danh điện tử?</h1><p lang=\"en\">Sign out of your e-ID account?</p>\
                 {from}<form method=\"post\" action=\"{action}\">{fields}\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <p><button type=\"submit\">Đăng xuất / Sign out</button></p></form>",
                action = esc(&issuer.url("/oauth/logout/confirm")),
                csrf = esc(csrf),
            );
            page(StatusCode::OK, "Đăng xuất / Sign out", &body)
        }
        LogoutOutcome::SignedOut { .. } => page(
            StatusCode::OK,
            "Đã đăng xuất / Signed out",
            "<h1>Bạn đã đăng xuất</h1><p lang=\"en\">You are signed out</p>",
        ),
        LogoutOutcome::Refused { error, description } => {
            render(issuer, Outcome::Refused { status: 400, error, description }, csrf)
        }
    }
}
