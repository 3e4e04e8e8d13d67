//! `dinhdanh org ...`: organizations, over the server's API with an officer session token.

use anyhow::Result;
use clap::{Subcommand, ValueEnum};
use serde_json::{Map, Value, json};

use crate::api_client::{ApiClient, ServerArgs, print};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    /// The e-ID operator and its units.
    Operator,
    /// Investigation bodies, procuracies, courts.
    ProsecutingAgency,
    /// Other state bodies empowered by law to request a lock.
    CompetentAuthority,
    /// Banks, public-service portals, telecoms: service-using parties.
    RelyingParty,
}

impl KindArg {
    fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::ProsecutingAgency => "prosecuting_agency",
            Self::CompetentAuthority => "competent_authority",
            Self::RelyingParty => "relying_party",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Register an organization (administrators).
    Create {
        #[command(flatten)]
        server: ServerArgs,
        /// Short unique code, e.g. VCB or TAND-HN.
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        kind: KindArg,
        /// The id of the body this one is a unit of (same kind).
        #[arg(long)]
        parent: Option<String>,
        #[arg(long)]
        contact_email: Option<String>,
        #[arg(long)]
        contact_phone: Option<String>,
    },
    /// List organizations, optionally of one kind.
    List {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, value_enum)]
        kind: Option<KindArg>,
    },
    /// Show one organization.
    Show {
        #[command(flatten)]
        server: ServerArgs,
        id: String,
    },
    /// Change an organization's name, parent or contacts (administrators). Pass an empty value to clear one.
    Update {
        #[command(flatten)]
        server: ServerArgs,
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        parent: Option<String>,
        #[arg(long)]
        contact_email: Option<String>,
        #[arg(long)]
        contact_phone: Option<String>,
    },
    /// Suspend an organization: its clients get no tokens and its tokens stop working at once.
    Suspend {
        #[command(flatten)]
        server: ServerArgs,
        id: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Reinstate a suspended organization.
    Reinstate {
        #[command(flatten)]
        server: ServerArgs,
        id: String,
        #[arg(long)]
        reason: String,
    },
}

/// An optional text flag as a JSON patch member: absent stays absent, an empty value clears.
fn patch_field(body: &mut Map<String, Value>, key: &str, value: Option<String>) {
    if let Some(v) = value {
        body.insert(key.to_owned(), if v.is_empty() { Value::Null } else { Value::String(v) });
    }
}

pub async fn run(command: OrgCommand) -> Result<()> {
    let value = match command {
        OrgCommand::Create { server, code, name, kind, parent, contact_email, contact_phone } => {
            let body = json!({"code": code, "name": name, "kind": kind.as_str(), "parent_id": parent,
                              "contact_email": contact_email, "contact_phone": contact_phone});
            ApiClient::new(&server).post("/v1/organizations", body).await?
        }
        OrgCommand::List { server, kind } => {
            let path = match kind {
                Some(kind) => format!("/v1/organizations?kind={}", kind.as_str()),
                None => "/v1/organizations".to_owned(),
            };
            ApiClient::new(&server).get(&path).await?
        }
        OrgCommand::Show { server, id } => ApiClient::new(&server).get(&format!("/v1/organizations/{id}")).await?,
        OrgCommand::Update { server, id, name, parent, contact_email, contact_phone } => {
            let mut body = Map::new();
            if let Some(name) = name {
                body.insert("name".into(), Value::String(name));
            }
            patch_field(&mut body, "parent_id", parent);
            patch_field(&mut body, "contact_email", contact_email);
            patch_field(&mut body, "contact_phone", contact_phone);
            ApiClient::new(&server).patch(&format!("/v1/organizations/{id}"), Value::Object(body)).await?
        }
        OrgCommand::Suspend { server, id, reason } => {
            ApiClient::new(&server).post(&format!("/v1/organizations/{id}/suspend"), json!({"reason": reason})).await?
        }
        OrgCommand::Reinstate { server, id, reason } => {
            ApiClient::new(&server)
                .post(&format!("/v1/organizations/{id}/reinstate"), json!({"reason": reason}))
                .await?
        }
    };
    print(&value);
    Ok(())
}
