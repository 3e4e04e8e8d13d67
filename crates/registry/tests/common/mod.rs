//! Helpers shared by the registry test files.
#![allow(dead_code)]

use std::path::PathBuf;

use dinhdanh_domain::registry::RegistryKind;
use dinhdanh_domain::{IdentificationNumber, Nationality, PassportNumber, ProvinceTable};
use dinhdanh_registry::import::{ImportOptions, ImportReport, RejectedRow, import_file};
use dinhdanh_store::Store;

/// A file in a temporary directory that lives as long as the value.
pub struct TempFile {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

pub fn file(name: &str, contents: impl AsRef<[u8]>) -> TempFile {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, contents).unwrap();
    TempFile { _dir: dir, path }
}

pub async fn import(store: &Store, file: &TempFile, kind: RegistryKind) -> ImportReport {
    import_file(store, &file.path, &ImportOptions::new(kind)).await.expect("import runs")
}

pub fn id(s: &str) -> IdentificationNumber {
    IdentificationNumber::parse(s, &ProvinceTable::builtin()).unwrap()
}

pub fn passport(s: &str) -> PassportNumber {
    PassportNumber::parse(s).unwrap()
}

pub fn nationality(s: &str) -> Nationality {
    Nationality::parse(s).unwrap()
}

pub fn rejected(line: u64, reason: impl ToString) -> RejectedRow {
    RejectedRow { line, reason: reason.to_string() }
}
