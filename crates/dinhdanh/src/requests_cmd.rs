//! `dinhdanh requests ...` and `dinhdanh locks ...`: the officers' queue and decisions, and the locks of an
//! account, over the server's API with an officer session token (DINHDANH_TOKEN).

use anyhow::Result;
use clap::Subcommand;
use serde_json::json;

use crate::api_client::{ApiClient, ServerArgs, print};

#[derive(Debug, Subcommand)]
pub enum RequestsCommand {
    /// The queue of open lock and unlock requests, the most urgent first (overdue, then by deadline).
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// Only these statuses (comma-separated: received, verifying, approved, effective, rejected, …).
        #[arg(long)]
        status: Option<String>,
        /// lock or unlock
        #[arg(long)]
        kind: Option<String>,
        /// e.g. authority_request
        #[arg(long)]
        ground: Option<String>,
        /// Only requests past their deadline.
        #[arg(long)]
        overdue: bool,
    },
    /// One request with its steps.
    Show {
        #[command(flatten)]
        server: ServerArgs,
        id: String,
    },
    /// Take a request into verification (the role due: reviewer or supervisor).
    Claim {
        #[command(flatten)]
        server: ServerArgs,
        id: String,
    },
    /// Reviewers: the request is verified; forward it to the supervisors (Decree 69/2024 Art. 29–30).
    Forward {
        #[command(flatten)]
        server: ServerArgs,
        id: String,
        /// What you verified.
        #[arg(long)]
        note: Option<String>,
    },
    /// Approve a request: it takes effect at once.
    Approve {
        #[command(flatten)]
        server: ServerArgs,
        id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Refuse a request, with the written reasons the requester receives.
    Reject {
        #[command(flatten)]
        server: ServerArgs,
        id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum LocksCommand {
    /// Every lock and lift on an account.
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// The account's id.
        account: String,
    },
    /// Whether the account of an identity can be used now.
    Status {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        id_number: Option<String>,
        #[arg(long)]
        passport_number: Option<String>,
        #[arg(long)]
        nationality: Option<String>,
    },
}

pub async fn run_requests(command: RequestsCommand) -> Result<()> {
    let value = match command {
        RequestsCommand::List { server, status, kind, ground, overdue } => {
            let mut query = Vec::new();
            for (name, value) in [("status", status), ("kind", kind), ("ground", ground)] {
                if let Some(v) = value {
                    query.push(format!("{name}={v}"));
                }
            }
            if overdue {
                query.push("overdue=true".to_owned());
            }
            let path =
                if query.is_empty() { "/v1/requests".to_owned() } else { format!("/v1/requests?{}", query.join("&")) };
            ApiClient::new(&server).get(&path).await?
        }
        RequestsCommand::Show { server, id } => ApiClient::new(&server).get(&format!("/v1/requests/{id}")).await?,
        RequestsCommand::Claim { server, id } => {
            ApiClient::new(&server).post(&format!("/v1/requests/{id}/claim"), json!({})).await?
        }
        RequestsCommand::Forward { server, id, note } => {
            ApiClient::new(&server).post(&format!("/v1/requests/{id}/forward"), json!({"note": note})).await?
        }
        RequestsCommand::Approve { server, id, note } => {
            ApiClient::new(&server)
                .post(&format!("/v1/requests/{id}/decision"), json!({"decision": "approve", "reason": note}))
                .await?
        }
        RequestsCommand::Reject { server, id, reason } => {
            ApiClient::new(&server)
                .post(&format!("/v1/requests/{id}/decision"), json!({"decision": "reject", "reason": reason}))
                .await?
        }
    };
    print(&value);
    Ok(())
}

pub async fn run_locks(command: LocksCommand) -> Result<()> {
    let value = match command {
        LocksCommand::List { server, account } => {
            ApiClient::new(&server).get(&format!("/v1/accounts/{account}/locks")).await?
        }
        LocksCommand::Status { server, id_number, passport_number, nationality } => {
            let query = match (id_number, passport_number, nationality) {
                (Some(id), _, _) => format!("id_number={id}"),
                (None, Some(p), Some(n)) => format!("passport_number={p}&nationality={n}"),
                _ => anyhow::bail!("give --id-number, or --passport-number and --nationality"),
            };
            ApiClient::new(&server).get(&format!("/v1/account-status?{query}")).await?
        }
    };
    print(&value);
    Ok(())
}
