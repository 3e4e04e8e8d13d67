//! The OpenID Connect scopes and user claims dinhdanh knows: which claims each scope asks for (OIDC Core §5.4),
//! and the private claim that carries a citizen's personal identification number. These are the relying
//! parties' scopes; the organizations' API scopes (`locks:request`, …) are [`dinhdanh_domain::actor::Scope`].

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// The private claim carrying a citizen's 12-digit personal identification number (số định danh cá nhân).
/// A private claim name (RFC 7519 §4.3) in dinhdanh's own namespace, so it cannot be mistaken for a registered
/// one; released only with the [`Scope::IdNumber`] scope and the holder's consent. Foreigners have no such
/// number, so they never carry it.
pub const ID_NUMBER_CLAIM: &str = "dinhdanh:id_number";

macro_rules! named {
    ($(#[$meta:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $text:expr),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vm])* $variant),*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),*
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown {}: {s:?}", stringify!($name))))
            }
        }
    };
}

named! {
    /// A relying party's scope.
    Scope {
        /// Required in every request: this is an OpenID Connect sign-in.
        OpenId => "openid",
        /// `name`, `birthdate`, `gender`.
        Profile => "profile",
        Email => "email",
        Phone => "phone",
        /// The private [`ID_NUMBER_CLAIM`].
        IdNumber => "id_number",
        /// A refresh token (OIDC Core §11).
        OfflineAccess => "offline_access",
    }
}

named! {
    /// A claim about the holder that a relying party can receive (beyond `sub`, which every token carries).
    Claim {
        Name => "name",
        Birthdate => "birthdate",
        Gender => "gender",
        PhoneNumber => "phone_number",
        PhoneNumberVerified => "phone_number_verified",
        Email => "email",
        EmailVerified => "email_verified",
        IdNumber => ID_NUMBER_CLAIM,
    }
}

impl Scope {
    /// The claims this scope asks for (OIDC Core §5.4, plus [`Scope::IdNumber`]).
    pub fn claims(self) -> &'static [Claim] {
        match self {
            Scope::OpenId | Scope::OfflineAccess => &[],
            Scope::Profile => &[Claim::Name, Claim::Birthdate, Claim::Gender],
            Scope::Email => &[Claim::Email, Claim::EmailVerified],
            Scope::Phone => &[Claim::PhoneNumber, Claim::PhoneNumberVerified],
            Scope::IdNumber => &[Claim::IdNumber],
        }
    }
}

/// The scopes a `scope` parameter names; an unknown name is returned as the error.
pub fn parse_scopes(list: &str) -> Result<BTreeSet<Scope>, String> {
    list.split(' ').filter(|s| !s.is_empty()).map(|s| Scope::parse(s).ok_or_else(|| s.to_owned())).collect()
}

/// A `scope` value: the names joined by single spaces.
pub fn format_scopes(scopes: &BTreeSet<Scope>) -> String {
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
}

/// Every claim the given scopes ask for.
pub fn claims_of(scopes: &BTreeSet<Scope>) -> BTreeSet<Claim> {
    scopes.iter().flat_map(|s| s.claims().iter().copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(*s));
            assert_eq!(serde_json::from_value::<Scope>(serde_json::to_value(s).unwrap()).unwrap(), *s);
        }
        for c in Claim::ALL {
            assert_eq!(Claim::parse(c.as_str()), Some(*c));
        }
        assert_eq!(Claim::IdNumber.as_str(), "dinhdanh:id_number");
    }

    #[test]
    fn scope_lists_parse_and_unknown_names_are_reported() {
        let scopes = parse_scopes("openid  profile email").unwrap();
        assert_eq!(format_scopes(&scopes), "openid profile email");
        assert_eq!(parse_scopes("openid admin"), Err("admin".into()));
        assert_eq!(
            claims_of(&scopes),
            [Claim::Name, Claim::Birthdate, Claim::Gender, Claim::Email, Claim::EmailVerified].into()
        );
    }
}
