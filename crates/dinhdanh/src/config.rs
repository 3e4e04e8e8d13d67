//! Configuration of `dinhdanh serve` and `dinhdanh demo`: built-in defaults, then a TOML file (`--config`),
//! then `DINHDANH_*` environment variables and command-line flags, each overriding the one before.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use dinhdanh_server::sealing::SealingKey;
use dinhdanh_server::totp_key::TotpKey;
use serde::Deserialize;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://dinhdanh.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The settings file. Every field is optional; see `docs/configuration.md`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub database_url: Option<String>,
    pub listen: Option<String>,
    pub public_url: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` names the client for the per-IP rate limits.
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub dev_inbox: Option<PathBuf>,
    pub smtp: Option<SmtpFile>,
    pub sms_gateway: Option<SmsGatewayFile>,
    pub rate_limit: Option<RateLimitFile>,
    pub locks: Option<LocksFile>,
    pub audit: Option<AuditFile>,
    pub purge: Option<PurgeFile>,
    pub officers: Option<OfficersFile>,
    pub oidc: Option<OidcFile>,
    /// Province codes a deployment adds to the built-in list: `"003" = "Name"`.
    #[serde(default)]
    pub extra_province_codes: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpFile {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub tls: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsGatewayFile {
    pub url: Option<String>,
    pub bearer_token: Option<String>,
}

/// The OpenID Connect provider (docs/oidc.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcFile {
    /// The issuer identifier, e.g. https://id.example.vn: an https URL without query, fragment or trailing slash.
    /// Default: `public_url`.
    pub issuer: Option<String>,
    /// The key that seals the provider's private signing keys at rest (32 bytes in base64), outside the
    /// database, and not the TOTP key; created, readable by its owner only, at the first start if missing.
    /// `DINHDANH_OIDC_SEAL_KEY` overrides it. Default: `dinhdanh-oidc-seal.key` in the working directory.
    pub key_seal_file: Option<PathBuf>,
    /// Days a signing key signs before a node rotates the keys on its own (checked with the purge, `[purge]
    /// every_seconds`); 0, never (only `dinhdanh keys rotate` does). Default 90.
    pub rotate_every_days: Option<u32>,
}

pub const DEFAULT_OIDC_SEAL_KEY_FILE: &str = "dinhdanh-oidc-seal.key";
/// The OpenID Connect seal key itself, in base64, instead of a key file.
pub const OIDC_SEAL_KEY_ENV: &str = "DINHDANH_OIDC_SEAL_KEY";
const OIDC_SEAL_KEY: &str = "OpenID Connect seal key";

/// The configured OpenID Connect seal key: `DINHDANH_OIDC_SEAL_KEY` if set, else the key file (`[oidc]
/// key_seal_file` or the default), created when missing if `create` (a serving node), an error otherwise
/// (`dinhdanh keys rotate` must not invent the key the signing keys were sealed with).
pub fn oidc_seal_key(file: &FileConfig, create: bool) -> Result<SealingKey> {
    if let Ok(text) = std::env::var(OIDC_SEAL_KEY_ENV) {
        return SealingKey::parse(&text).with_context(|| format!("{OIDC_SEAL_KEY_ENV} is not an {OIDC_SEAL_KEY}"));
    }
    let path = file
        .oidc
        .as_ref()
        .and_then(|o| o.key_seal_file.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_OIDC_SEAL_KEY_FILE));
    if create {
        load_or_create_key(&path, OIDC_SEAL_KEY, "the key that seals the OpenID Connect signing keys")
    } else {
        read_key(&path, OIDC_SEAL_KEY)
    }
}

/// The operator's lock settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocksFile {
    /// Accept lock requests from relying parties (Decision 34/2021 lists them; the Law of 2023 does not).
    pub relying_party_requests: Option<bool>,
    /// Days off (YYYY-MM-DD) that do not count as working days for request deadlines, added to the built-in
    /// public holidays: the Government's yearly bridge days, or holidays of years the built-in list lacks.
    #[serde(default)]
    pub holidays: Vec<chrono::NaiveDate>,
    /// Days (YYYY-MM-DD) that count as working days whatever else says: the Saturday worked in exchange for a
    /// bridge day, or a built-in holiday that the year's decision moved.
    #[serde(default)]
    pub make_up_working_days: Vec<chrono::NaiveDate>,
}

/// The audit log's signed checkpoints (docs/audit.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFile {
    /// The signing key (`PRIVATE+KEY+…`), outside the database; created, readable by its owner only, at the first
    /// start if missing. Default: `dinhdanh-audit.key` in the working directory.
    pub signing_key_file: Option<PathBuf>,
    /// The log's name in its checkpoints: default the public URL's host followed by `/audit`, or `dinhdanh/audit`.
    pub log_name: Option<String>,
    /// How often a checkpoint is signed when the log grew. Default 60.
    pub checkpoint_every_seconds: Option<u64>,
    /// A file each signed checkpoint is also appended to, one JSON line each: keep it, or ship it, elsewhere.
    pub publish_file: Option<PathBuf>,
}

pub const DEFAULT_AUDIT_KEY_FILE: &str = "dinhdanh-audit.key";

/// Officers' settings (docs/officers.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficersFile {
    /// The key that seals officers' TOTP secrets at rest (32 bytes in base64), outside the database; created,
    /// readable by its owner only, at the first start if missing. `DINHDANH_TOTP_KEY` overrides it. Default:
    /// `dinhdanh-totp.key` in the working directory.
    pub totp_key_file: Option<PathBuf>,
}

pub const DEFAULT_TOTP_KEY_FILE: &str = "dinhdanh-totp.key";
/// The TOTP key itself, in base64, instead of a key file.
pub const TOTP_KEY_ENV: &str = "DINHDANH_TOTP_KEY";

/// The configured TOTP key: `DINHDANH_TOTP_KEY` if set, else the key file (`[officers] totp_key_file` or the
/// default), created when missing if `create` (a serving node), an error otherwise (the rotation command must
/// not invent the key the secrets were sealed with).
pub fn totp_key(file: &FileConfig, create: bool) -> Result<TotpKey> {
    if let Ok(text) = std::env::var(TOTP_KEY_ENV) {
        return TotpKey::parse(&text).with_context(|| format!("{TOTP_KEY_ENV} is not a TOTP key"));
    }
    let path = file
        .officers
        .as_ref()
        .and_then(|o| o.totp_key_file.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_TOTP_KEY_FILE));
    if create { load_or_create_totp_key(&path) } else { read_totp_key(&path) }
}

const TOTP_KEY: &str = "TOTP key";

/// Reads a TOTP key file.
pub fn read_totp_key(path: &Path) -> Result<TotpKey> {
    read_key(path, TOTP_KEY).map(TotpKey::from)
}

/// Reads a TOTP key file, or makes a new key there (readable by its owner only) when it does not exist yet.
pub fn load_or_create_totp_key(path: &Path) -> Result<TotpKey> {
    load_or_create_key(path, TOTP_KEY, "the key that seals officers' TOTP secrets").map(TotpKey::from)
}

/// Reads the key file of a sealing key (`what` names it in the errors).
fn read_key(path: &Path, what: &str) -> Result<SealingKey> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the {what} {}", path.display()))?;
    let a_key = format!("{} {what}", if what.starts_with(['A', 'E', 'I', 'O', 'U']) { "an" } else { "a" });
    SealingKey::parse(&text)
        .map_err(|_| {
            anyhow::anyhow!("{a_key} is 32 random bytes in base64 (for example from `openssl rand -base64 32`)")
        })
        .with_context(|| format!("{} is not {a_key}", path.display()))
}

/// Reads a sealing key's file, or makes a new key there (readable by its owner only) when it does not exist yet,
/// and says so in the log: `purpose` says what it seals.
fn load_or_create_key(path: &Path, what: &str, purpose: &str) -> Result<SealingKey> {
    if path.exists() {
        return read_key(path, what);
    }
    let key = SealingKey::generate();
    match write_secret_file(path, &format!("{}\n", key.to_text())) {
        Ok(()) => {
            tracing::warn!(path = %path.display(), "created {purpose}: keep a copy outside this machine");
            Ok(key)
        }
        // Another node starting beside this one made it first: theirs is the key, once they have written it.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            for _ in 0..50 {
                if let Ok(key) = read_key(path, what) {
                    return Ok(key);
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            read_key(path, what)
        }
        Err(e) => Err(e).with_context(|| format!("cannot create the {what} {}", path.display())),
    }
}

/// Writes a new file readable by its owner only (mode 0600); refuses to replace one that exists.
pub fn write_secret_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// The scheduled purge of expired rows (docs/configuration.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeFile {
    /// How often expired sessions, sign-in challenges, tokens, idempotency keys and registrations are deleted.
    /// Default 300.
    pub every_seconds: Option<u64>,
    /// How long an idempotency key replays its first answer. Default 24.
    pub idempotency_retention_hours: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitFile {
    pub public_per_minute: Option<u32>,
    pub public_burst: Option<u32>,
    pub ops_per_minute: Option<u32>,
    pub ops_burst: Option<u32>,
    pub api_per_minute: Option<u32>,
    pub api_burst: Option<u32>,
}

impl FileConfig {
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let Some(path) = path else { return Ok(Self::default()) };
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }
}

/// `--database-url`, shared by every command that opens the database.
#[derive(Debug, Args, Clone)]
pub struct DatabaseArgs {
    /// Database: `sqlite://PATH` (created if missing) or `postgres://USER@HOST:PORT/DB`.
    /// Default: sqlite://dinhdanh.db
    #[arg(long, env = "DINHDANH_DATABASE_URL")]
    pub database_url: Option<String>,
}

/// Settings of a serving node, as flags and environment variables.
#[derive(Debug, Args, Clone, Default)]
pub struct ServeArgs {
    /// Address and port to listen on. Default: 127.0.0.1:8080
    #[arg(long, env = "DINHDANH_LISTEN")]
    pub listen: Option<String>,
    /// The origin clients reach this service at, e.g. https://eid.example.vn (issuer and audience of client
    /// assertions). Set it in production; without it the request's Host header stands in.
    #[arg(long, env = "DINHDANH_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The OpenID Connect issuer identifier (https, no trailing slash). Default: the public URL.
    #[arg(long, env = "DINHDANH_ISSUER")]
    pub issuer: Option<String>,
    /// Development only: write every outgoing SMS and e-mail to files in this folder (and to the log)
    /// instead of, or when there is no, real gateway.
    #[arg(long, env = "DINHDANH_DEV_INBOX")]
    pub dev_inbox: Option<PathBuf>,
    /// SMTP server for e-mail.
    #[arg(long, env = "DINHDANH_SMTP_HOST")]
    pub smtp_host: Option<String>,
    /// SMTP port. Default: 587 with starttls, 465 with tls, 25 with none.
    #[arg(long, env = "DINHDANH_SMTP_PORT")]
    pub smtp_port: Option<u16>,
    /// SMTP transport security: none, starttls or tls. Default: starttls.
    #[arg(long, env = "DINHDANH_SMTP_TLS")]
    pub smtp_tls: Option<String>,
    #[arg(long, env = "DINHDANH_SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    /// Prefer the environment variable over the flag, which other users can see in the process list.
    #[arg(long, env = "DINHDANH_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,
    /// Sender address of e-mails. Default: no-reply@dinhdanh.local
    #[arg(long, env = "DINHDANH_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// URL the SMS gateway accepts messages on (POST JSON {to, text, message_id}).
    #[arg(long, env = "DINHDANH_SMS_GATEWAY_URL")]
    pub sms_gateway_url: Option<String>,
    /// Bearer token for the SMS gateway.
    #[arg(long, env = "DINHDANH_SMS_GATEWAY_TOKEN", hide_env_values = true)]
    pub sms_gateway_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_settings_are_read_from_the_file() {
        let file: FileConfig = toml::from_str(
            "trusted_proxies = [\"10.0.0.2\"]\n[locks]\nrelying_party_requests = false\nholidays = [\"2026-08-31\"]\n\
             make_up_working_days = [\"2026-08-22\"]\n[rate_limit]\napi_per_minute = 5\n\
             [purge]\nevery_seconds = 30\nidempotency_retention_hours = 48\n[oidc]\nrotate_every_days = 30\n",
        )
        .unwrap();
        let purge = file.purge.as_ref().unwrap();
        assert_eq!(file.oidc.as_ref().unwrap().rotate_every_days, Some(30));
        assert_eq!((purge.every_seconds, purge.idempotency_retention_hours), (Some(30), Some(48)));
        let locks = file.locks.unwrap();
        assert_eq!(locks.relying_party_requests, Some(false));
        assert_eq!(locks.holidays, vec![chrono::NaiveDate::from_ymd_opt(2026, 8, 31).unwrap()]);
        assert_eq!(locks.make_up_working_days, vec![chrono::NaiveDate::from_ymd_opt(2026, 8, 22).unwrap()]);
        assert_eq!(file.rate_limit.unwrap().api_per_minute, Some(5));
        assert_eq!(file.trusted_proxies, vec!["10.0.0.2".parse::<std::net::IpAddr>().unwrap()]);
    }

    #[test]
    fn a_missing_totp_key_is_created_readable_by_its_owner_only_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("totp.key");
        assert!(read_totp_key(&path).is_err(), "not created when only reading");
        let key = load_or_create_totp_key(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load_or_create_totp_key(&path).unwrap(), key);
        assert_eq!(read_totp_key(&path).unwrap(), key);
        std::fs::write(dir.path().join("bad.key"), "not a key\n").unwrap();
        let error = format!("{:#}", read_totp_key(&dir.path().join("bad.key")).unwrap_err());
        assert!(error.contains("is not a TOTP key") && error.contains("32 random bytes"), "{error}");
    }

    #[test]
    fn a_missing_oidc_seal_key_is_created_beside_the_totp_key_and_is_another_key() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oidc-seal.key");
        let file: FileConfig = toml::from_str(&format!(
            "[oidc]\nkey_seal_file = {:?}\n[officers]\ntotp_key_file = {:?}\n",
            path,
            dir.path().join("totp.key")
        ))
        .unwrap();
        // The environment would stand in for the files (nothing in these tests sets it).
        assert!(std::env::var(OIDC_SEAL_KEY_ENV).is_err() && std::env::var(TOTP_KEY_ENV).is_err());
        let error = format!("{:#}", oidc_seal_key(&file, false).unwrap_err());
        assert!(error.contains("cannot read the OpenID Connect seal key"), "not created when only reading: {error}");
        let key = oidc_seal_key(&file, true).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(oidc_seal_key(&file, false).unwrap(), key);
        let totp = totp_key(&file, true).unwrap();
        assert_ne!(totp.to_text(), key.to_text(), "two keys, two files");
        std::fs::write(&path, "not a key\n").unwrap();
        let error = format!("{:#}", oidc_seal_key(&file, false).unwrap_err());
        assert!(error.contains("is not an OpenID Connect seal key") && error.contains("32 random bytes"), "{error}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<FileConfig>("[locks]\nholiday = []\n").is_err());
        assert!(toml::from_str::<FileConfig>("listen_on = \"x\"\n").is_err());
    }
}
