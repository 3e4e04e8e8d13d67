//! What the reference registries say about a person: the National Population Database's citizen record and
//! the National Immigration Database's foreigner record, as dinhdanh reads them. The registries are the
//! source of truth; dinhdanh never edits them. The optional status fields (card revoked or retained, death,
//! document and stay expiry) are what the automatic locks of Decree 59/69 will read.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::identity::{Gender, IdentificationNumber, Nationality, PassportNumber};
use crate::name::FullName;

/// The state of a citizen's identity card, as the registry records it (Law on Identification 2023 Art. 34).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CardStatus {
    #[default]
    Valid,
    Revoked,
    Retained,
}

// A new card status fails to compile here until it is added to `CardStatus::ALL`.
const _: fn(CardStatus) = |status| match status {
    CardStatus::Valid | CardStatus::Revoked | CardStatus::Retained => {}
};

impl CardStatus {
    /// Every variant (the migrations' CHECK constraints are compared with it).
    pub const ALL: &'static [CardStatus] = &[Self::Valid, Self::Revoked, Self::Retained];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Revoked => "revoked",
            Self::Retained => "retained",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_lowercase().as_str() {
            "" | "valid" => Some(Self::Valid),
            "revoked" => Some(Self::Revoked),
            "retained" => Some(Self::Retained),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CitizenRecord {
    pub id_number: IdentificationNumber,
    pub full_name: FullName,
    pub date_of_birth: NaiveDate,
    pub gender: Gender,
    pub place_of_origin: Option<String>,
    pub permanent_residence: Option<String>,
    pub card_status: CardStatus,
    pub died_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignerRecord {
    pub passport_number: PassportNumber,
    pub nationality: Nationality,
    pub full_name: FullName,
    pub date_of_birth: NaiveDate,
    pub gender: Gender,
    pub passport_expires_on: Option<NaiveDate>,
    pub stay_expires_on: Option<NaiveDate>,
    pub died_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistryKind {
    /// The National Population Database (citizens).
    Population,
    /// The National Immigration Database (foreigners).
    Immigration,
}

impl RegistryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Population => "population",
            Self::Immigration => "immigration",
        }
    }
}
