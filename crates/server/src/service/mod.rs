//! Application services: each public function is one use case (parse → domain → one store transaction), shared
//! by the HTTP API and, later, the web pages and the CLI.

pub mod audit;
pub mod automatic;
pub mod biometrics;
pub mod bulk;
pub mod clients;
pub mod console;
pub mod holders;
pub mod jobs;
pub mod locks;
pub mod notices;
pub mod officers;
pub mod oidc;
pub mod organizations;
pub mod portal;
pub mod purge;
pub mod registration;
pub mod ssf;
