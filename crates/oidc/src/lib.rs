//! The OpenID Connect provider logic of dinhdanh (issue 14), without HTTP and without a database.
//!
//! This crate decides; the server's handlers parse HTTP, call it, apply its decisions in one store transaction
//! and answer. Nothing here does I/O or reads a clock (callers pass `now`); random values (keys, codes, tokens)
//! are drawn from the operating system where they are made. `docs/oidc.md` describes the design and what the
//! HTTP layer still has to build.
//!
//! | module | owns |
//! |---|---|
//! | [`metadata`] | the issuer and the discovery document |
//! | [`keys`] | the ES256 signing keys, their rotation, the JWKS, signing and verifying our own JWTs |
//! | [`client`] | a relying party's registration (redirect URIs, scopes, claims, sector, PAR) |
//! | [`authorize`] | authorization request parsing and validation, PAR, and the next step (sign in, consent, code) |
//! | [`acr`] | levels of assurance as `acr` values, and freshness (`max_age`, `prompt=login`) |
//! | [`pkce`] | `S256` PKCE |
//! | [`subject`] | pairwise and public `sub` values |
//! | [`tokens`] | opaque codes and refresh tokens, their hashes, and the code and refresh-family rules |
//! | [`claims`] | ID token, RFC 9068 access token, userinfo and introspection contents |
//! | [`consent`] | what a request would release and whether a remembered consent covers it |
//! | [`scope`] | relying parties' scopes and claims, and the private identification-number claim |
//! | [`logout`] | RP-initiated logout: the client, its post-logout URI, whether to confirm |
//! | [`error`] | OAuth 2.0 / OpenID Connect error codes |
//!
//! The levels of assurance are `urn:dinhdanh:loa:1` and `urn:dinhdanh:loa:2` ([`acr`]); the identification
//! number travels as the private claim `dinhdanh:id_number` ([`scope::ID_NUMBER_CLAIM`]).

pub mod acr;
pub mod authorize;
pub mod claims;
pub mod client;
pub mod consent;
pub mod error;
pub mod keys;
pub mod logout;
pub mod metadata;
pub mod pkce;
pub mod scope;
pub mod ssf;
pub mod subject;
pub mod tokens;

pub use error::{ErrorCode, TokenError};
