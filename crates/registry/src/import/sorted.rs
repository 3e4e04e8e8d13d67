//! Whole-file key order for large imports: an external merge sort of the validated records.
//!
//! The reader hands every valid record to a [`Sorter`], which encodes it compactly into an in-memory run; a
//! full run (its memory budget reached) is sorted by key and written to an anonymous temporary file. Once the
//! file is read, [`Sorter::merge`] yields every record in key order, merging the runs on disk with the last
//! one, kept in memory. Equal keys meet in file order (each run is sorted stably and the merge prefers the
//! earlier run), and only the last row for an identity comes out: the one that would win if every row were
//! written in turn. The earlier ones are counted, as unchanged.
//!
//! Written in key order, batches visit the primary-key index from one end to the other instead of all over it,
//! so however large the registry, each batch touches only a few contiguous index pages. It does not validate
//! anything itself: it holds records the parser has already validated, and rebuilds them from their
//! canonical stored forms.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use chrono::{Datelike, NaiveDate};
use dinhdanh_domain::registry::{CardStatus, CitizenRecord, ForeignerRecord, RegistryKind};
use dinhdanh_domain::{FullName, Gender, IdentificationNumber, Nationality, PassportNumber};

use super::{ImportError, Record};

/// Bytes of buffer per run while merging.
const MERGE_BUFFER: usize = 128 * 1024;

/// Collects records into sorted runs and merges them.
pub(super) struct Sorter {
    kind: RegistryKind,
    /// Bytes of encoded records (plus their index) held in memory before a run is written out.
    budget: usize,
    /// Where run files go (`None`: the system's temporary directory).
    dir: Option<PathBuf>,
    run: Run,
    files: Vec<File>,
    /// Records taken, in all runs.
    len: u64,
}

/// Encoded records, one after the other, and where each starts and ends.
#[derive(Default)]
struct Run {
    bytes: Vec<u8>,
    entries: Vec<(u32, u32)>,
}

impl Run {
    fn key(&self, (start, _): (u32, u32)) -> &[u8] {
        key_of(&self.bytes[start as usize..])
    }

    fn record(&self, (start, end): (u32, u32)) -> &[u8] {
        &self.bytes[start as usize..end as usize]
    }

    fn size(&self) -> usize {
        self.bytes.len() + self.entries.len() * size_of::<(u32, u32)>()
    }

    /// Orders the entries by key, stably: equal keys keep the file's order.
    fn sort(&mut self) {
        let mut entries = std::mem::take(&mut self.entries);
        entries.sort_by(|a, b| self.key(*a).cmp(self.key(*b)));
        self.entries = entries;
    }
}

impl Sorter {
    pub(super) fn new(kind: RegistryKind, budget: usize, dir: Option<PathBuf>) -> Self {
        // A run's offsets are u32: keep each run well under 4 GiB whatever the budget asked for.
        let budget = budget.clamp(1, 1 << 31);
        Self { kind, budget, dir, run: Run::default(), files: Vec::new(), len: 0 }
    }

    /// Records taken so far.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    pub(super) fn push(&mut self, record: &Record) -> Result<(), ImportError> {
        let start = self.run.bytes.len() as u32;
        encode(record, &mut self.run.bytes);
        self.run.entries.push((start, self.run.bytes.len() as u32));
        self.len += 1;
        if self.run.size() >= self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Sorts the run in memory and writes it to a temporary file.
    fn spill(&mut self) -> Result<(), ImportError> {
        self.run.sort();
        let file = match &self.dir {
            Some(dir) => tempfile::tempfile_in(dir)?,
            None => tempfile::tempfile()?,
        };
        let mut out = BufWriter::with_capacity(MERGE_BUFFER, file);
        for &entry in &self.run.entries {
            let record = self.run.record(entry);
            out.write_all(&(record.len() as u32).to_le_bytes())?;
            out.write_all(record)?;
        }
        let mut file = out.into_inner().map_err(|e| e.into_error())?;
        std::io::Seek::rewind(&mut file)?;
        self.files.push(file);
        self.run.bytes.clear();
        self.run.entries.clear();
        Ok(())
    }

    /// Every record taken, in key order (equal keys in the order they were taken).
    pub(super) fn merge(mut self) -> Result<Merge, ImportError> {
        self.run.sort();
        // The memory run holds the file's last rows: it is the last source, so it loses ties to every file.
        let mut sources: Vec<Source> = self
            .files
            .into_iter()
            .map(|f| Source::File { reader: BufReader::with_capacity(MERGE_BUFFER, f), record: Vec::new() })
            .collect();
        self.run.bytes.shrink_to_fit();
        sources.push(Source::Memory { run: self.run, next: 0 });
        let mut heap = BinaryHeap::with_capacity(sources.len());
        for (i, source) in sources.iter_mut().enumerate() {
            if source.advance()? {
                heap.push(Reverse(Head { key: key_of(source.current()).to_vec(), source: i }));
            }
        }
        Ok(Merge { kind: self.kind, sources, heap, spare: Vec::new() })
    }
}

/// A source's current key and its place among the sources: the heap's order is the merge's.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Head {
    key: Vec<u8>,
    source: usize,
}

enum Source {
    File { reader: BufReader<File>, record: Vec<u8> },
    Memory { run: Run, next: usize },
}

impl Source {
    /// Moves to the next record; false at the end.
    fn advance(&mut self) -> Result<bool, ImportError> {
        match self {
            Self::File { reader, record } => {
                let mut len = [0u8; 4];
                match reader.read_exact(&mut len) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
                    Err(e) => return Err(e.into()),
                }
                record.resize(u32::from_le_bytes(len) as usize, 0);
                reader.read_exact(record)?;
                Ok(true)
            }
            Self::Memory { run, next } => {
                *next += 1;
                Ok(*next <= run.entries.len())
            }
        }
    }

    /// The record [`Source::advance`] moved to.
    fn current(&self) -> &[u8] {
        match self {
            Self::File { record, .. } => record,
            Self::Memory { run, next } => run.record(run.entries[*next - 1]),
        }
    }
}

/// The records of every run, in key order.
pub(super) struct Merge {
    kind: RegistryKind,
    sources: Vec<Source>,
    heap: BinaryHeap<Reverse<Head>>,
    /// The key of the record just taken.
    spare: Vec<u8>,
}

impl Merge {
    /// The next identity's last record in the file, in key order. Earlier records for the same identity are
    /// skipped (the last one wins, as it would if each were written in turn) and counted in `superseded`.
    pub(super) fn next_record(&mut self, superseded: &mut u64) -> Result<Option<Record>, ImportError> {
        loop {
            let Some(Reverse(mut head)) = self.heap.pop() else { return Ok(None) };
            let source = &mut self.sources[head.source];
            let record = decode(self.kind, source.current())?;
            // The head's key moves to `spare`; the head goes back on the heap with its source's next key.
            std::mem::swap(&mut head.key, &mut self.spare);
            if source.advance()? {
                head.key.clear();
                head.key.extend_from_slice(key_of(source.current()));
                self.heap.push(Reverse(head));
            }
            let later = self.heap.peek().is_some_and(|Reverse(next)| next.key == self.spare);
            if !later {
                return Ok(Some(record));
            }
            *superseded += 1;
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Encoding: [key length: u8][key][values]. A citizen's key is the identification number; a foreigner's is
// the nationality (always three letters) followed by the passport number, which orders like the pair. Values
// follow in the record's field order: text as [length: u16][UTF-8] (0xFFFF: absent), dates as days from the
// common era (i32; i32::MIN: absent), gender and card status as one byte.

const ABSENT_TEXT: u16 = u16::MAX;
const ABSENT_DATE: i32 = i32::MIN;

fn key_of(record: &[u8]) -> &[u8] {
    &record[1..1 + usize::from(record[0])]
}

fn encode(record: &Record, out: &mut Vec<u8>) {
    let key = |out: &mut Vec<u8>, parts: &[&str]| {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        out.push(len as u8);
        for part in parts {
            out.extend_from_slice(part.as_bytes());
        }
    };
    match record {
        Record::Citizen(r) => {
            key(out, &[r.id_number.as_str()]);
            text(out, Some(r.full_name.as_str()));
            date(out, Some(r.date_of_birth));
            out.push(gender_code(r.gender));
            text(out, r.place_of_origin.as_deref());
            text(out, r.permanent_residence.as_deref());
            out.push(CardStatus::ALL.iter().position(|s| *s == r.card_status).unwrap_or(0) as u8);
            date(out, r.died_on);
        }
        Record::Foreigner(r) => {
            key(out, &[r.nationality.as_str(), r.passport_number.as_str()]);
            text(out, Some(r.full_name.as_str()));
            date(out, Some(r.date_of_birth));
            out.push(gender_code(r.gender));
            date(out, r.passport_expires_on);
            date(out, r.stay_expires_on);
            date(out, r.died_on);
        }
    }
}

fn gender_code(gender: Gender) -> u8 {
    Gender::ALL.iter().position(|g| *g == gender).unwrap_or(0) as u8
}

/// Text the parser accepted is at most a few hundred characters, far under 0xFFFF bytes.
fn text(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(s) => {
            out.extend_from_slice(&(s.len() as u16).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        None => out.extend_from_slice(&ABSENT_TEXT.to_le_bytes()),
    }
}

fn date(out: &mut Vec<u8>, value: Option<NaiveDate>) {
    out.extend_from_slice(&value.map_or(ABSENT_DATE, |d| d.num_days_from_ce()).to_le_bytes());
}

fn corrupt() -> ImportError {
    ImportError::Internal("a temporary sort file was corrupted".into())
}

/// Reads back what [`encode`] wrote.
struct Decoder<'a>(&'a [u8]);

impl<'a> Decoder<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ImportError> {
        if self.0.len() < n {
            return Err(corrupt());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn str(&mut self, n: usize) -> Result<&'a str, ImportError> {
        std::str::from_utf8(self.take(n)?).map_err(|_| corrupt())
    }

    fn text(&mut self) -> Result<Option<&'a str>, ImportError> {
        let len = u16::from_le_bytes(self.take(2)?.try_into().map_err(|_| corrupt())?);
        if len == ABSENT_TEXT { Ok(None) } else { self.str(usize::from(len)).map(Some) }
    }

    fn owned_text(&mut self) -> Result<Option<String>, ImportError> {
        Ok(self.text()?.map(str::to_owned))
    }

    fn date(&mut self) -> Result<Option<NaiveDate>, ImportError> {
        let days = i32::from_le_bytes(self.take(4)?.try_into().map_err(|_| corrupt())?);
        if days == ABSENT_DATE {
            Ok(None)
        } else {
            NaiveDate::from_num_days_from_ce_opt(days).ok_or_else(corrupt).map(Some)
        }
    }

    fn byte(&mut self) -> Result<usize, ImportError> {
        Ok(usize::from(self.take(1)?[0]))
    }

    fn name(&mut self) -> Result<FullName, ImportError> {
        // Already trimmed and NFC: parsing again returns it as it is.
        FullName::parse(self.text()?.ok_or_else(corrupt)?).map_err(|_| corrupt())
    }

    fn gender(&mut self) -> Result<Gender, ImportError> {
        Gender::ALL.get(self.byte()?).copied().ok_or_else(corrupt)
    }
}

fn decode(kind: RegistryKind, record: &[u8]) -> Result<Record, ImportError> {
    let mut d = Decoder(record);
    let key_len = d.byte()?;
    Ok(match kind {
        RegistryKind::Population => {
            let id_number = IdentificationNumber::from_stored(d.str(key_len)?.to_owned());
            Record::Citizen(CitizenRecord {
                id_number,
                full_name: d.name()?,
                date_of_birth: d.date()?.ok_or_else(corrupt)?,
                gender: d.gender()?,
                place_of_origin: d.owned_text()?,
                permanent_residence: d.owned_text()?,
                card_status: {
                    let i = d.byte()?;
                    CardStatus::ALL.get(i).copied().ok_or_else(corrupt)?
                },
                died_on: d.date()?,
            })
        }
        RegistryKind::Immigration => {
            let key = d.str(key_len)?;
            let (nationality, passport) = key.split_at_checked(3).ok_or_else(corrupt)?;
            Record::Foreigner(ForeignerRecord {
                nationality: Nationality::parse(nationality).map_err(|_| corrupt())?,
                passport_number: PassportNumber::parse(passport).map_err(|_| corrupt())?,
                full_name: d.name()?,
                date_of_birth: d.date()?.ok_or_else(corrupt)?,
                gender: d.gender()?,
                passport_expires_on: d.date()?,
                stay_expires_on: d.date()?,
                died_on: d.date()?,
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use dinhdanh_domain::ProvinceTable;

    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn citizen(id: &str, name: &str) -> CitizenRecord {
        CitizenRecord {
            id_number: IdentificationNumber::parse(id, &ProvinceTable::builtin()).unwrap(),
            full_name: FullName::parse(name).unwrap(),
            date_of_birth: day(1990, 5, 1),
            gender: Gender::Male,
            place_of_origin: Some("Hà Nội".into()),
            permanent_residence: None,
            card_status: CardStatus::Retained,
            died_on: Some(day(2020, 1, 31)),
        }
    }

    fn foreigner(nationality: &str, passport: &str) -> ForeignerRecord {
        ForeignerRecord {
            passport_number: PassportNumber::parse(passport).unwrap(),
            nationality: Nationality::parse(nationality).unwrap(),
            full_name: FullName::parse("Kim Min-jun").unwrap(),
            date_of_birth: day(1985, 4, 2),
            gender: Gender::Female,
            passport_expires_on: None,
            stay_expires_on: Some(day(2027, 6, 30)),
            died_on: None,
        }
    }

    fn citizens(merge: &mut Merge) -> (Vec<CitizenRecord>, u64) {
        let mut out = Vec::new();
        let mut superseded = 0;
        while let Some(record) = merge.next_record(&mut superseded).unwrap() {
            let Record::Citizen(r) = record else { panic!("a citizen") };
            out.push(r);
        }
        (out, superseded)
    }

    #[test]
    fn records_come_back_as_they_went_in() {
        let c = citizen("001090000001", "Nguyễn Văn An");
        let mut bytes = Vec::new();
        encode(&Record::Citizen(c.clone()), &mut bytes);
        let Record::Citizen(back) = decode(RegistryKind::Population, &bytes).unwrap() else { panic!() };
        assert_eq!(back, c);
        let f = foreigner("KOR", "M12345678");
        bytes.clear();
        encode(&Record::Foreigner(f.clone()), &mut bytes);
        assert_eq!(key_of(&bytes), b"KORM12345678");
        let Record::Foreigner(back) = decode(RegistryKind::Immigration, &bytes).unwrap() else { panic!() };
        assert_eq!(back, f);
        assert!(decode(RegistryKind::Population, &bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn runs_on_disk_and_in_memory_merge_in_key_order_and_the_last_row_of_an_identity_wins() {
        // A budget of one byte writes every record but the last to a run file of its own.
        for budget in [1, 200, 1 << 20] {
            let mut sorter = Sorter::new(RegistryKind::Population, budget, None);
            let ids = [
                "079195000002",
                "001090000001",
                "079195000002",
                "001205000003",
                "001090000001",
                "001090000001",
                "001160000004",
            ];
            for (i, id) in ids.iter().enumerate() {
                sorter.push(&Record::Citizen(citizen(id, &format!("Tên Thứ {}", "I".repeat(i + 1))))).unwrap();
            }
            assert_eq!(sorter.len(), 7);
            let (got, superseded) = citizens(&mut sorter.merge().unwrap());
            let got: Vec<(&str, &str)> = got.iter().map(|r| (r.id_number.as_str(), r.full_name.as_str())).collect();
            let want = [
                ("001090000001", "Tên Thứ IIIIII"),
                ("001160000004", "Tên Thứ IIIIIII"),
                ("001205000003", "Tên Thứ IIII"),
                ("079195000002", "Tên Thứ III"),
            ];
            assert_eq!(got, want, "budget {budget}");
            assert_eq!(superseded, 3, "budget {budget}");
        }
    }

    #[test]
    fn foreigners_order_by_nationality_then_passport() {
        let mut sorter = Sorter::new(RegistryKind::Immigration, 1, None);
        for (n, p) in [("VNM", "B1234567"), ("KOR", "Z9999999"), ("KOR", "A0000001")] {
            sorter.push(&Record::Foreigner(foreigner(n, p))).unwrap();
        }
        let mut merge = sorter.merge().unwrap();
        let mut got = Vec::new();
        while let Some(Record::Foreigner(r)) = merge.next_record(&mut 0).unwrap() {
            got.push(format!("{}:{}", r.nationality.as_str(), r.passport_number.as_str()));
        }
        assert_eq!(got, ["KOR:A0000001", "KOR:Z9999999", "VNM:B1234567"]);
    }

    #[test]
    fn an_empty_sorter_yields_nothing() {
        let mut merge = Sorter::new(RegistryKind::Population, 1 << 20, None).merge().unwrap();
        assert!(merge.next_record(&mut 0).unwrap().is_none());
    }
}
