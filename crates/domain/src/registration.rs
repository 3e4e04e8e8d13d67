//! Registration (Art. 6): what a registrant declares, and the automatic comparison with the registry record.
//! The comparison answers only "matches" or "does not match": which field differed, or whether the identity
//! exists at all, is never told to the registrant (no registry enumeration).

use chrono::NaiveDate;

use crate::account::HolderKind;
use crate::identity::{Gender, IdentificationNumber, IdentityKey, Nationality, PassportNumber};
use crate::name::FullName;
use crate::registry::{CitizenRecord, ForeignerRecord};

/// The identity part of a registration: who the registrant says they are.
#[derive(Debug, Clone)]
pub enum Declaration {
    Citizen {
        id_number: IdentificationNumber,
        full_name: FullName,
        date_of_birth: NaiveDate,
        gender: Gender,
    },
    Foreigner {
        passport_number: PassportNumber,
        nationality: Nationality,
        full_name: FullName,
        date_of_birth: NaiveDate,
        gender: Gender,
    },
}

impl Declaration {
    pub fn identity_key(&self) -> IdentityKey {
        match self {
            Self::Citizen { id_number, .. } => IdentityKey::citizen(id_number),
            Self::Foreigner { nationality, passport_number, .. } => {
                IdentityKey::foreigner(nationality, passport_number)
            }
        }
    }

    pub fn holder_kind(&self) -> HolderKind {
        match self {
            Self::Citizen { .. } => HolderKind::Citizen,
            Self::Foreigner { .. } => HolderKind::Foreigner,
        }
    }

    pub fn full_name(&self) -> &FullName {
        match self {
            Self::Citizen { full_name, .. } | Self::Foreigner { full_name, .. } => full_name,
        }
    }

    /// The identifier that must not double as the password.
    pub fn identifier(&self) -> &str {
        match self {
            Self::Citizen { id_number, .. } => id_number.as_str(),
            Self::Foreigner { passport_number, .. } => passport_number.as_str(),
        }
    }
}

/// Whether a citizen's declaration agrees with the population registry's record: same number, name (compared
/// after normalisation), date of birth and gender, and the person is alive.
pub fn citizen_matches(declared: &Declaration, record: &CitizenRecord) -> bool {
    let Declaration::Citizen { id_number, full_name, date_of_birth, gender } = declared else {
        return false;
    };
    *id_number == record.id_number
        && full_name.matches(&record.full_name)
        && *date_of_birth == record.date_of_birth
        && *gender == record.gender
        && record.died_on.is_none()
}

/// Whether a foreigner's declaration agrees with the immigration registry's record.
pub fn foreigner_matches(declared: &Declaration, record: &ForeignerRecord) -> bool {
    let Declaration::Foreigner { passport_number, nationality, full_name, date_of_birth, gender } = declared else {
        return false;
    };
    *passport_number == record.passport_number
        && *nationality == record.nationality
        && full_name.matches(&record.full_name)
        && *date_of_birth == record.date_of_birth
        && *gender == record.gender
        && record.died_on.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ProvinceTable;
    use crate::registry::CardStatus;

    fn record() -> CitizenRecord {
        CitizenRecord {
            id_number: IdentificationNumber::parse("001190123456", &ProvinceTable::builtin()).unwrap(),
            full_name: FullName::parse("Trần Thị Mai").unwrap(),
            date_of_birth: NaiveDate::from_ymd_opt(1990, 5, 1).unwrap(),
            gender: Gender::Female,
            place_of_origin: None,
            permanent_residence: None,
            card_status: CardStatus::Valid,
            died_on: None,
        }
    }

    fn declared(name: &str, dob: (i32, u32, u32), gender: Gender) -> Declaration {
        Declaration::Citizen {
            id_number: record().id_number,
            full_name: FullName::parse(name).unwrap(),
            date_of_birth: NaiveDate::from_ymd_opt(dob.0, dob.1, dob.2).unwrap(),
            gender,
        }
    }

    #[test]
    fn matching_declaration_matches() {
        assert!(citizen_matches(&declared("TRẦN  thị mai", (1990, 5, 1), Gender::Female), &record()));
    }

    #[test]
    fn any_differing_field_does_not_match() {
        assert!(!citizen_matches(&declared("Trần Thị Mại", (1990, 5, 1), Gender::Female), &record()));
        assert!(!citizen_matches(&declared("Trần Thị Mai", (1990, 5, 2), Gender::Female), &record()));
        assert!(!citizen_matches(&declared("Trần Thị Mai", (1990, 5, 1), Gender::Male), &record()));
    }

    #[test]
    fn a_deceased_person_cannot_register() {
        let mut dead = record();
        dead.died_on = NaiveDate::from_ymd_opt(2020, 1, 1);
        assert!(!citizen_matches(&declared("Trần Thị Mai", (1990, 5, 1), Gender::Female), &dead));
    }
}
