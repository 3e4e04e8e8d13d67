//! One serving node: the store, the registry, the HTTP server, the notification worker and the periodic jobs,
//! started together and stopped together on Ctrl-C or SIGTERM. Also `demo`, which prepares a local database
//! and demo registry first.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use dinhdanh_domain::ProvinceTable;
use dinhdanh_domain::registry::RegistryKind;
use dinhdanh_notify::{
    Channels, DevInbox, SmsGatewayConfig, SmsGatewaySender, SmtpConfig, SmtpSender, SmtpTls, Worker, WorkerConfig,
};
use dinhdanh_registry::StoreRegistry;
use dinhdanh_registry::generate::{GenerateOptions, generate_to_path};
use dinhdanh_registry::import::{Format, ImportOptions, import_file};
use dinhdanh_server::clock::SystemClock;
use dinhdanh_server::ratelimit::RateLimit;
use dinhdanh_server::{AppState, ServerConfig};
use dinhdanh_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{DEFAULT_DATABASE_URL, DEFAULT_LISTEN, DatabaseArgs, FileConfig, ServeArgs};

pub fn provinces(extra: &BTreeMap<String, String>) -> ProvinceTable {
    ProvinceTable::builtin().with_extra(extra.iter().map(|(code, name)| (code.as_str(), name.as_str())))
}

/// Everything a node needs, resolved from defaults, file, environment and flags.
struct NodeSettings {
    database_url: String,
    listen: String,
    dev_inbox: Option<PathBuf>,
    smtp: Option<SmtpConfig>,
    sms: Option<SmsGatewayConfig>,
    server: ServerConfig,
    checkpoint_every: Duration,
    purge_every: Duration,
}

/// The audit log's name in its checkpoints: the public host's, so that two deployments' logs never pass for one.
fn default_log_name(public_url: Option<&str>) -> String {
    let host = public_url
        .and_then(|u| u.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.split(['/', ':']).next())
        .filter(|h| !h.is_empty());
    match host {
        Some(host) => format!("{host}/audit"),
        None => "dinhdanh/audit".to_owned(),
    }
}

fn resolve(file: FileConfig, database: DatabaseArgs, args: ServeArgs) -> Result<NodeSettings> {
    let totp_key = Arc::new(crate::config::totp_key(&file, true)?);
    let oidc_seal_key = Arc::new(crate::config::oidc_seal_key(&file, true)?);
    let smtp_file = file.smtp.unwrap_or_default();
    let smtp = match args.smtp_host.or(smtp_file.host) {
        Some(host) => {
            let tls = match args.smtp_tls.or(smtp_file.tls).as_deref().unwrap_or("starttls") {
                "none" => SmtpTls::None,
                "starttls" => SmtpTls::StartTls,
                "tls" => SmtpTls::Tls,
                other => bail!("smtp tls must be none, starttls or tls, not {other:?}"),
            };
            let default_port = match tls {
                SmtpTls::None => 25,
                SmtpTls::StartTls => 587,
                SmtpTls::Tls => 465,
            };
            Some(SmtpConfig {
                host,
                port: args.smtp_port.or(smtp_file.port).unwrap_or(default_port),
                tls,
                username: args.smtp_username.or(smtp_file.username),
                password: args.smtp_password.or(smtp_file.password),
                from: args.smtp_from.or(smtp_file.from).unwrap_or_else(|| "no-reply@dinhdanh.local".to_owned()),
            })
        }
        None => None,
    };
    let sms_file = file.sms_gateway.unwrap_or_default();
    let sms = args
        .sms_gateway_url
        .or(sms_file.url)
        .map(|url| SmsGatewayConfig { url, bearer_token: args.sms_gateway_token.or(sms_file.bearer_token) });
    let mut server = ServerConfig {
        totp_key,
        oidc_seal_key,
        provinces: provinces(&file.extra_province_codes),
        public_url: args.public_url.or(file.public_url),
        oidc_issuer: args.issuer.or(file.oidc.as_ref().and_then(|o| o.issuer.clone())),
        oidc_rotate_every: rotate_every(file.oidc.as_ref().and_then(|o| o.rotate_every_days)),
        trusted_proxies: file.trusted_proxies.clone(),
        ..ServerConfig::default()
    };
    if let Some(limits) = file.rate_limit {
        server.public_rate_limit = RateLimit {
            per_minute: limits.public_per_minute.unwrap_or(server.public_rate_limit.per_minute),
            burst: limits.public_burst.unwrap_or(server.public_rate_limit.burst),
        };
        server.ops_rate_limit = RateLimit {
            per_minute: limits.ops_per_minute.unwrap_or(server.ops_rate_limit.per_minute),
            burst: limits.ops_burst.unwrap_or(server.ops_rate_limit.burst),
        };
        server.api_rate_limit = RateLimit {
            per_minute: limits.api_per_minute.unwrap_or(server.api_rate_limit.per_minute),
            burst: limits.api_burst.unwrap_or(server.api_rate_limit.burst),
        };
    }
    if let Some(locks) = file.locks {
        if let Some(enabled) = locks.relying_party_requests {
            server.lock_policy.relying_party_requests_enabled = enabled;
        }
        server.calendar = working_calendar(locks);
    }
    let audit = file.audit.unwrap_or_default();
    let key_file =
        audit.signing_key_file.clone().unwrap_or_else(|| PathBuf::from(crate::config::DEFAULT_AUDIT_KEY_FILE));
    let log_name = audit.log_name.clone().unwrap_or_else(|| default_log_name(server.public_url.as_deref()));
    server.audit_signer = Some(Arc::new(crate::audit_cmd::load_or_create_signer(&key_file, &log_name)?));
    server.audit_publish_file = audit.publish_file.clone();
    let purge = file.purge.unwrap_or_default();
    if let Some(hours) = purge.idempotency_retention_hours {
        server.purge.idempotency_retention = chrono::Duration::hours(i64::from(hours.max(1)));
    }
    Ok(NodeSettings {
        purge_every: Duration::from_secs(purge.every_seconds.unwrap_or(300).max(1)),
        checkpoint_every: Duration::from_secs(audit.checkpoint_every_seconds.unwrap_or(60).max(1)),
        database_url: database.database_url.or(file.database_url).unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
        listen: args.listen.or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
        dev_inbox: args.dev_inbox.or(file.dev_inbox),
        smtp,
        sms,
        server,
    })
}

/// `[oidc] rotate_every_days`: unset, the default; 0, never.
fn rotate_every(days: Option<u32>) -> Option<chrono::Duration> {
    match days {
        None => Some(dinhdanh_server::service::oidc::keys::DEFAULT_ROTATE_EVERY),
        Some(0) => None,
        Some(days) => Some(chrono::Duration::days(i64::from(days))),
    }
}

/// The built-in public holidays always count; the file adds the year's swaps (docs/configuration.md).
fn working_calendar(locks: crate::config::LocksFile) -> dinhdanh_domain::calendar::WorkingCalendar {
    dinhdanh_domain::calendar::WorkingCalendar::builtin()
        .with_holidays(locks.holidays)
        .with_make_up_working_days(locks.make_up_working_days)
}

pub async fn serve(file: FileConfig, database: DatabaseArgs, args: ServeArgs) -> Result<()> {
    let settings = resolve(file, database, args)?;
    let store = Store::connect(&settings.database_url).await.context("cannot open the database")?;
    run_node(store, settings, None).await
}

async fn run_node(store: Store, settings: NodeSettings, banner: Option<String>) -> Result<()> {
    // Before serving: secrets from before sealing are sealed, and a key that does not open them stops the node.
    let sealed =
        dinhdanh_server::service::officers::seal_totp_secrets(&store, &settings.server.totp_key, chrono::Utc::now())
            .await
            .map_err(|e| {
                anyhow::anyhow!("cannot start with the configured TOTP key: {}", crate::admin_cmd::text_of(&e))
            })?;
    if sealed > 0 {
        tracing::info!(count = sealed, "sealed officers' TOTP secrets stored in plaintext");
    }
    // The OpenID Connect signing keys: the deployment's first set made, or keys from before sealing sealed, in one
    // transaction; a seal key that does not open them stops the node.
    dinhdanh_server::service::oidc::ensure_keys(&store, &settings.server.oidc_seal_key, chrono::Utc::now())
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot start with the configured OpenID Connect seal key: {}",
                crate::admin_cmd::text_of(&e)
            )
        })?;
    let channels = Channels {
        email: match &settings.smtp {
            Some(config) => Some(Arc::new(SmtpSender::new(config).context("invalid SMTP settings")?)),
            None => None,
        },
        sms: match &settings.sms {
            Some(config) => Some(Arc::new(SmsGatewaySender::new(config).context("invalid SMS gateway settings")?)),
            None => None,
        },
        dev_inbox: match &settings.dev_inbox {
            Some(dir) => Some(Arc::new(
                DevInbox::new(dir.clone()).with_context(|| format!("cannot use dev inbox {}", dir.display()))?,
            )),
            None => None,
        },
    };
    if channels.email.is_none() && channels.sms.is_none() && channels.dev_inbox.is_none() {
        tracing::warn!("no SMTP server, SMS gateway or dev inbox is configured: messages wait in the outbox");
    }
    let listener = TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("cannot listen on {} (is another server running there?)", settings.listen))?;
    let address = listener.local_addr()?;
    let registry = Arc::new(StoreRegistry::new(store.clone()));
    let state = AppState::new(store.clone(), registry, Arc::new(SystemClock), settings.server);

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let worker = tokio::spawn(Worker::new(store.clone(), channels, WorkerConfig::default()).run(stopped()));
    let jobs = tokio::spawn(dinhdanh_server::run_background_jobs(state.clone(), Duration::from_secs(60), stopped()));
    let checkpoints =
        tokio::spawn(dinhdanh_server::run_audit_checkpoints(state.clone(), settings.checkpoint_every, stopped()));
    let purge = tokio::spawn(dinhdanh_server::run_purge(state.clone(), settings.purge_every, stopped()));
    let events =
        tokio::spawn(dinhdanh_server::run_event_delivery(state.clone(), Duration::from_millis(500), stopped()));
    let server = tokio::spawn(dinhdanh_server::serve(listener, state, stopped()));

    tracing::info!(%address, database = store.dialect().name(), "dinhdanh is serving");
    println!("dinhdanh đang chạy / is serving at http://{address}");
    println!("  holder portal:    http://{address}/portal");
    println!("  officer console:  http://{address}/console");
    println!("  API description:  http://{address}/openapi.json");
    println!("  OpenID Connect:   http://{address}/.well-known/openid-configuration");
    println!(
        "  health:           http://{address}/healthz   readiness: http://{address}/readyz   metrics: http://{address}/metrics"
    );
    if let Some(banner) = banner {
        println!("{banner}");
    }
    println!("Ctrl-C to stop.");

    shutdown_signal().await;
    tracing::info!("stopping");
    let _ = stop_tx.send(true);
    server.await?.context("server failed")?;
    let _ = worker.await;
    let _ = checkpoints.await;
    let _ = jobs.await;
    let _ = purge.await;
    let _ = events.await;
    store.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

pub struct DemoOptions {
    pub dir: PathBuf,
    pub listen: String,
    pub citizens: u64,
    pub foreigners: u64,
}

pub async fn demo(file: FileConfig, options: DemoOptions) -> Result<()> {
    std::fs::create_dir_all(&options.dir).with_context(|| format!("cannot create {}", options.dir.display()))?;
    let dir = std::fs::canonicalize(&options.dir)?;
    let database_url = format!("sqlite://{}", dir.join("dinhdanh.db").display());
    let inbox = dir.join("inbox");
    let store = Store::connect(&database_url).await.context("cannot open the demo database")?;

    for (kind, count, name) in [
        (RegistryKind::Population, options.citizens, "population.csv"),
        (RegistryKind::Immigration, options.foreigners, "immigration.csv"),
    ] {
        let present = match kind {
            RegistryKind::Population => store.count_citizens().await?,
            RegistryKind::Immigration => store.count_foreigners().await?,
        };
        if present > 0 || count == 0 {
            continue;
        }
        let path = dir.join(name);
        generate_to_path(&path, &GenerateOptions { kind, count, seed: 2026, format: Format::Csv })?;
        let mut import = ImportOptions::for_store(kind, &store);
        import.provinces = provinces(&file.extra_province_codes);
        let report = import_file(&store, &path, &import).await?;
        println!("demo registry: imported {} {} from {}", report.written, kind.as_str(), path.display());
    }
    let automatic = crate::registry_cmd::reconcile_automatic_locks(&store, &file).await?;
    println!("automatic locks: {} placed, {} lifted", automatic.locks_placed, automatic.locks_lifted);

    let mut banner = String::from("\nDemo identities to register with (from the generated registry):\n");
    for c in store.sample_citizens(3).await? {
        banner.push_str(&format!(
            "  citizen    id_number={}  full_name=\"{}\"  date_of_birth={}  gender={}\n",
            c.id_number,
            c.full_name,
            c.date_of_birth,
            c.gender.as_str()
        ));
    }
    let today = chrono::Utc::now().with_timezone(&dinhdanh_domain::calendar::vietnam()).date_naive();
    for f in store.sample_foreigners(2, today).await? {
        banner.push_str(&format!(
            "  foreigner  passport_number={}  nationality={}  full_name=\"{}\"  date_of_birth={}  gender={}\n",
            f.passport_number,
            f.nationality,
            f.full_name,
            f.date_of_birth,
            f.gender.as_str()
        ));
    }
    banner.push_str(&format!("Register in a browser at http://{}/portal (or over the API, below).\n", options.listen));
    banner.push_str(&format!(
        "Activation codes and other messages land in the dev inbox: {}\n\
         Try: curl -s -X POST http://{}/v1/accounts -H 'content-type: application/json' -d '{{\"holder_kind\":\"citizen\", \
         \"id_number\":\"…\", \"full_name\":\"…\", \"date_of_birth\":\"…\", \"gender\":\"…\", \"email\":\"you@example.vn\", \
         \"password\":\"a long passphrase\"}}'",
        inbox.display(),
        options.listen
    ));
    let mut file = file;
    // The demo keeps its signing key and its published checkpoints beside its database, and signs often.
    let mut audit = file.audit.take().unwrap_or_default();
    audit.signing_key_file.get_or_insert_with(|| dir.join(crate::config::DEFAULT_AUDIT_KEY_FILE));
    audit.publish_file.get_or_insert_with(|| dir.join("audit-checkpoints.jsonl"));
    audit.checkpoint_every_seconds.get_or_insert(10);
    banner.push_str(&format!(
        "\nThe audit log is signed every {} s with {}; checkpoints also go to {} (dinhdanh audit verify).",
        audit.checkpoint_every_seconds.unwrap_or(10),
        audit.signing_key_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        audit.publish_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
    ));
    file.audit = Some(audit);
    let mut officers = file.officers.take().unwrap_or_default();
    officers.totp_key_file.get_or_insert_with(|| dir.join(crate::config::DEFAULT_TOTP_KEY_FILE));
    file.officers = Some(officers);
    let mut oidc = file.oidc.take().unwrap_or_default();
    oidc.key_seal_file.get_or_insert_with(|| dir.join(crate::config::DEFAULT_OIDC_SEAL_KEY_FILE));
    file.oidc = Some(oidc);
    let args = ServeArgs { listen: Some(options.listen), dev_inbox: Some(inbox), ..ServeArgs::default() };
    let settings = resolve(file, DatabaseArgs { database_url: Some(database_url) }, args)?;
    run_node(store, settings, Some(banner)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_is_named_after_the_public_host() {
        assert_eq!(default_log_name(Some("https://eid.example.vn:8443/base")), "eid.example.vn/audit");
        assert_eq!(default_log_name(None), "dinhdanh/audit");
    }

    #[test]
    fn keys_rotate_every_90_days_unless_configured_and_0_is_never() {
        assert_eq!(rotate_every(None), Some(chrono::Duration::days(90)));
        assert_eq!(rotate_every(Some(30)), Some(chrono::Duration::days(30)));
        assert_eq!(rotate_every(Some(0)), None);
    }

    #[test]
    fn the_configured_swaps_add_to_the_built_in_holidays() {
        let locks: crate::config::LocksFile =
            toml::from_str("holidays = [\"2026-08-31\"]\nmake_up_working_days = [\"2026-08-22\"]\n").unwrap();
        let calendar = working_calendar(locks);
        let day = |m, d| chrono::NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        assert!(!calendar.is_working_day(day(9, 2)), "built in");
        assert!(!calendar.is_working_day(day(8, 31)), "configured bridge day");
        assert!(calendar.is_working_day(day(8, 22)), "configured make-up Saturday");
    }
}
