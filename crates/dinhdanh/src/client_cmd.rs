//! `dinhdanh client ...`: organizations' API clients — register, list, show, rotate keys and secrets, revoke —
//! and a relying party's OpenID Connect registration (`client oidc show|set`). Talks to a running server with an
//! administrator's session, so the server's authorization, validation and audit apply.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::api_client::{ApiClient, ServerArgs, print};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AuthMethod {
    /// The client signs a short JWT with its private key (RFC 7523); dinhdanh holds only the public key.
    /// Recommended: nothing secret is ever sent or stored.
    PrivateKeyJwt,
    /// dinhdanh generates a secret, shown once; the client sends it with each token request.
    ClientSecret,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register an API client for an organization.
    ///
    /// With --auth-method private-key-jwt, give the client's public keys with --jwks (a JWK Set
    /// {"keys": [...]} or a single JWK; RSA ≥ 2048 bits, EC P-256 or Ed25519; never the private key).
    /// With --auth-method client-secret, the secret is printed once: store it safely at once.
    ///
    /// Example:
    ///   dinhdanh client create --organization ORG_ID --name "Chống gian lận" \
    ///     --auth-method private-key-jwt --scope locks:request --scope accounts:status --jwks public.jwks.json
    #[command(verbatim_doc_comment)]
    Create {
        #[command(flatten)]
        server: ServerArgs,
        /// The organization's id.
        #[arg(long)]
        organization: String,
        /// A name people recognise, e.g. the system that uses the client.
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        auth_method: AuthMethod,
        /// A scope the client may ask for (repeat, or separate with spaces or commas): locks:request,
        /// locks:lift, accounts:status. Only scopes the organization's kind may use are accepted.
        #[arg(long = "scope", required = true, num_args = 1..)]
        scopes: Vec<String>,
        /// File with the client's public key(s) as a JWK Set or one JWK (private-key-jwt only).
        #[arg(long)]
        jwks: Option<PathBuf>,
    },
    /// List an organization's API clients, revoked ones included.
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// The organization's id.
        #[arg(long)]
        organization: String,
    },
    /// Show a client with its keys and secrets (secrets by id only: they are never shown again).
    Show {
        #[command(flatten)]
        server: ServerArgs,
        /// The client's id.
        client: String,
    },
    /// Add a public key to a private-key-jwt client (first step of a key rotation).
    ///
    /// Rotation without downtime: add the new key, move the client's systems to sign with it, then remove the
    /// old key with `remove-credential`. Both keys work in between.
    AddKey {
        #[command(flatten)]
        server: ServerArgs,
        /// The client's id.
        client: String,
        /// File with one public JWK (a JWK Set with exactly one key also works). Give it a `kid`.
        #[arg(long)]
        jwk: PathBuf,
    },
    /// Add a new secret to a client-secret client (first step of a secret rotation); printed once.
    ///
    /// Both the old and the new secret work until the old one is removed with `remove-credential`.
    AddSecret {
        #[command(flatten)]
        server: ServerArgs,
        /// The client's id.
        client: String,
    },
    /// Remove a key or secret (last step of a rotation). The last live credential cannot be removed.
    ///
    /// The credential stops working for new tokens at once; tokens it already obtained stay valid until they
    /// expire (at most 10 minutes). To cut a compromised client off at once, use `revoke`.
    RemoveCredential {
        #[command(flatten)]
        server: ServerArgs,
        /// The client's id.
        client: String,
        /// The credential's id (see `show`).
        credential: String,
    },
    /// Revoke a client for good: it gets no more tokens and its tokens stop working at once.
    Revoke {
        #[command(flatten)]
        server: ServerArgs,
        /// The client's id.
        client: String,
    },
    /// A relying party's OpenID Connect registration: where holders are sent back after signing in, which
    /// scopes and claims it may ask for. The client keeps its credentials and authentication method.
    Oidc {
        #[command(subcommand)]
        command: OidcCommand,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SubjectType {
    /// A different `sub` for each relying party (per sector), so two cannot join their users (the default).
    Pairwise,
    /// The account's id as `sub`, the same for every relying party that is registered so.
    Public,
}

#[derive(Debug, Subcommand)]
pub enum OidcCommand {
    /// Show a client's OpenID Connect registration.
    Show {
        #[command(flatten)]
        server: ServerArgs,
        /// The client's id.
        client: String,
    },
    /// Save a client's OpenID Connect registration, replacing the one it has. The client must be an active
    /// API client of a relying-party organization.
    ///
    /// Example:
    ///   dinhdanh client oidc set CLIENT_ID --redirect-uri https://dichvucong.example.vn/callback \
    ///     --scope openid --scope profile --scope phone --claim name --claim phone_number
    #[command(verbatim_doc_comment)]
    Set {
        #[command(flatten)]
        server: ServerArgs,
        /// The client's id.
        client: String,
        /// An exact redirect URI (repeat for more): https, http to a loopback address, or an app's private-use
        /// scheme with a dot (com.example.app:/cb).
        #[arg(long = "redirect-uri", required = true, num_args = 1..)]
        redirect_uris: Vec<String>,
        /// Where RP-initiated logout may send the browser back to (repeat for more).
        #[arg(long = "post-logout-redirect-uri", num_args = 1..)]
        post_logout_redirect_uris: Vec<String>,
        /// A scope it may ask for (repeat, or separate with spaces or commas): openid (required), profile,
        /// email, phone, id_number, offline_access.
        #[arg(long = "scope", required = true, num_args = 1..)]
        scopes: Vec<String>,
        /// A claim it may receive (repeat, or separate with spaces or commas), at most what its scopes carry:
        /// name, birthdate, gender, email, email_verified, phone_number, phone_number_verified,
        /// dinhdanh:id_number. Without any, it learns only `sub` and the level of the sign-in.
        #[arg(long = "claim", num_args = 1..)]
        claims: Vec<String>,
        #[arg(long, value_enum, default_value = "pairwise")]
        subject_type: SubjectType,
        /// The host pairwise subjects are computed for; needed when the redirect URIs are on several hosts.
        #[arg(long)]
        sector_identifier: Option<String>,
        /// Refuse authorization requests that were not pushed first (PAR, RFC 9126).
        #[arg(long)]
        require_par: bool,
    },
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// The keys of a JWK Set file, or the one JWK of a single-key file.
fn read_keys(path: &Path) -> Result<Vec<Value>> {
    let value = read_json(path)?;
    match value.get("keys") {
        Some(Value::Array(keys)) => Ok(keys.clone()),
        Some(_) => bail!("{}: \"keys\" must be an array", path.display()),
        None => Ok(vec![value]),
    }
}

fn split_scopes(scopes: &[String]) -> Vec<String> {
    scopes.iter().flat_map(|s| s.split([' ', ','])).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn print_secret(secret: &str) {
    eprintln!(
        "\nClient secret (shown ONCE — store it now in a secret manager; dinhdanh keeps only a hash and cannot show \
         it again; anyone who has it can act for the organization):"
    );
    println!("{secret}");
}

pub async fn run(command: ClientCommand) -> Result<()> {
    match command {
        ClientCommand::Create { server, organization, name, auth_method, scopes, jwks } => {
            let (method, jwks) = match (auth_method, jwks) {
                (AuthMethod::PrivateKeyJwt, Some(path)) => {
                    ("private_key_jwt", Some(json!({"keys": read_keys(&path)?})))
                }
                (AuthMethod::PrivateKeyJwt, None) => bail!("--auth-method private-key-jwt needs --jwks FILE"),
                (AuthMethod::ClientSecret, Some(_)) => bail!("--jwks is only for --auth-method private-key-jwt"),
                (AuthMethod::ClientSecret, None) => ("client_secret", None),
            };
            let mut body = json!({"name": name, "auth_method": method, "scopes": split_scopes(&scopes)});
            if let Some(jwks) = jwks {
                body["jwks"] = jwks;
            }
            let mut value =
                ApiClient::new(&server).post(&format!("/v1/organizations/{organization}/clients"), body).await?;
            let secret = value.as_object_mut().and_then(|o| o.remove("client_secret"));
            print(&value);
            if let Some(secret) = secret.as_ref().and_then(Value::as_str) {
                print_secret(secret);
            }
        }
        ClientCommand::List { server, organization } => {
            print(&ApiClient::new(&server).get(&format!("/v1/organizations/{organization}/clients")).await?);
        }
        ClientCommand::Show { server, client } => {
            print(&ApiClient::new(&server).get(&format!("/v1/clients/{client}")).await?);
        }
        ClientCommand::AddKey { server, client, jwk } => {
            let mut keys = read_keys(&jwk)?;
            if keys.len() != 1 {
                bail!("{} must hold exactly one key (it holds {})", jwk.display(), keys.len());
            }
            let body = json!({"jwk": keys.remove(0)});
            print(&ApiClient::new(&server).post(&format!("/v1/clients/{client}/keys"), body).await?);
        }
        ClientCommand::AddSecret { server, client } => {
            let mut value = ApiClient::new(&server).post(&format!("/v1/clients/{client}/secrets"), json!({})).await?;
            let secret = value.as_object_mut().and_then(|o| o.remove("client_secret"));
            print(&value);
            if let Some(secret) = secret.as_ref().and_then(Value::as_str) {
                print_secret(secret);
            }
            eprintln!(
                "The previous secret keeps working until you remove it with `dinhdanh client remove-credential`."
            );
        }
        ClientCommand::RemoveCredential { server, client, credential } => {
            ApiClient::new(&server).delete(&format!("/v1/clients/{client}/credentials/{credential}")).await?;
            println!("Removed credential {credential} of client {client}.");
        }
        ClientCommand::Oidc { command: OidcCommand::Show { server, client } } => {
            print(&ApiClient::new(&server).get(&format!("/v1/clients/{client}/oidc")).await?);
        }
        ClientCommand::Oidc {
            command:
                OidcCommand::Set {
                    server,
                    client,
                    redirect_uris,
                    post_logout_redirect_uris,
                    scopes,
                    claims,
                    subject_type,
                    sector_identifier,
                    require_par,
                },
        } => {
            let body = json!({
                "redirect_uris": redirect_uris,
                "post_logout_redirect_uris": post_logout_redirect_uris,
                "scopes": split_scopes(&scopes),
                "claims": split_scopes(&claims),
                "subject_type": match subject_type { SubjectType::Pairwise => "pairwise", SubjectType::Public => "public" },
                "sector_identifier": sector_identifier,
                "require_pushed_authorization_requests": require_par,
            });
            print(&ApiClient::new(&server).put(&format!("/v1/clients/{client}/oidc"), body).await?);
        }
        ClientCommand::Revoke { server, client } => {
            print(&ApiClient::new(&server).post(&format!("/v1/clients/{client}/revoke"), json!({})).await?);
            eprintln!("The client is revoked: it gets no more tokens and its tokens no longer work.");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_may_be_repeated_or_listed() {
        let given = vec!["locks:request accounts:status".to_owned(), "locks:lift,".to_owned()];
        assert_eq!(split_scopes(&given), vec!["locks:request", "accounts:status", "locks:lift"]);
    }

    #[test]
    fn a_key_file_is_a_set_or_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let set = dir.path().join("set.json");
        std::fs::write(&set, r#"{"keys": [{"kty": "EC"}, {"kty": "RSA"}]}"#).unwrap();
        assert_eq!(read_keys(&set).unwrap().len(), 2);
        let one = dir.path().join("one.json");
        std::fs::write(&one, r#"{"kty": "OKP"}"#).unwrap();
        assert_eq!(read_keys(&one).unwrap(), vec![json!({"kty": "OKP"})]);
    }
}
