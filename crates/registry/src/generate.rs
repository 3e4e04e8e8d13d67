//! Synthetic registries for demos, tests and benchmarks: realistic rows that pass the import's validation,
//! deterministic for a seed (the same seed, kind, count and format give the same bytes), written as a stream
//! so ten million rows need no more memory than one.
//!
//! Citizens get Vietnamese names with diacritics, a date of birth between 1930 and 2010 and an identification
//! number whose province, century/gender and birth-year digits agree with them. Uniqueness is structural: the
//! six "random" digits of a number are the per-prefix sequence number (province, century/gender digit, birth
//! year) passed through a bijection of `0..1_000_000`, so two rows can never share a number. Foreigners get a
//! nationality from twenty common ones, a name in that country's style and a passport number (a letter and
//! 7 or 8 digits) that is a bijection of the row index, hence unique too.
//!
//! About 0.5% of citizens have a revoked or retained card and 0.2% of all people are deceased; some passports
//! and stays have expired (dates are fixed, not read from the clock, so output never changes with the day).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use dinhdanh_domain::ProvinceTable;
use dinhdanh_domain::registry::RegistryKind;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::import::Format;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub kind: RegistryKind,
    pub count: u64,
    pub seed: u64,
    pub format: Format,
}

impl GenerateOptions {
    pub fn new(kind: RegistryKind, count: u64, seed: u64, format: Format) -> Self {
        Self { kind, count, seed, format }
    }
}

/// The most rows one file can hold while staying unique: 10^8 passport numbers; citizens have far more room
/// (10^6 numbers per province, gender and birth year), capped at the same figure for simplicity.
pub const MAX_ROWS: u64 = 100_000_000;

/// Writes `options.count` rows (with a header row for CSV) to `writer`. The writer is buffered here.
pub fn generate(writer: impl Write, options: &GenerateOptions) -> io::Result<()> {
    if options.count > MAX_ROWS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("at most {MAX_ROWS} rows can be generated with unique identifiers"),
        ));
    }
    let mut out = Output::new(BufWriter::with_capacity(1 << 20, writer), options.format);
    match options.kind {
        RegistryKind::Population => {
            out.header(&crate::import::POPULATION_COLUMNS)?;
            let mut generator = CitizenGenerator::new(options.seed);
            for _ in 0..options.count {
                let row = generator.next_row();
                out.citizen(&row)?;
            }
        }
        RegistryKind::Immigration => {
            out.header(&crate::import::IMMIGRATION_COLUMNS)?;
            let mut generator = ForeignerGenerator::new(options.seed);
            for _ in 0..options.count {
                let row = generator.next_row();
                out.foreigner(&row)?;
            }
        }
    }
    out.finish()
}

/// Creates (or truncates) `path` and writes the rows to it in `options.format`.
pub fn generate_to_path(path: &Path, options: &GenerateOptions) -> io::Result<()> {
    let file = File::create(path)?;
    generate(file, options)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Output

enum Output<W: Write> {
    Csv(Box<csv::Writer<W>>),
    JsonLines(W),
}

#[derive(Serialize)]
struct CitizenJson<'a> {
    id_number: &'a str,
    full_name: &'a str,
    date_of_birth: &'a str,
    gender: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    place_of_origin: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    permanent_residence: Option<&'a str>,
    card_status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    died_on: Option<&'a str>,
}

#[derive(Serialize)]
struct ForeignerJson<'a> {
    passport_number: &'a str,
    nationality: &'a str,
    full_name: &'a str,
    date_of_birth: &'a str,
    gender: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    passport_expires_on: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stay_expires_on: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    died_on: Option<&'a str>,
}

fn io_from_csv(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

impl<W: Write> Output<W> {
    fn new(writer: W, format: Format) -> Self {
        match format {
            Format::Csv => Self::Csv(Box::new(csv::WriterBuilder::new().has_headers(false).from_writer(writer))),
            Format::JsonLines => Self::JsonLines(writer),
        }
    }

    fn header(&mut self, columns: &[&str]) -> io::Result<()> {
        match self {
            Self::Csv(w) => w.write_record(columns).map_err(io_from_csv),
            Self::JsonLines(_) => Ok(()),
        }
    }

    fn citizen(&mut self, r: &CitizenRow) -> io::Result<()> {
        let died = r.died_on.map(DateText::new);
        match self {
            Self::Csv(w) => w
                .write_record([
                    r.id_number.as_str(),
                    r.full_name.as_str(),
                    r.date_of_birth.as_str(),
                    r.gender,
                    r.place_of_origin.unwrap_or(""),
                    r.permanent_residence.unwrap_or(""),
                    r.card_status,
                    died.as_ref().map_or("", DateText::as_str),
                ])
                .map_err(io_from_csv),
            Self::JsonLines(w) => {
                let row = CitizenJson {
                    id_number: &r.id_number,
                    full_name: &r.full_name,
                    date_of_birth: r.date_of_birth.as_str(),
                    gender: r.gender,
                    place_of_origin: r.place_of_origin,
                    permanent_residence: r.permanent_residence,
                    card_status: r.card_status,
                    died_on: died.as_ref().map(DateText::as_str),
                };
                serde_json::to_writer(&mut *w, &row)?;
                w.write_all(b"\n")
            }
        }
    }

    fn foreigner(&mut self, r: &ForeignerRow) -> io::Result<()> {
        let passport_expires = r.passport_expires_on.map(DateText::new);
        let stay_expires = r.stay_expires_on.map(DateText::new);
        let died = r.died_on.map(DateText::new);
        match self {
            Self::Csv(w) => w
                .write_record([
                    r.passport_number.as_str(),
                    r.nationality,
                    r.full_name.as_str(),
                    r.date_of_birth.as_str(),
                    r.gender,
                    passport_expires.as_ref().map_or("", DateText::as_str),
                    stay_expires.as_ref().map_or("", DateText::as_str),
                    died.as_ref().map_or("", DateText::as_str),
                ])
                .map_err(io_from_csv),
            Self::JsonLines(w) => {
                let row = ForeignerJson {
                    passport_number: &r.passport_number,
                    nationality: r.nationality,
                    full_name: &r.full_name,
                    date_of_birth: r.date_of_birth.as_str(),
                    gender: r.gender,
                    passport_expires_on: passport_expires.as_ref().map(DateText::as_str),
                    stay_expires_on: stay_expires.as_ref().map(DateText::as_str),
                    died_on: died.as_ref().map(DateText::as_str),
                };
                serde_json::to_writer(&mut *w, &row)?;
                w.write_all(b"\n")
            }
        }
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Self::Csv(w) => {
                let mut inner = w.into_inner().map_err(|e| io::Error::other(e.to_string()))?;
                inner.flush()
            }
            Self::JsonLines(mut w) => w.flush(),
        }
    }
}

/// A date as `YYYY-MM-DD` without going through chrono's formatter (this runs tens of millions of times).
struct DateText([u8; 10]);

impl DateText {
    fn new(d: NaiveDate) -> Self {
        let mut b = *b"0000-00-00";
        let (y, m, day) = (d.year() as u32, d.month(), d.day());
        b[0] = b'0' + (y / 1000 % 10) as u8;
        b[1] = b'0' + (y / 100 % 10) as u8;
        b[2] = b'0' + (y / 10 % 10) as u8;
        b[3] = b'0' + (y % 10) as u8;
        b[5] = b'0' + (m / 10) as u8;
        b[6] = b'0' + (m % 10) as u8;
        b[8] = b'0' + (day / 10) as u8;
        b[9] = b'0' + (day % 10) as u8;
        Self(b)
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII digits")
    }
}

// ---------------------------------------------------------------------------------------------------------
// Shared helpers

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid constant date")
}

/// A uniformly drawn day in `from..=to`.
fn random_day(rng: &mut StdRng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let span = (to - from).num_days();
    from + chrono::Duration::days(rng.gen_range(0..=span))
}

/// Picks from a table with integer weights (cumulative sums precomputed).
struct Weighted<T: 'static> {
    items: Vec<T>,
    cumulative: Vec<u32>,
}

impl<T: Copy> Weighted<T> {
    fn new(pairs: impl IntoIterator<Item = (T, u32)>) -> Self {
        let mut items = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0;
        for (item, weight) in pairs {
            total += weight;
            items.push(item);
            cumulative.push(total);
        }
        Self { items, cumulative }
    }

    fn pick(&self, rng: &mut StdRng) -> T {
        let total = *self.cumulative.last().expect("non-empty table");
        let x = rng.gen_range(0..total);
        let i = self.cumulative.partition_point(|&c| c <= x);
        self.items[i]
    }
}

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.gen_range(0..items.len())]
}

/// A mixing function, to derive per-prefix offsets from the seed.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

// ---------------------------------------------------------------------------------------------------------
// Citizens

const FAMILY_NAMES: &[(&str, u32)] = &[
    ("Nguyễn", 380),
    ("Trần", 110),
    ("Lê", 95),
    ("Phạm", 70),
    ("Hoàng", 51),
    ("Huỳnh", 30),
    ("Phan", 45),
    ("Vũ", 39),
    ("Võ", 30),
    ("Đặng", 21),
    ("Bùi", 20),
    ("Đỗ", 14),
    ("Hồ", 13),
    ("Ngô", 13),
    ("Dương", 10),
    ("Lý", 5),
    ("Đinh", 6),
    ("Trương", 6),
    ("Lâm", 4),
    ("Mai", 4),
    ("Cao", 3),
    ("Trịnh", 4),
    ("Đoàn", 4),
    ("Lương", 3),
    ("Hà", 3),
    ("Tô", 2),
    ("Tạ", 2),
    ("Châu", 2),
    ("Kiều", 1),
    ("Quách", 1),
];

const MIDDLE_MALE: &[&str] = &[
    "Văn", "Văn", "Văn", "Hữu", "Đức", "Minh", "Quang", "Thành", "Công", "Xuân", "Ngọc", "Thanh", "Gia", "Hoàng",
    "Anh", "Quốc", "Tuấn", "Đình", "Mạnh", "Trọng", "Bá", "Duy",
];
const MIDDLE_FEMALE: &[&str] = &[
    "Thị",
    "Thị",
    "Thị",
    "Thị Thu",
    "Thị Ngọc",
    "Thị Kim",
    "Ngọc",
    "Thu",
    "Thanh",
    "Minh",
    "Bảo",
    "Khánh",
    "Phương",
    "Hồng",
    "Mai",
    "Kim",
    "Thùy",
    "Diệu",
    "Quỳnh",
    "Hải",
];
const GIVEN_MALE: &[&str] = &[
    "Hùng", "Hưng", "Dũng", "Tuấn", "Minh", "Nam", "Long", "Hải", "Sơn", "Phong", "Quân", "Khoa", "Đạt", "Huy",
    "Thắng", "Trung", "Bình", "Cường", "Hiếu", "Phúc", "Tài", "Toàn", "Vinh", "Khang", "Bảo", "Lâm", "Thịnh", "Tùng",
    "Đông", "Nghĩa", "Quang", "Tâm", "Thành", "Lộc", "Đức", "Hoàng", "Kiên", "Việt", "An", "Duy",
];
const GIVEN_FEMALE: &[&str] = &[
    "Lan", "Hương", "Hoa", "Mai", "Linh", "Ngọc", "Trang", "Thảo", "Hà", "Nhung", "Phương", "Yến", "Hằng", "Thủy",
    "Loan", "Anh", "Vy", "Chi", "Nhi", "Trâm", "Quỳnh", "Hạnh", "Dung", "Giang", "Uyên", "My", "Hiền", "Nga", "Thư",
    "Diệp", "Oanh", "Tuyết", "Nhàn", "Huyền", "Ly", "Ngân", "Châu", "Tâm", "Xuân", "An",
];

const CITIZEN_FIRST_YEAR: i32 = 1930;
const CITIZEN_LAST_YEAR: i32 = 2010;
const CITIZEN_YEARS: usize = (CITIZEN_LAST_YEAR - CITIZEN_FIRST_YEAR + 1) as usize;
/// A multiplier coprime with 10^6: `n -> (n * A + offset) mod 10^6` is a bijection.
const SUFFIX_MULTIPLIER: u64 = 738_217;
const SUFFIX_SPACE: u64 = 1_000_000;

struct CitizenRow {
    id_number: String,
    full_name: String,
    date_of_birth: DateText,
    gender: &'static str,
    place_of_origin: Option<&'static str>,
    permanent_residence: Option<&'static str>,
    card_status: &'static str,
    died_on: Option<NaiveDate>,
}

struct CitizenGenerator {
    rng: StdRng,
    seed: u64,
    /// (code, name) of each province, and how populous it is.
    provinces: Vec<(&'static str, &'static str)>,
    province_pick: Weighted<usize>,
    family: Weighted<&'static str>,
    /// Rows issued so far per (province, gender, birth year) prefix.
    issued: Vec<u32>,
}

/// The built-in province table, leaked once so rows can borrow its names for the whole program.
fn builtin_provinces() -> &'static [(&'static str, &'static str)] {
    static TABLE: std::sync::OnceLock<Vec<(&'static str, &'static str)>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let table = ProvinceTable::builtin();
        table
            .codes()
            .map(|code| {
                let name = table.name(code).unwrap_or(code).to_owned();
                (&*Box::leak(code.to_owned().into_boxed_str()), &*Box::leak(name.into_boxed_str()))
            })
            .collect()
    })
}

impl CitizenGenerator {
    fn new(seed: u64) -> Self {
        let provinces = builtin_provinces().to_vec();
        // Hà Nội and Hồ Chí Minh City hold far more people than an average province.
        let province_pick = Weighted::new(provinces.iter().enumerate().map(|(i, (code, _))| {
            let weight = match *code {
                "001" => 80,
                "079" => 90,
                "031" | "048" | "092" | "038" | "040" | "075" => 20,
                _ => 10,
            };
            (i, weight)
        }));
        let issued = vec![0; provinces.len() * 2 * CITIZEN_YEARS];
        Self {
            rng: StdRng::seed_from_u64(seed),
            seed,
            provinces,
            province_pick,
            family: Weighted::new(FAMILY_NAMES.iter().copied()),
            issued,
        }
    }

    fn next_row(&mut self) -> CitizenRow {
        let rng = &mut self.rng;
        let (province, female, dob, prefix, sequence) = loop {
            let province = self.province_pick.pick(rng);
            let female = rng.gen_bool(0.5);
            let dob = random_day(rng, date(CITIZEN_FIRST_YEAR, 1, 1), date(CITIZEN_LAST_YEAR, 12, 31));
            let prefix =
                (province * 2 + usize::from(female)) * CITIZEN_YEARS + (dob.year() - CITIZEN_FIRST_YEAR) as usize;
            let sequence = u64::from(self.issued[prefix]);
            if sequence < SUFFIX_SPACE {
                self.issued[prefix] += 1;
                break (province, female, dob, prefix, sequence);
            }
        };
        let offset = mix(self.seed ^ (prefix as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)) % SUFFIX_SPACE;
        let suffix = (sequence * SUFFIX_MULTIPLIER + offset) % SUFFIX_SPACE;
        let year = dob.year();
        let century_gender = (year / 100 - 19) * 2 + i32::from(female);
        let id_number = format!("{}{}{:02}{:06}", self.provinces[province].0, century_gender, year % 100, suffix);

        let mut full_name = String::with_capacity(32);
        full_name.push_str(self.family.pick(rng));
        full_name.push(' ');
        full_name.push_str(pick(rng, if female { MIDDLE_FEMALE } else { MIDDLE_MALE }));
        full_name.push(' ');
        full_name.push_str(pick(rng, if female { GIVEN_FEMALE } else { GIVEN_MALE }));

        let origin_roll: f64 = rng.r#gen();
        let place_of_origin = if origin_roll < 0.04 {
            None
        } else if origin_roll < 0.74 {
            Some(self.provinces[province].1)
        } else {
            Some(self.provinces[rng.gen_range(0..self.provinces.len())].1)
        };
        let residence_roll: f64 = rng.r#gen();
        let permanent_residence = if residence_roll < 0.03 {
            None
        } else if residence_roll < 0.6 {
            place_of_origin.or(Some(self.provinces[province].1))
        } else {
            Some(self.provinces[self.province_pick.pick(rng)].1)
        };
        let status_roll: f64 = rng.r#gen();
        let card_status = if status_roll < 0.003 {
            "revoked"
        } else if status_roll < 0.005 {
            "retained"
        } else {
            "valid"
        };
        let died_on = if rng.gen_bool(0.002) {
            let from = (dob + chrono::Duration::days(1)).max(date(1960, 1, 1));
            Some(random_day(rng, from.min(date(2025, 12, 31)), date(2025, 12, 31)))
        } else {
            None
        };
        CitizenRow {
            id_number,
            full_name,
            date_of_birth: DateText::new(dob),
            gender: if female { "female" } else { "male" },
            place_of_origin,
            permanent_residence,
            card_status,
            died_on,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Foreigners

#[derive(Clone, Copy)]
struct Culture {
    family: &'static [&'static str],
    male: &'static [&'static str],
    female: &'static [&'static str],
    /// Family name first (East Asian order), else given name first.
    family_first: bool,
}

const KOREAN: Culture = Culture {
    family: &["Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim", "Han", "Shin"],
    male: &["Min-jun", "Ji-hoon", "Hyun-woo", "Do-yun", "Jae-won", "Seung-ho", "Dong-hyun", "Sung-min"],
    female: &["Seo-yeon", "Ji-woo", "Soo-ah", "Ha-eun", "Yu-na", "Min-ji", "Eun-ji", "Hye-jin"],
    family_first: true,
};
const CHINESE: Culture = Culture {
    family: &["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Lin"],
    male: &["Wei", "Jun", "Hao", "Lei", "Qiang", "Ming", "Jian", "Tao", "Yong", "Bo", "Zhiwei", "Jiahao"],
    female: &["Fang", "Na", "Min", "Jing", "Li", "Xiu Ying", "Yan", "Mei", "Ting", "Xin", "Yuxin", "Hui"],
    family_first: true,
};
const TAIWANESE: Culture = Culture {
    family: &["Chen", "Lin", "Huang", "Chang", "Lee", "Wang", "Wu", "Liu", "Tsai", "Yang"],
    male: &["Chia-hao", "Chih-ming", "Chun-hung", "Wei-ting", "Yu-cheng", "Kuan-yu"],
    female: &["Shu-fen", "Mei-ling", "Ya-ting", "Hsin-yi", "Pei-shan", "Yi-chun"],
    family_first: true,
};
const JAPANESE: Culture = Culture {
    family: &["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi"],
    male: &["Haruto", "Yuto", "Sota", "Takumi", "Hiroshi", "Kenji", "Daiki", "Ren", "Takeshi"],
    female: &["Yui", "Aoi", "Sakura", "Yuki", "Hina", "Mei", "Aiko", "Naomi", "Emi"],
    family_first: true,
};
const ENGLISH: Culture = Culture {
    family: &["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor", "Clark"],
    male: &["James", "John", "Robert", "Michael", "David", "William", "Thomas", "Daniel", "Matthew", "Andrew"],
    female: &["Mary", "Jennifer", "Linda", "Sarah", "Emily", "Jessica", "Emma", "Olivia", "Charlotte", "Grace"],
    family_first: false,
};
const FRENCH: Culture = Culture {
    family: &["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Lefèvre", "Moreau"],
    male: &["Jean", "Pierre", "Louis", "Lucas", "Hugo", "Théo", "Nicolas", "François", "Julien", "Mathis"],
    female: &["Marie", "Camille", "Léa", "Chloé", "Manon", "Inès", "Sophie", "Élise", "Amélie", "Céline"],
    family_first: false,
};
const GERMAN: Culture = Culture {
    family: &["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schäfer", "Koch"],
    male: &["Lukas", "Jonas", "Felix", "Maximilian", "Paul", "Leon", "Jürgen", "Stefan", "Tobias", "Matthias"],
    female: &["Anna", "Lena", "Laura", "Julia", "Sophie", "Hannah", "Jana", "Katrin", "Sabine", "Ursula"],
    family_first: false,
};
const ITALIAN: Culture = Culture {
    family: &["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco"],
    male: &["Marco", "Giuseppe", "Alessandro", "Luca", "Matteo", "Francesco", "Lorenzo", "Andrea", "Niccolò"],
    female: &["Giulia", "Sofia", "Chiara", "Francesca", "Alessia", "Martina", "Federica", "Elena", "Beatrice"],
    family_first: false,
};
const RUSSIAN: Culture = Culture {
    family: &["Ivanov", "Smirnov", "Kuznetsov", "Popov", "Vasiliev", "Petrov", "Sokolov", "Mikhailov", "Fedorov"],
    male: &["Alexander", "Dmitry", "Maxim", "Sergey", "Andrey", "Alexey", "Ivan", "Nikolai", "Mikhail"],
    female: &["Anastasia", "Maria", "Daria", "Anna", "Elena", "Olga", "Natalia", "Tatiana", "Ekaterina"],
    family_first: false,
};
const THAI: Culture = Culture {
    family: &["Saetang", "Srisuk", "Wongsawat", "Chaiyaporn", "Rattanakul", "Suksawat", "Boonmee", "Thongchai"],
    male: &["Somchai", "Somsak", "Prasert", "Anan", "Kittisak", "Nattapong", "Thanawat", "Wichai"],
    female: &["Siriporn", "Malee", "Nattaya", "Pimchanok", "Kanya", "Ploy", "Sukanya", "Wanida"],
    family_first: false,
};
const LAO: Culture = Culture {
    family: &["Phommachanh", "Keomany", "Sisouphanh", "Vongsa", "Inthavong", "Phanthavong", "Sayavong"],
    male: &["Khamphone", "Souksavanh", "Bounmy", "Phonesavanh", "Vilay", "Somphone", "Thongsavath"],
    female: &["Manivanh", "Souksakhone", "Vanida", "Chanthavy", "Keo", "Malaythong", "Phetsamone"],
    family_first: false,
};
const KHMER: Culture = Culture {
    family: &["Sok", "Chan", "Kim", "Heng", "Chea", "Ly", "Meas", "Nget", "Pich", "Sao"],
    male: &["Dara", "Sokha", "Vannak", "Rithy", "Sophal", "Visal", "Piseth", "Bunthoeun"],
    female: &["Sreymom", "Chanthou", "Bopha", "Sokunthea", "Malis", "Sophea", "Raksmey", "Kanha"],
    family_first: true,
};
const INDIAN: Culture = Culture {
    family: &["Sharma", "Patel", "Singh", "Kumar", "Gupta", "Reddy", "Iyer", "Nair", "Das", "Mehta"],
    male: &["Aarav", "Rahul", "Vikram", "Arjun", "Rohan", "Amit", "Sanjay", "Karthik", "Aditya"],
    female: &["Priya", "Ananya", "Deepika", "Kavya", "Neha", "Pooja", "Lakshmi", "Divya", "Meera"],
    family_first: false,
};
const MALAY: Culture = Culture {
    family: &["bin Abdullah", "bin Ismail", "bin Hassan", "bin Ahmad", "bin Osman", "bin Yusof"],
    male: &["Muhammad Hafiz", "Ahmad Faiz", "Amir", "Hakim", "Syafiq", "Azlan", "Farid"],
    female: &["Nur Aisyah", "Siti Nurhaliza", "Nurul Huda", "Farah", "Aminah", "Zarina", "Liyana"],
    family_first: false,
};
const FILIPINO: Culture = Culture {
    family: &["Santos", "Reyes", "Cruz", "Bautista", "Garcia", "Mendoza", "Ramos", "Aquino", "Dela Cruz"],
    male: &["Jose", "Mark Anthony", "John Paul", "Juan", "Carlo", "Rafael", "Miguel", "Angelo"],
    female: &["Maria Clara", "Kristine", "Angelica", "Joy", "Camille", "Andrea", "Patricia", "Rowena"],
    family_first: false,
};
const INDONESIAN: Culture = Culture {
    family: &["Santoso", "Wijaya", "Susanto", "Hidayat", "Saputra", "Kurniawan", "Setiawan", "Pratama"],
    male: &["Budi", "Agus", "Andi", "Dedi", "Rizky", "Eko", "Fajar", "Hendra"],
    female: &["Siti", "Dewi", "Sri", "Putri", "Ayu", "Indah", "Rina", "Wulan"],
    family_first: false,
};

struct Country {
    code: &'static str,
    weight: u32,
    culture: Culture,
    letter: u8,
    /// Digits after the letter when the number allows (7 or 8).
    digits: u8,
}

const COUNTRIES: &[Country] = &[
    Country { code: "CHN", weight: 220, culture: CHINESE, letter: b'E', digits: 8 },
    Country { code: "KOR", weight: 200, culture: KOREAN, letter: b'M', digits: 8 },
    Country { code: "TWN", weight: 70, culture: TAIWANESE, letter: b'T', digits: 8 },
    Country { code: "JPN", weight: 80, culture: JAPANESE, letter: b'T', digits: 7 },
    Country { code: "USA", weight: 60, culture: ENGLISH, letter: b'A', digits: 8 },
    Country { code: "FRA", weight: 25, culture: FRENCH, letter: b'F', digits: 8 },
    Country { code: "DEU", weight: 25, culture: GERMAN, letter: b'C', digits: 8 },
    Country { code: "GBR", weight: 25, culture: ENGLISH, letter: b'G', digits: 8 },
    Country { code: "AUS", weight: 30, culture: ENGLISH, letter: b'P', digits: 7 },
    Country { code: "THA", weight: 35, culture: THAI, letter: b'A', digits: 7 },
    Country { code: "SGP", weight: 20, culture: CHINESE, letter: b'K', digits: 7 },
    Country { code: "LAO", weight: 30, culture: LAO, letter: b'P', digits: 7 },
    Country { code: "KHM", weight: 30, culture: KHMER, letter: b'N', digits: 8 },
    Country { code: "RUS", weight: 30, culture: RUSSIAN, letter: b'R', digits: 8 },
    Country { code: "IND", weight: 25, culture: INDIAN, letter: b'Z', digits: 7 },
    Country { code: "MYS", weight: 20, culture: MALAY, letter: b'A', digits: 8 },
    Country { code: "PHL", weight: 25, culture: FILIPINO, letter: b'P', digits: 7 },
    Country { code: "IDN", weight: 15, culture: INDONESIAN, letter: b'B', digits: 7 },
    Country { code: "CAN", weight: 15, culture: ENGLISH, letter: b'H', digits: 7 },
    Country { code: "ITA", weight: 15, culture: ITALIAN, letter: b'Y', digits: 7 },
];

/// A multiplier coprime with 10^8: `i -> (i * A + offset) mod 10^8` is a bijection.
const PASSPORT_MULTIPLIER: u64 = 48_271_093;
const PASSPORT_SPACE: u64 = 100_000_000;

struct ForeignerRow {
    passport_number: String,
    nationality: &'static str,
    full_name: String,
    date_of_birth: DateText,
    gender: &'static str,
    passport_expires_on: Option<NaiveDate>,
    stay_expires_on: Option<NaiveDate>,
    died_on: Option<NaiveDate>,
}

struct ForeignerGenerator {
    rng: StdRng,
    offset: u64,
    index: u64,
    country: Weighted<usize>,
}

impl ForeignerGenerator {
    fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            offset: mix(seed) % PASSPORT_SPACE,
            index: 0,
            country: Weighted::new(COUNTRIES.iter().enumerate().map(|(i, c)| (i, c.weight))),
        }
    }

    fn next_row(&mut self) -> ForeignerRow {
        let rng = &mut self.rng;
        let country = &COUNTRIES[self.country.pick(rng)];
        let number = (self.index * PASSPORT_MULTIPLIER + self.offset) % PASSPORT_SPACE;
        self.index += 1;
        // A 7-digit number and an 8-digit one never spell the same text, so the bijection keeps them unique.
        let passport_number = if country.digits == 7 && number < 10_000_000 {
            format!("{}{number:07}", country.letter as char)
        } else {
            format!("{}{number:08}", country.letter as char)
        };
        let female = rng.gen_bool(0.5);
        let culture = country.culture;
        let family = pick(rng, culture.family);
        let given = pick(rng, if female { culture.female } else { culture.male });
        let full_name = if culture.family_first { format!("{family} {given}") } else { format!("{given} {family}") };
        let dob = random_day(rng, date(1940, 1, 1), date(2008, 12, 31));

        let roll: f64 = rng.r#gen();
        let passport_expires_on = if roll < 0.01 {
            None
        } else if roll < 0.05 {
            Some(random_day(rng, date(2020, 1, 1), date(2025, 12, 31)))
        } else {
            Some(random_day(rng, date(2027, 1, 1), date(2036, 12, 31)))
        };
        let roll: f64 = rng.r#gen();
        let stay_expires_on = if roll < 0.12 {
            None
        } else if roll < 0.17 {
            Some(random_day(rng, date(2023, 1, 1), date(2025, 12, 31)))
        } else {
            let stay = random_day(rng, date(2027, 1, 1), date(2029, 12, 31));
            Some(match passport_expires_on {
                Some(p) if p > date(2027, 1, 1) => stay.min(p),
                _ => stay,
            })
        };
        let died_on = if rng.gen_bool(0.002) {
            let from = (dob + chrono::Duration::days(1)).max(date(2000, 1, 1));
            Some(random_day(rng, from, date(2025, 12, 31)))
        } else {
            None
        };
        ForeignerRow {
            passport_number,
            nationality: country.code,
            full_name,
            date_of_birth: DateText::new(dob),
            gender: if female { "female" } else { "male" },
            passport_expires_on,
            stay_expires_on,
            died_on,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_text_matches_chrono() {
        for d in [date(1930, 1, 1), date(2010, 12, 31), date(1999, 2, 28), date(2000, 2, 29)] {
            assert_eq!(DateText::new(d).as_str(), d.format("%Y-%m-%d").to_string());
        }
    }

    #[test]
    fn multipliers_are_bijections() {
        // Coprime with 10: neither even nor a multiple of 5.
        for m in [SUFFIX_MULTIPLIER, PASSPORT_MULTIPLIER] {
            assert!(m % 2 == 1 && m % 5 != 0);
        }
        let mut seen = vec![false; SUFFIX_SPACE as usize];
        for n in 0..SUFFIX_SPACE {
            let s = ((n * SUFFIX_MULTIPLIER + 12_345) % SUFFIX_SPACE) as usize;
            assert!(!seen[s]);
            seen[s] = true;
        }
    }

    #[test]
    fn names_carry_no_digits_or_controls() {
        let mut generator = ForeignerGenerator::new(1);
        for _ in 0..1000 {
            let row = generator.next_row();
            assert!(!row.full_name.chars().any(|c| c.is_ascii_digit() || c.is_control()));
        }
    }
}
