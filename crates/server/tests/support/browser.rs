//! A browser without JavaScript for the provider's pages: keeps cookies (checking that each is `HttpOnly` and
//! `SameSite=Lax`), follows no redirects, and reads pages by their form fields, never by their texts.

use std::collections::BTreeMap;

pub struct Browser {
    http: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
}

/// A page as the browser got it.
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub html: String,
}

impl Page {
    /// The value of the `<input>` named `name`, whatever the order of its attributes.
    pub fn input(&self, name: &str) -> Option<String> {
        self.html.split("<input").skip(1).find_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            (attribute(tag, "name")? == name).then(|| attribute(tag, "value").unwrap_or_default())
        })
    }

    /// The value of the field named `name`; the test fails if the page has none.
    pub fn field(&self, name: &str) -> String {
        self.input(name)
            .unwrap_or_else(|| panic!("no field {name} on the page (status {}): {}", self.status, self.html))
    }

    pub fn has_field(&self, name: &str) -> bool {
        self.html.contains(&format!("name=\"{name}\""))
    }

    /// The language switch's link, as a browser reads it (the `&` between parameters is escaped as `&#38;`).
    pub fn switch(&self) -> String {
        let nav = &self.html[self.html.find("<nav").unwrap_or_else(|| panic!("no language switch in {}", self.html))..];
        let start = nav.find("href=\"").unwrap() + "href=\"".len();
        nav[start..].split('"').next().unwrap().replace("&#38;", "&")
    }

    /// The language the page says it is in.
    pub fn lang(&self) -> &str {
        let start = self.html.find("<html lang=\"").unwrap_or_else(|| panic!("no <html lang> in {}", self.html)) + 12;
        self.html[start..].split('"').next().unwrap()
    }

    /// The `Set-Cookie` header for this cookie, if the page set it.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|v| v.starts_with(&format!("{name}=")))
    }
}

/// An attribute's value in a tag's text (double or single quotes; the values read here need no unescaping).
fn attribute(tag: &str, name: &str) -> Option<String> {
    let mut at = 0;
    while let Some(found) = tag[at..].find(name) {
        let start = at + found;
        at = start + name.len();
        let preceded = start == 0 || tag.as_bytes()[start - 1].is_ascii_whitespace();
        let rest = tag[at..].trim_start();
        if preceded && let Some(rest) = rest.strip_prefix('=') {
            let rest = rest.trim_start();
            let quote = rest.chars().next()?;
            if quote == '"' || quote == '\'' {
                return rest[1..].split(quote).next().map(str::to_owned);
            }
        }
    }
    None
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { http, cookies: BTreeMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn keep(&mut self, response: reqwest::Response) -> Page {
        for value in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let text = value.to_str().unwrap();
            assert!(text.contains("HttpOnly") && text.contains("SameSite=Lax"), "{text}");
            let (name, rest) = text.split_once('=').unwrap();
            self.cookies.insert(name.to_owned(), rest.split(';').next().unwrap().to_owned());
        }
        let status = response.status().as_u16();
        let location = response.headers().get(reqwest::header::LOCATION).map(|l| l.to_str().unwrap().to_owned());
        let headers = response.headers().clone();
        Page { status, location, headers, html: response.text().await.unwrap() }
    }

    pub async fn get(&mut self, url: &str) -> Page {
        let response = self.http.get(url).header("cookie", self.cookie_header()).send().await.unwrap();
        self.keep(response).await
    }

    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let response = self
            .http
            .post(url)
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep(response).await
    }
}
