//! What the server's own HTML pages share beyond their words: reading a posted form's or a `GET`'s fields, the
//! language a page speaks (the switch, else the `dd_lang` cookie, else Vietnamese), and the double-submit CSRF
//! token each site keeps in a cookie of its own. The officers' console reads its forms through here.

use axum::http::HeaderMap;
use dinhdanh_oidc::metadata::Issuer;
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::api::i18n::{LANG_COOKIE, Lang};
use crate::api::oidc::{cookie, issuer_of, take_lang};
use crate::problem::ApiError;

/// The fields of a form body or a query string, in order.
pub fn pairs(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).map(|(n, v)| (n.into_owned(), v.into_owned())).collect()
}

/// The first field called `name`.
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// The language of a page: the switch (this request), else the remembered choice, else Vietnamese.
pub fn lang_of(headers: &HeaderMap, switched: Option<Lang>) -> Lang {
    Lang::pick(switched, cookie(headers, LANG_COOKIE).and_then(Lang::parse), None)
}

/// A `GET`'s fields without the switch's `lang`, and the language it switched to.
pub fn query_and_lang(query: Option<&str>) -> (Vec<(String, String)>, Option<Lang>) {
    let mut fields = pairs(query.unwrap_or_default().as_bytes());
    let switched = take_lang(&mut fields);
    (fields, switched)
}

/// A site's double-submit CSRF token: a random value in the site's cookie that every form posts back.
pub struct Csrf {
    pub cookie: &'static str,
}

impl Csrf {
    /// The browser's token, or a new one to set with the page (`true`).
    pub fn token(&self, headers: &HeaderMap) -> (String, bool) {
        match cookie(headers, self.cookie) {
            Some(token) if token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()) => {
                (token.to_owned(), false)
            }
            _ => (dinhdanh_oidc::tokens::new_token("").0, true),
        }
    }

    /// Whether the form carries this browser's token (compared in constant time).
    pub fn posted(&self, headers: &HeaderMap, fields: &[(String, String)]) -> bool {
        match (cookie(headers, self.cookie), field(fields, "csrf")) {
            (Some(expected), Some(given)) => bool::from(expected.as_bytes().ct_eq(given.as_bytes())),
            _ => false,
        }
    }
}

/// A posted form that carries the browser's CSRF token: the issuer, the page's language and the fields.
pub struct Posted {
    pub issuer: Issuer,
    pub lang: Lang,
    pub fields: Vec<(String, String)>,
}

impl Posted {
    /// The form, or the language to refuse it in when it lacks the browser's token (the site renders the
    /// refusal; nothing may change).
    pub fn read(
        state: &AppState,
        headers: &HeaderMap,
        body: &[u8],
        csrf: &Csrf,
    ) -> Result<Result<Self, Lang>, ApiError> {
        let issuer = issuer_of(state, headers)?;
        let lang = lang_of(headers, None);
        let fields = pairs(body);
        if !csrf.posted(headers, &fields) {
            return Ok(Err(lang));
        }
        Ok(Ok(Self { issuer, lang, fields }))
    }

    /// A field's value, empty when the form has none.
    pub fn field(&self, name: &str) -> &str {
        field(&self.fields, name).unwrap_or_default()
    }
}
