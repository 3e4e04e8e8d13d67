//! Who a person is, as the registries identify them: a citizen's 12-digit personal identification number
//! (with its province, century/gender and birth-year digits), a foreigner's passport number and nationality,
//! and the gender both carry. Also the one key under which dinhdanh keeps at most one account per identity.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why an identifier was refused. Messages are short and safe to show to the person who typed the value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentityError {
    #[error("the personal identification number must have exactly 12 digits")]
    IdNumberFormat,
    #[error("the personal identification number starts with an unknown province code {0}")]
    UnknownProvince(String),
    #[error("the century/gender digit of the identification number does not agree with the date of birth and gender")]
    CenturyGenderMismatch,
    #[error("the birth-year digits of the identification number do not agree with the date of birth")]
    BirthYearMismatch,
    #[error("the date of birth is outside the years an identification number can encode (1900-2399)")]
    BirthYearOutOfRange,
    #[error("gender must be `male` or `female` (nam / nữ)")]
    Gender,
    #[error("the passport number must be 5 to 20 letters or digits")]
    PassportFormat,
    #[error("nationality must be an ISO 3166-1 alpha-3 code such as KOR or USA")]
    NationalityFormat,
}

/// The province and city codes that open an identification number (Circular 07/2016/TT-BCA, Appendix 1).
/// The built-in list ships with dinhdanh; a deployment may add codes with [`ProvinceTable::with_extra`].
#[derive(Debug, Clone)]
pub struct ProvinceTable {
    names: BTreeMap<String, String>,
}

const BUILTIN_PROVINCES: &str = include_str!("../data/province-codes.csv");

impl ProvinceTable {
    pub fn builtin() -> Self {
        let names = BUILTIN_PROVINCES
            .lines()
            .skip(1)
            .filter_map(|line| line.split_once(','))
            .map(|(code, name)| (code.trim().to_owned(), name.trim().to_owned()))
            .collect();
        Self { names }
    }

    /// The built-in list plus a deployment's own codes (3 digits each; others are ignored).
    pub fn with_extra<'a>(mut self, extra: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        for (code, name) in extra {
            if code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()) {
                self.names.insert(code.to_owned(), name.to_owned());
            }
        }
        self
    }

    pub fn contains(&self, code: &str) -> bool {
        self.names.contains_key(code)
    }

    pub fn name(&self, code: &str) -> Option<&str> {
        self.names.get(code).map(String::as_str)
    }

    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.names.keys().map(String::as_str)
    }
}

impl Default for ProvinceTable {
    fn default() -> Self {
        Self::builtin()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    Male,
    Female,
}

// A new gender fails to compile here until it is added to `Gender::ALL`.
const _: fn(Gender) = |gender| match gender {
    Gender::Male | Gender::Female => {}
};

impl Gender {
    /// Every variant (the migrations' CHECK constraints are compared with it).
    pub const ALL: &'static [Gender] = &[Self::Male, Self::Female];

    /// Accepts the English and Vietnamese words and their one-letter forms, in any case.
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        match s.trim().to_lowercase().as_str() {
            "male" | "m" | "nam" => Ok(Self::Male),
            "female" | "f" | "nữ" | "nu" => Ok(Self::Female),
            _ => Err(IdentityError::Gender),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Male => "male",
            Self::Female => "female",
        }
    }
}

/// A citizen's personal identification number (số định danh cá nhân): 3 digits of province, 1 digit of century
/// and gender, 2 digits of birth year, 6 random digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdentificationNumber(String);

impl IdentificationNumber {
    /// Checks the 12 digits and the province code. Use [`Self::check_birth`] to check the digits that depend on
    /// the date of birth and gender.
    pub fn parse(s: &str, provinces: &ProvinceTable) -> Result<Self, IdentityError> {
        let s = s.trim();
        if s.len() != 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdentityError::IdNumberFormat);
        }
        if !provinces.contains(&s[..3]) {
            return Err(IdentityError::UnknownProvince(s[..3].to_owned()));
        }
        Ok(Self(s.to_owned()))
    }

    /// The century/gender digit for a birth year and gender: 0/1 for the 20th century (male/female), 2/3 for the
    /// 21st, up to 8/9 for the 24th.
    pub fn century_gender_digit(birth_year: i32, gender: Gender) -> Result<u8, IdentityError> {
        if !(1900..=2399).contains(&birth_year) {
            return Err(IdentityError::BirthYearOutOfRange);
        }
        let century_index = (birth_year / 100 - 19) as u8;
        Ok(century_index * 2 + u8::from(gender == Gender::Female))
    }

    /// Checks that the century/gender digit and the birth-year digits agree with the date of birth and gender.
    pub fn check_birth(&self, date_of_birth: NaiveDate, gender: Gender) -> Result<(), IdentityError> {
        let year = date_of_birth.year();
        let expected = Self::century_gender_digit(year, gender)?;
        let bytes = self.0.as_bytes();
        if bytes[3] - b'0' != expected {
            return Err(IdentityError::CenturyGenderMismatch);
        }
        let year_digits = (year % 100) as u8;
        if (bytes[4] - b'0') * 10 + (bytes[5] - b'0') != year_digits {
            return Err(IdentityError::BirthYearMismatch);
        }
        Ok(())
    }

    /// Rebuilds a number read back from storage, where it was validated on the way in (possibly against a
    /// deployment's extended province table).
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn province_code(&self) -> &str {
        &self.0[..3]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdentificationNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Identification numbers are personal data: debug output shows only the province code.
impl fmt::Debug for IdentificationNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentificationNumber({}*********)", &self.0[..3])
    }
}

/// A passport or international travel document number, upper-cased, spaces removed.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PassportNumber(String);

impl PassportNumber {
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        let cleaned: String = s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
        if !(5..=20).contains(&cleaned.len()) || !cleaned.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(IdentityError::PassportFormat);
        }
        Ok(Self(cleaned))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PassportNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PassportNumber(***)")
    }
}

impl fmt::Display for PassportNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A nationality as an ISO 3166-1 alpha-3 code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nationality(String);

impl Nationality {
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        let upper = s.trim().to_uppercase();
        if upper.len() != 3 || !upper.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(IdentityError::NationalityFormat);
        }
        Ok(Self(upper))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Nationality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The one key under which an identity holds at most one account: `CID:<number>` for a citizen,
/// `PP:<nationality>:<passport>` for a foreigner.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdentityKey(String);

impl IdentityKey {
    pub fn citizen(id: &IdentificationNumber) -> Self {
        Self(format!("CID:{}", id.as_str()))
    }

    pub fn foreigner(nationality: &Nationality, passport: &PassportNumber) -> Self {
        Self(format!("PP:{}:{}", nationality.as_str(), passport.as_str()))
    }

    /// Rebuilds a key read back from storage.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the key names, parsed back: a citizen's number or a foreigner's nationality and passport (for a
    /// registry lookup); `None` for a key this version did not write.
    pub fn identity(&self, provinces: &ProvinceTable) -> Option<KeyedIdentity> {
        if let Some(number) = self.0.strip_prefix("CID:") {
            return IdentificationNumber::parse(number, provinces).ok().map(KeyedIdentity::Citizen);
        }
        let (nationality, passport) = self.0.strip_prefix("PP:")?.split_once(':')?;
        Some(KeyedIdentity::Foreigner(Nationality::parse(nationality).ok()?, PassportNumber::parse(passport).ok()?))
    }
}

/// An identity as an [`IdentityKey`] names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyedIdentity {
    Citizen(IdentificationNumber),
    Foreigner(Nationality, PassportNumber),
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.0.split(':').next().unwrap_or("?");
        write!(f, "IdentityKey({kind}:***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provinces() -> ProvinceTable {
        ProvinceTable::builtin()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_key_gives_back_the_identity_it_was_made_from() {
        let id = IdentificationNumber::parse("001190123456", &provinces()).unwrap();
        assert_eq!(IdentityKey::citizen(&id).identity(&provinces()), Some(KeyedIdentity::Citizen(id)));
        let (nationality, passport) = (Nationality::parse("KOR").unwrap(), PassportNumber::parse("M12345678").unwrap());
        assert_eq!(
            IdentityKey::foreigner(&nationality, &passport).identity(&provinces()),
            Some(KeyedIdentity::Foreigner(nationality, passport))
        );
        assert_eq!(IdentityKey::from_stored("ORG:123".into()).identity(&provinces()), None);
    }

    #[test]
    fn builtin_table_has_the_63_provinces() {
        let table = provinces();
        assert_eq!(table.codes().count(), 63);
        assert_eq!(table.name("001"), Some("Hà Nội"));
        assert!(!table.contains("003"));
    }

    #[test]
    fn extra_province_codes_extend_the_table() {
        let table = provinces().with_extra([("003", "Test"), ("xx", "ignored")]);
        assert!(table.contains("003"));
        assert!(!table.contains("xx"));
    }

    #[test]
    fn id_number_needs_twelve_digits() {
        for bad in ["", "00109000001", "0010900000012", "00109000000a", "001 09000001"] {
            assert_eq!(IdentificationNumber::parse(bad, &provinces()), Err(IdentityError::IdNumberFormat), "{bad}");
        }
    }

    #[test]
    fn id_number_needs_a_known_province() {
        assert_eq!(
            IdentificationNumber::parse("003090000001", &provinces()),
            Err(IdentityError::UnknownProvince("003".into()))
        );
    }

    #[test]
    fn century_gender_digit_follows_the_circular() {
        assert_eq!(IdentificationNumber::century_gender_digit(1990, Gender::Male), Ok(0));
        assert_eq!(IdentificationNumber::century_gender_digit(1990, Gender::Female), Ok(1));
        assert_eq!(IdentificationNumber::century_gender_digit(2005, Gender::Male), Ok(2));
        assert_eq!(IdentificationNumber::century_gender_digit(2005, Gender::Female), Ok(3));
        assert_eq!(IdentificationNumber::century_gender_digit(2399, Gender::Female), Ok(9));
        assert_eq!(
            IdentificationNumber::century_gender_digit(1899, Gender::Male),
            Err(IdentityError::BirthYearOutOfRange)
        );
    }

    #[test]
    fn birth_digits_must_agree_with_date_and_gender() {
        let id = IdentificationNumber::parse("001190123456", &provinces()).unwrap();
        assert_eq!(id.check_birth(date(1990, 5, 1), Gender::Female), Ok(()));
        assert_eq!(id.check_birth(date(1990, 5, 1), Gender::Male), Err(IdentityError::CenturyGenderMismatch));
        assert_eq!(id.check_birth(date(1991, 5, 1), Gender::Female), Err(IdentityError::BirthYearMismatch));
        assert_eq!(id.check_birth(date(2090, 5, 1), Gender::Female), Err(IdentityError::CenturyGenderMismatch));
    }

    #[test]
    fn gender_accepts_vietnamese_words() {
        assert_eq!(Gender::parse("Nữ"), Ok(Gender::Female));
        assert_eq!(Gender::parse("NAM"), Ok(Gender::Male));
        assert_eq!(Gender::parse("x"), Err(IdentityError::Gender));
    }

    #[test]
    fn debug_output_hides_personal_numbers() {
        let id = IdentificationNumber::parse("001190123456", &provinces()).unwrap();
        assert!(!format!("{id:?}").contains("123456"));
        let key = IdentityKey::citizen(&id);
        assert!(!format!("{key:?}").contains("190123456"));
    }

    #[test]
    fn passport_and_nationality_are_normalised() {
        assert_eq!(PassportNumber::parse(" m 1234567 ").unwrap().as_str(), "M1234567");
        assert!(PassportNumber::parse("ab").is_err());
        assert_eq!(Nationality::parse("kor").unwrap().as_str(), "KOR");
        assert!(Nationality::parse("KR").is_err());
        let key =
            IdentityKey::foreigner(&Nationality::parse("KOR").unwrap(), &PassportNumber::parse("M1234567").unwrap());
        assert_eq!(key.as_str(), "PP:KOR:M1234567");
    }
}
