//! `dinhdanh officer ...`: an officer's own enrolment, sign-in and sign-out, and administrators' management of
//! officers, all over the server's HTTP API (never the database), so that the server's rules, authorization
//! and audit apply exactly as to any other client. Passwords are read from standard input or typed without
//! echo, never taken as a flag (which other users could see in the process list).

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value, json};

use crate::api_client::{ApiClient, ServerArgs, print};

/// The server, for the commands that need no session (enrolment, sign-in): their `--token` is another one.
#[derive(Debug, Args, Clone)]
pub struct PublicServerArgs {
    /// Base URL of the dinhdanh server.
    #[arg(long, env = "DINHDANH_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
}

impl PublicServerArgs {
    fn client(&self) -> ApiClient {
        ApiClient::new(&ServerArgs { server: self.server.clone(), token: None })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Verifies identities and evidence, works the queue, forwards requests, places terms-violation locks.
    Reviewer,
    /// Decides forwarded lock and unlock requests; reads officers and the audit log.
    Supervisor,
    /// Manages officers, organizations and their API clients; no power over locks by this role alone.
    Administrator,
}

impl RoleArg {
    fn as_str(self) -> &'static str {
        match self {
            Self::Reviewer => "reviewer",
            Self::Supervisor => "supervisor",
            Self::Administrator => "administrator",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    /// May sign in (an officer who never finished enrolment goes back to pending enrolment).
    Active,
    /// Cannot sign in; every session ends at once.
    Disabled,
}

#[derive(Debug, Subcommand)]
pub enum OfficerCommand {
    /// Enrolment step 1: choose a password with the one-time token an administrator gave you; prints the TOTP
    /// secret and an otpauth:// URI to add to an authenticator app (any RFC 6238 app: 6 digits, 30 seconds).
    ///
    /// The password is typed twice without echo, or read from the first line of standard input with
    /// --password-stdin. Rules: 8 to 128 characters, not a common password, not your username.
    Enrol {
        #[command(flatten)]
        server: PublicServerArgs,
        /// The one-time enrolment token (dd_en_…), valid 72 hours.
        #[arg(long, env = "DINHDANH_ENROLMENT_TOKEN", hide_env_values = true)]
        token: String,
        /// Read the new password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Enrolment step 2: prove the authenticator app works with the code it shows now. You are then active and
    /// can sign in (with a later code: each code works only once).
    Confirm {
        #[command(flatten)]
        server: PublicServerArgs,
        #[arg(long, env = "DINHDANH_ENROLMENT_TOKEN", hide_env_values = true)]
        token: String,
        /// The 6-digit code the app shows.
        #[arg(long)]
        code: String,
    },
    /// Sign in with your username, password and the current TOTP code; prints a session token (8 hours) and
    /// the `export DINHDANH_TOKEN=…` line that makes the other commands use it.
    ///
    /// After 5 failed sign-ins in a row, sign-in is locked for 15 minutes, then twice as long after each
    /// further failure (at most 24 hours); a successful sign-in resets the count.
    SignIn {
        #[command(flatten)]
        server: PublicServerArgs,
        #[arg(long, env = "DINHDANH_USERNAME")]
        username: String,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
        /// The 6-digit code the authenticator app shows now.
        #[arg(long)]
        code: String,
    },
    /// End the session in DINHDANH_TOKEN.
    SignOut {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Show the signed-in officer.
    Me {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Create an officer (administrators). Prints the one-time enrolment token to hand to the officer over a
    /// trusted channel; it is shown only now and is valid 72 hours.
    Create {
        #[command(flatten)]
        server: ServerArgs,
        /// Lower-case letters, digits, '.', '-', '_'; starts with a letter.
        #[arg(long)]
        username: String,
        #[arg(long)]
        full_name: String,
        /// The officer's unit: the id or code of an active organization of kind operator.
        #[arg(long)]
        organization: String,
        /// A role; repeat for several (--role reviewer --role supervisor).
        #[arg(long = "role", value_enum, required = true)]
        roles: Vec<RoleArg>,
    },
    /// List officers (administrators and supervisors).
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Show one officer (administrators and supervisors).
    Show {
        #[command(flatten)]
        server: ServerArgs,
        id: String,
    },
    /// Change an officer's name, roles or status (administrators). Changing roles or disabling ends the
    /// officer's sessions at once; the last active administrator cannot lose the role or be disabled.
    Update {
        #[command(flatten)]
        server: ServerArgs,
        id: String,
        #[arg(long)]
        full_name: Option<String>,
        /// The complete new set of roles; repeat for several.
        #[arg(long = "role", value_enum)]
        roles: Vec<RoleArg>,
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
    },
    /// Start an officer's enrolment again (administrators), for a lost authenticator or a forgotten password:
    /// the old password and TOTP secret stop working, sessions end, and a new one-time token is printed.
    ReissueEnrolment {
        #[command(flatten)]
        server: ServerArgs,
        id: String,
    },
}

pub async fn run(command: OfficerCommand) -> Result<()> {
    match command {
        OfficerCommand::Enrol { server, token, password_stdin } => {
            let password = if password_stdin { read_stdin_password()? } else { prompt_new_password()? };
            let answer =
                server.client().post("/v1/officer-enrolment", json!({"token": token, "password": password})).await?;
            let secret = answer["totp_secret"].as_str().unwrap_or_default();
            println!("Password set. Add this account to your authenticator app (type the secret, or paste the URI):");
            println!();
            println!("  TOTP secret: {secret}");
            println!("  URI:         {}", answer["otpauth_uri"].as_str().unwrap_or_default());
            println!();
            println!("Keep the secret to yourself; it is not shown again. Then confirm with the code the app shows:");
            println!("  dinhdanh officer confirm --token <the same token> --code <6 digits>");
        }
        OfficerCommand::Confirm { server, token, code } => {
            let answer =
                server.client().post("/v1/officer-enrolment/confirm", json!({"token": token, "code": code})).await?;
            let username = answer["username"].as_str().unwrap_or_default();
            println!("Enrolled: {username} is active. Sign in with a later code (each code works once):");
            println!("  dinhdanh officer sign-in --username {username} --code <6 digits>");
        }
        OfficerCommand::SignIn { server, username, password_stdin, code } => {
            let password = if password_stdin { read_stdin_password()? } else { prompt_password("Password: ")? };
            let answer = server
                .client()
                .post("/v1/officer-sessions", json!({"username": username, "password": password, "code": code}))
                .await?;
            let token = answer["token"].as_str().unwrap_or_default();
            let roles: Vec<&str> =
                answer["officer"]["roles"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            println!("{token}");
            eprintln!(
                "Signed in as {} ({}) until {}. Use the session with:",
                answer["officer"]["username"].as_str().unwrap_or_default(),
                roles.join(", "),
                answer["expires_at"].as_str().unwrap_or_default()
            );
            eprintln!("  export DINHDANH_TOKEN={token}");
        }
        OfficerCommand::SignOut { server } => {
            ApiClient::new(&server).delete("/v1/officer-sessions/current").await?;
            println!("Signed out.");
        }
        OfficerCommand::Me { server } => print(&ApiClient::new(&server).get("/v1/officers/me").await?),
        OfficerCommand::Create { server, username, full_name, organization, roles } => {
            let client = ApiClient::new(&server);
            let organization_id = organization_id(&client, &organization).await?;
            let body = json!({
                "username": username, "full_name": full_name, "organization_id": organization_id,
                "roles": roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            });
            let answer = client.post("/v1/officers", body).await?;
            print_enrolment(&answer);
        }
        OfficerCommand::List { server } => print(&ApiClient::new(&server).get("/v1/officers").await?),
        OfficerCommand::Show { server, id } => {
            print(&ApiClient::new(&server).get(&format!("/v1/officers/{id}")).await?)
        }
        OfficerCommand::Update { server, id, full_name, roles, status } => {
            let mut body = Map::new();
            if let Some(full_name) = full_name {
                body.insert("full_name".into(), json!(full_name));
            }
            if !roles.is_empty() {
                body.insert("roles".into(), json!(roles.iter().map(|r| r.as_str()).collect::<Vec<_>>()));
            }
            if let Some(status) = status {
                body.insert("status".into(), json!(if status == StatusArg::Active { "active" } else { "disabled" }));
            }
            if body.is_empty() {
                bail!("nothing to change: give --full-name, --role or --status");
            }
            print(&ApiClient::new(&server).patch(&format!("/v1/officers/{id}"), Value::Object(body)).await?);
        }
        OfficerCommand::ReissueEnrolment { server, id } => {
            let answer = ApiClient::new(&server).post(&format!("/v1/officers/{id}/enrolment"), json!({})).await?;
            print_enrolment(&answer);
        }
    }
    Ok(())
}

fn print_enrolment(answer: &Value) {
    print(&answer["officer"]);
    let token = answer["enrolment_token"].as_str().unwrap_or_default();
    println!();
    println!(
        "One-time enrolment token (shown only now, valid until {}):",
        answer["enrolment_expires_at"].as_str().unwrap_or_default()
    );
    println!("  {token}");
    println!("Hand it to the officer over a trusted channel; they run `dinhdanh officer enrol --token …`.");
}

/// An organization given by id, or by code (looked up in the organizations the server lists).
async fn organization_id(client: &ApiClient, given: &str) -> Result<String> {
    let given = given.trim();
    if given.len() == 36 && given.bytes().filter(|b| *b == b'-').count() == 4 {
        return Ok(given.to_owned());
    }
    let listed = client.get("/v1/organizations").await.context("cannot look the organization code up; give its id")?;
    let items = listed.as_array().or_else(|| listed["items"].as_array()).cloned().unwrap_or_default();
    items
        .iter()
        .find(|o| o["code"].as_str().is_some_and(|c| c.eq_ignore_ascii_case(given)))
        .and_then(|o| o["id"].as_str().map(str::to_owned))
        .with_context(|| format!("no organization with code {given:?}"))
}

fn read_stdin_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}

fn prompt_password(prompt: &str) -> Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to type the password in: pass --password-stdin and send it on standard input");
    }
    rpassword::prompt_password(prompt).context("cannot read the password")
}

fn prompt_new_password() -> Result<String> {
    let password = prompt_password("New password: ")?;
    if prompt_password("Repeat it: ")? != password {
        bail!("the two passwords differ");
    }
    Ok(password)
}
