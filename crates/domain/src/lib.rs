//! The pure domain core of dinhdanh.
//!
//! Identifiers and value types that parse once and can then be trusted ("parse, don't validate"), the account
//! state machine, the activation rules, the comparison of a registration with a registry record, and the texts
//! of the notices. Nothing here does I/O, reads a clock or draws random numbers: callers pass `now` and any
//! randomness in, so every rule is a plain function that tests can pin down.

#[macro_use]
mod macros;

pub mod account;
pub mod activation;
pub mod actor;
pub mod authority;
pub mod authorization;
pub mod automatic;
pub mod biometrics;
pub mod bulk;
pub mod calendar;
pub mod client;
pub mod contact;
pub mod identity;
pub mod lock;
pub mod name;
pub mod notice;
pub mod officer;
pub mod organization;
pub mod password;
pub mod registration;
pub mod registry;
pub mod request;
pub mod throttle;
pub mod totp;
pub mod tracking;

pub use account::{Account, AccountError, AccountId, AccountStatus, Level, SignInProof};
pub use contact::{Channel, ContactError, Email, PhoneNumber};
pub use identity::{
    Gender, IdentificationNumber, IdentityError, IdentityKey, Nationality, PassportNumber, ProvinceTable,
};
pub use name::FullName;
