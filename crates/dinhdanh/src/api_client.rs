//! How the officer commands (`dinhdanh org`, `client`, `officer`) talk to a running server: over its HTTP API
//! with an officer's session token, never to the database directly, so that the server's authorization and
//! audit apply to the command line exactly as to any other client.

use anyhow::{Result, bail};
use clap::Args;
use serde_json::Value;

#[derive(Debug, Args, Clone)]
pub struct ServerArgs {
    /// Base URL of the dinhdanh server.
    #[arg(long, env = "DINHDANH_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// Officer session token (from `dinhdanh officer sign-in`). Prefer the environment variable.
    #[arg(long, env = "DINHDANH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

pub struct ApiClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl ApiClient {
    pub fn new(args: &ServerArgs) -> Self {
        Self {
            base: args.server.trim_end_matches('/').to_owned(),
            token: args.token.clone(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Value> {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Result<Value> {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Result<Value> {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value> {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// Sends a request; a problem-details answer becomes an error that reads like the server's message.
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => bail!("cannot reach the server at {}: {e}", self.base),
        };
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let value: Value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        if status.is_success() {
            return Ok(value);
        }
        let mut message = format!("{} {}", status.as_u16(), value["title"].as_str().unwrap_or("error"));
        if let Some(detail) = value["detail"].as_str() {
            message.push_str(&format!(": {detail}"));
        }
        if let Some(errors) = value["errors"].as_array() {
            for e in errors {
                message.push_str(&format!(
                    "\n  {}: {}",
                    e["field"].as_str().unwrap_or("?"),
                    e["message"].as_str().unwrap_or("?")
                ));
            }
        }
        if status.as_u16() == 401 && self.token.is_none() {
            message.push_str("\n(set DINHDANH_TOKEN to an officer session token: `dinhdanh officer sign-in`)");
        }
        bail!(message)
    }
}

/// Prints a JSON answer for people (pretty) — scripts can pipe it to `jq`.
pub fn print(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}
