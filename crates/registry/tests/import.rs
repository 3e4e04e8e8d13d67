//! Importing registry files: every test runs against SQLite and against PostgreSQL.

mod common;

use chrono::NaiveDate;
use common::{file, id, import, nationality, passport, rejected};
use dinhdanh_domain::name::NameError;
use dinhdanh_domain::registry::{CardStatus, RegistryKind};
use dinhdanh_domain::{Gender, IdentityError};
use dinhdanh_registry::generate::{GenerateOptions, generate};
use dinhdanh_registry::import::{Format, ImportError, ImportOptions, import_file};
use dinhdanh_registry::{Registry, StoreRegistry};
use dinhdanh_store::on_both_backends;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

const CITIZENS_CSV: &str = "\
id_number,full_name,date_of_birth,gender,place_of_origin,permanent_residence,card_status,died_on
001090000001,Nguyễn Văn An,1990-05-01,male,Hà Nội,Hồ Chí Minh,valid,
079195000002,Trần Thị Bình,1995-12-31,nữ,,,,
001205000003,Lê Hoàng Cường,2005-01-15,M,Hà Nội,Hà Nội,revoked,
001160000004,Phạm Thị Dung,1960-03-03,female,,,retained,2020-07-01
";

const FOREIGNERS_JSONL: &str = r#"{"passport_number":"M12345678","nationality":"KOR","full_name":"Kim Min-jun","date_of_birth":"1985-04-02","gender":"male","passport_expires_on":"2030-01-01","stay_expires_on":"2027-06-30"}
{"passport_number":"e 1234567","nationality":"chn","full_name":"Wang Fang","date_of_birth":"1992-10-10","gender":"f","passport_expires_on":null,"stay_expires_on":"","died_on":null}
"#;

on_both_backends! {
    good_rows_are_imported_and_found_through_the_registry(db) {
        let store = db.store().await;
        let citizens = file("citizens.csv", CITIZENS_CSV);
        let report = import(&store, &citizens, RegistryKind::Population).await;
        assert_eq!((report.rows_read, report.written, report.unchanged, report.rejected_count), (4, 4, 0, 0));
        assert!(report.rejected.is_empty());
        let foreigners = file("foreigners.jsonl", FOREIGNERS_JSONL);
        let report = import(&store, &foreigners, RegistryKind::Immigration).await;
        assert_eq!((report.rows_read, report.written, report.rejected_count), (2, 2, 0));
        assert_eq!(store.count_citizens().await.unwrap(), 4);
        assert_eq!(store.count_foreigners().await.unwrap(), 2);

        let registry = StoreRegistry::new(store.clone());
        let an = registry.citizen(&id("001090000001")).await.unwrap().expect("imported");
        assert_eq!(an.full_name.as_str(), "Nguyễn Văn An");
        assert_eq!(an.date_of_birth, date(1990, 5, 1));
        assert_eq!(an.gender, Gender::Male);
        assert_eq!(an.place_of_origin.as_deref(), Some("Hà Nội"));
        assert_eq!(an.permanent_residence.as_deref(), Some("Hồ Chí Minh"));
        assert_eq!(an.card_status, CardStatus::Valid);
        let binh = registry.citizen(&id("079195000002")).await.unwrap().expect("imported");
        assert_eq!((binh.gender, binh.place_of_origin, binh.card_status), (Gender::Female, None, CardStatus::Valid));
        let cuong = registry.citizen(&id("001205000003")).await.unwrap().expect("imported");
        assert_eq!(cuong.card_status, CardStatus::Revoked);
        let dung = registry.citizen(&id("001160000004")).await.unwrap().expect("imported");
        assert_eq!((dung.card_status, dung.died_on), (CardStatus::Retained, Some(date(2020, 7, 1))));
        assert!(registry.citizen(&id("001090000009")).await.unwrap().is_none());

        let kim = registry.foreigner(&nationality("KOR"), &passport("M12345678")).await.unwrap().expect("imported");
        assert_eq!(kim.full_name.as_str(), "Kim Min-jun");
        assert_eq!(kim.passport_expires_on, Some(date(2030, 1, 1)));
        assert_eq!(kim.stay_expires_on, Some(date(2027, 6, 30)));
        // Passport and nationality are stored normalised, so the lookup finds the row written in lower case.
        let wang = registry.foreigner(&nationality("CHN"), &passport("E1234567")).await.unwrap().expect("imported");
        assert_eq!((wang.gender, wang.passport_expires_on, wang.stay_expires_on), (Gender::Female, None, None));
    }

    every_kind_of_bad_citizen_row_is_rejected_with_its_line_and_reason(db) {
        let store = db.store().await;
        let mut csv = String::from(
            "id_number,full_name,date_of_birth,gender,place_of_origin,permanent_residence,card_status,died_on\n",
        );
        let rows = [
            "001090000001,Nguyễn Văn An,1990-05-01,male,,,,",              // 2 good
            "00109000001,Nguyễn Văn Sai,1990-05-01,male,,,,",              // 3 11 digits
            "003090000002,Nguyễn Văn Sai,1990-05-01,male,,,,",             // 4 unknown province
            "001190000003,Nguyễn Văn Sai,1990-05-01,male,,,,",             // 5 female digit, male
            "001091000004,Nguyễn Văn Sai,1990-05-01,male,,,,",             // 6 year 91 vs 1990
            "001090000005,Nguyễn Văn Sai,1990-02-30,male,,,,",             // 7 no such day
            "001090000006,Nguyễn Văn Sai,1990-05-01,x,,,,",                // 8 gender
            "001090000007,,1990-05-01,male,,,,",                           // 9 empty name
            "001090000008,Nguyễn Văn Sai,1990-05-01,male,,,lost,",         // 10 card status
            "001090000009,Nguyễn Văn Sai,1990-05-01",                      // 11 malformed: 3 fields
            "079195000010,Trần Thị Bình,1995-12-31,nữ,,,,",                // 12 good
            "001090000011,Nguyễn Văn Sai,1990-05-01,male,,,,1989-01-01",   // 13 died before birth
            "001090000012,,1990-05-01,male,,,,",                           // 14 replaced by invalid UTF-8 below
            "001090000013,\"Nguyễn\nVăn Sai\",1990-05-01,male,,,,",        // 15-16 quoted newline in the name
            "001205000014,Lê Hoàng Cường,2005-01-15,nam,,,,",              // 17 good
            "001090000015,Nguyễn Văn Sai,,male,,,,",                       // 18 missing date of birth
            "001090000016,Nguyễn Văn Sai,1990-05-01,male,,,,2999-01-01",   // 19 death in the future
        ];
        for row in rows {
            csv.push_str(row);
            csv.push('\n');
        }
        let mut bytes = csv.into_bytes();
        let needle = b"001090000012,,";
        let at = bytes.windows(needle.len()).position(|w| w == needle).unwrap() + needle.len() - 1;
        bytes.splice(at..at, [0xff, 0xfe]);
        let input = file("citizens.csv", bytes);
        let report = import(&store, &input, RegistryKind::Population).await;

        let expected = vec![
            rejected(3, IdentityError::IdNumberFormat),
            rejected(4, IdentityError::UnknownProvince("003".into())),
            rejected(5, IdentityError::CenturyGenderMismatch),
            rejected(6, IdentityError::BirthYearMismatch),
            rejected(7, "`date_of_birth` is not a valid date (expected YYYY-MM-DD)"),
            rejected(8, IdentityError::Gender),
            rejected(9, NameError::Empty),
            rejected(10, "`card_status` must be valid, revoked or retained (or empty for valid)"),
            rejected(11, "malformed CSV line: the row has 3 fields, the header has 8"),
            rejected(13, "`died_on` is before `date_of_birth`"),
            rejected(14, "malformed CSV line: not valid UTF-8"),
            rejected(15, NameError::Characters),
            rejected(18, "`date_of_birth` is missing"),
            rejected(19, "`died_on` is in the future"),
        ];
        assert_eq!(report.rejected, expected);
        assert_eq!(report.rejected_count, expected.len() as u64);
        assert_eq!((report.rows_read, report.written, report.unchanged), (17, 3, 0));
        assert_eq!(store.count_citizens().await.unwrap(), 3);
        for id_number in ["001090000001", "079195000010", "001205000014"] {
            assert!(store.find_citizen(&id(id_number)).await.unwrap().is_some(), "{id_number}");
        }
        // Reasons are safe to log: they never repeat a name.
        assert!(report.rejected.iter().all(|r| !r.reason.contains("Nguyễn") && !r.reason.contains("Sai")));
    }

    rejected_rows_keep_their_physical_lines_whatever_the_line_endings(db) {
        let store = db.store().await;
        let header = "id_number,full_name,date_of_birth,gender,place_of_origin,permanent_residence,card_status,died_on";
        let plain = [
            header,                                                      // 1
            "001090000001,Nguyễn Văn An,1990-05-01,male,,,,",            // 2 good
            "00109000001,Nguyễn Văn Sai,1990-05-01,male,,,,",            // 3 11 digits
            "079195000010,Trần Thị Bình,1995-12-31,nữ,,,,",              // 4 good
            "001090000006,Nguyễn Văn Sai,1990-05-01,x,,,,",              // 5 gender
            "",                                                          // 6 blank: not a row
            "001090000009,Nguyễn Văn Sai,1990-05-01",                    // 7 malformed: 3 fields
            "001205000014,Lê Hoàng Cường,2005-01-15,nam,,,,",            // 8 good
            "001090000008,Nguyễn Văn Sai,1990-05-01,male,,,lost,",       // 9 card status
        ];
        let plain_expected = vec![
            rejected(3, IdentityError::IdNumberFormat),
            rejected(5, IdentityError::Gender),
            rejected(7, "malformed CSV line: the row has 3 fields, the header has 8"),
            rejected(9, "`card_status` must be valid, revoked or retained (or empty for valid)"),
        ];
        // The same rows with a quoted field over three lines before the bad ones.
        let mut multiline = plain.to_vec();
        multiline.insert(3, "001090000020,Nguyễn Văn Sai,1990-05-01,male,\"Thôn 1\nXã 2\nHuyện 3\",,,"); // 4-6
        let multiline_expected = vec![
            rejected(3, IdentityError::IdNumberFormat),
            rejected(4, "`place_of_origin` contains control characters"),
            rejected(8, IdentityError::Gender),
            rejected(10, "malformed CSV line: the row has 3 fields, the header has 8"),
            rejected(12, "`card_status` must be valid, revoked or retained (or empty for valid)"),
        ];
        for (rows, expected) in [(plain.to_vec(), plain_expected), (multiline, multiline_expected)] {
            let lf = format!("{}\n", rows.join("\n"));
            let files = [
                ("LF", lf.clone()),
                ("CRLF", lf.replace('\n', "\r\n")),
                // As spreadsheets write it: CRLF between rows, LF inside a cell.
                ("CRLF rows, LF in cells", format!("{}\r\n", rows.join("\r\n"))),
                ("CR", lf.replace('\n', "\r")),
                ("LF, no final newline", rows.join("\n")),
            ];
            for (endings, contents) in files {
                let report = import(&store, &file("citizens.csv", contents), RegistryKind::Population).await;
                assert_eq!(report.rejected, expected, "{endings}, {} rows", rows.len());
                assert_eq!(report.rejected_count, expected.len() as u64, "{endings}");
                assert_eq!(report.rows_read, rows.len() as u64 - 2, "{endings}: every row but the header and the blank");
                assert_eq!(report.written + report.unchanged, 3, "{endings}: the three good rows");
            }
        }
        assert_eq!(store.count_citizens().await.unwrap(), 3);
    }

    bad_json_lines_are_rejected_with_their_physical_line(db) {
        let store = db.store().await;
        let lines = [
            r#"{"id_number":"001090000001","full_name":"Nguyễn Văn An","date_of_birth":"1990-05-01","gender":"male"}"#,
            "",                                                                               // 2 blank: not a row
            r#"{"id_number":"001090000002","full_name":"Nguyễn Văn Sai","date_of_birth":"1990-05-01""#, // 3 cut off
            r#"{"id_number":1090000003,"full_name":"Nguyễn Văn Sai","date_of_birth":"1990-05-01","gender":"male"}"#,
            r#"{"id_number":"001090000004","nickname":"Sai","date_of_birth":"1990-05-01","gender":"male"}"#,
            r#"["001090000005","Nguyễn Văn Sai"]"#,                                           // 6 not an object
            r#"{"id_number":"001090000006","full_name":"Nguyễn Văn Sai","date_of_birth":"1990-05-01","gender":"male","card_status":"lost"}"#,
            "   ",                                                                            // 8 blank
            r#"{"id_number":"079195000007","full_name":"Trần Thị Bình","date_of_birth":"1995-12-31","gender":"nữ","place_of_origin":null,"died_on":""}"#,
            r#"{"id_number":"001190000008","full_name":"Nguyễn Văn Sai","date_of_birth":"1990-05-01","gender":"male"}"#,
        ];
        let input = file("citizens.jsonl", lines.join("\n"));
        let report = import(&store, &input, RegistryKind::Population).await;
        let reasons: Vec<(u64, &str)> = report.rejected.iter().map(|r| (r.line, r.reason.as_str())).collect();
        assert_eq!(reasons.len(), 6, "{reasons:?}");
        assert_eq!(reasons[0].0, 3);
        assert!(reasons[0].1.starts_with("invalid JSON (syntax error at column"), "{reasons:?}");
        assert_eq!(reasons[1], (4, "invalid JSON: `id_number` must be a string or null"));
        assert_eq!(reasons[2], (5, "invalid JSON: unknown key `nickname`"));
        assert_eq!(reasons[3], (6, "invalid JSON: each line must be one JSON object"));
        assert_eq!(reasons[4], (7, "`card_status` must be valid, revoked or retained (or empty for valid)"));
        assert_eq!(reasons[5], (10, IdentityError::CenturyGenderMismatch.to_string().as_str()));
        assert_eq!((report.rows_read, report.written, report.rejected_count), (8, 2, 6));
        assert!(store.find_citizen(&id("079195000007")).await.unwrap().is_some());
        assert!(report.rejected.iter().all(|r| !r.reason.contains("Sai")));
    }

    bad_foreigner_rows_are_rejected_in_csv_and_json_lines(db) {
        let store = db.store().await;
        let csv = "\
passport_number,nationality,full_name,date_of_birth,gender,passport_expires_on,stay_expires_on,died_on
M12345678,KOR,Kim Min-jun,1985-04-02,male,2030-01-01,2027-06-30,
AB,KOR,Kim Sai,1985-04-02,male,,,
M22345678,KR,Kim Sai,1985-04-02,male,,,
M32345678,K0R,Kim Sai,1985-04-02,male,,,
M42345678,KOR,Kim Sai,1985-04-02,other,,,
M52345678,KOR,Kim Sai,1985-04-02,male,2030-13-01,,
M62345678,KOR,,1985-04-02,male,,,
E1234567,CHN,Wang Fang,1992-10-10,female,,,
";
        let report = import(&store, &file("foreigners.csv", csv), RegistryKind::Immigration).await;
        assert_eq!(
            report.rejected,
            vec![
                rejected(3, IdentityError::PassportFormat),
                rejected(4, IdentityError::NationalityFormat),
                rejected(5, IdentityError::NationalityFormat),
                rejected(6, IdentityError::Gender),
                rejected(7, "`passport_expires_on` is not a valid date (expected YYYY-MM-DD)"),
                rejected(8, NameError::Empty),
            ]
        );
        assert_eq!((report.rows_read, report.written), (8, 2));

        let jsonl = [
            r#"{"passport_number":"P1234567","nationality":"AUS","full_name":"Emma Smith","date_of_birth":"1980-01-01","gender":"female"}"#,
            r#"{"passport_number":"P!234567","nationality":"AUS","full_name":"Emma Sai","date_of_birth":"1980-01-01","gender":"female"}"#,
            r#"{"passport_number":"P2234567","nationality":"AU","full_name":"Emma Sai","date_of_birth":"1980-01-01","gender":"female"}"#,
            r#"{"passport_number":"P3234567","nationality":"AUS","full_name":"Emma Sai","gender":"female"}"#,
            r#"{"passport_number":"P4234567","nationality":"AUS","full_name":"Emma Sai","date_of_birth":"1980-01-01","gender":"female","stay_expires_on":20300101}"#,
            r#"{"passport_number":"P5234567","nationality":"AUS","full_name":"Emma Stone","date_of_birth":"1980-01-01","gender":"female"}"#,
        ];
        let report = import(&store, &file("foreigners.ndjson", jsonl.join("\n")), RegistryKind::Immigration).await;
        assert_eq!(
            report.rejected,
            vec![
                rejected(2, IdentityError::PassportFormat),
                rejected(3, IdentityError::NationalityFormat),
                rejected(4, "`date_of_birth` is missing"),
                rejected(5, "invalid JSON: `stay_expires_on` must be a string or null"),
            ]
        );
        assert_eq!((report.rows_read, report.written), (6, 2));
        assert_eq!(store.count_foreigners().await.unwrap(), 4);
    }

    reimporting_the_same_file_writes_nothing(db) {
        let store = db.store().await;
        let citizens = file("citizens.csv", CITIZENS_CSV);
        let first = import(&store, &citizens, RegistryKind::Population).await;
        assert_eq!((first.written, first.unchanged), (4, 0));
        let again = import(&store, &citizens, RegistryKind::Population).await;
        assert_eq!((again.rows_read, again.written, again.unchanged), (4, 0, 4));

        let foreigners = file("foreigners.jsonl", FOREIGNERS_JSONL);
        let first = import(&store, &foreigners, RegistryKind::Immigration).await;
        assert_eq!((first.written, first.unchanged), (2, 0));
        let again = import(&store, &foreigners, RegistryKind::Immigration).await;
        assert_eq!((again.written, again.unchanged), (0, 2));

        // A changed row is written again; the others stay unchanged.
        let changed = CITIZENS_CSV.replace("Nguyễn Văn An,1990-05-01,male,Hà Nội,Hồ Chí Minh,valid,",
                                           "Nguyễn Văn An,1990-05-01,male,Hà Nội,Hồ Chí Minh,revoked,");
        let report = import(&store, &file("citizens.csv", changed), RegistryKind::Population).await;
        assert_eq!((report.written, report.unchanged), (1, 3));
        let an = store.find_citizen(&id("001090000001")).await.unwrap().unwrap();
        assert_eq!(an.card_status, CardStatus::Revoked);
    }

    csv_and_json_lines_of_the_same_rows_are_the_same_registry(db) {
        let store = db.store().await;
        for (kind, count) in [(RegistryKind::Population, 1500), (RegistryKind::Immigration, 1500)] {
            let mut csv = Vec::new();
            generate(&mut csv, &GenerateOptions { kind, count, seed: 42, format: Format::Csv }).unwrap();
            let mut jsonl = Vec::new();
            generate(&mut jsonl, &GenerateOptions { kind, count, seed: 42, format: Format::JsonLines }).unwrap();
            let from_csv = import(&store, &file("registry.csv", csv), kind).await;
            assert_eq!((from_csv.rows_read, from_csv.written, from_csv.rejected_count), (count, count, 0));
            // The same rows as JSON Lines: all valid, all already stored exactly so.
            let from_jsonl = import(&store, &file("registry.jsonl", jsonl), kind).await;
            assert_eq!((from_jsonl.rows_read, from_jsonl.written, from_jsonl.unchanged), (count, 0, count));
        }
        assert_eq!(store.count_citizens().await.unwrap(), 1500);
        assert_eq!(store.count_foreigners().await.unwrap(), 1500);
    }

    generated_rows_all_pass_validation_and_are_unique(db) {
        let store = db.store().await;
        for (kind, seed) in [(RegistryKind::Population, 1), (RegistryKind::Immigration, 2)] {
            let mut bytes = Vec::new();
            generate(&mut bytes, &GenerateOptions { kind, count: 20_000, seed, format: Format::Csv }).unwrap();
            let report = import(&store, &file("generated.csv", bytes), kind).await;
            assert_eq!(report.rejected, vec![], "{kind:?}");
            // Every row was new: no identifier was repeated (a repeat would count as unchanged).
            assert_eq!((report.rows_read, report.written, report.unchanged), (20_000, 20_000, 0), "{kind:?}");
        }
        assert_eq!(store.count_citizens().await.unwrap(), 20_000);
        assert_eq!(store.count_foreigners().await.unwrap(), 20_000);
    }

    line_numbers_hold_across_batch_boundaries(db) {
        let store = db.store().await;
        let mut bytes = Vec::new();
        generate(&mut bytes, &GenerateOptions {
            kind: RegistryKind::Population, count: 100, seed: 9, format: Format::Csv,
        }).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        // Break rows on lines 10, 11, 50 and 101 (the last).
        for line in [10usize, 11, 50, 101] {
            lines[line - 1] = lines[line - 1].replacen(',', ",x", 3);
        }
        let mut options = ImportOptions::new(RegistryKind::Population);
        options.batch_size = 7;
        let input = file("batched.csv", lines.join("\n"));
        let report = import_file(&store, &input.path, &options).await.unwrap();
        let rejected_lines: Vec<u64> = report.rejected.iter().map(|r| r.line).collect();
        assert_eq!(rejected_lines, vec![10, 11, 50, 101]);
        assert_eq!((report.rows_read, report.written, report.rejected_count), (100, 96, 4));
        assert_eq!(store.count_citizens().await.unwrap(), 96);
    }

    a_later_row_for_the_same_identity_wins(db) {
        let store = db.store().await;
        let csv = format!("{CITIZENS_CSV}001090000001,Nguyễn Văn An,1990-05-01,male,Hà Nội,Hà Nội,valid,\n");
        let report = import(&store, &file("citizens.csv", csv), RegistryKind::Population).await;
        assert_eq!((report.rows_read, report.written, report.unchanged), (5, 4, 1));
        let an = store.find_citizen(&id("001090000001")).await.unwrap().unwrap();
        assert_eq!(an.permanent_residence.as_deref(), Some("Hà Nội"));
    }

    a_later_row_wins_across_batches_and_writers_too(db) {
        let store = db.store().await;
        // Tiny batches: the two rows of each identity land in different batches (and, on PostgreSQL, the
        // identities are spread over parallel writers); the file's order must still hold per identity.
        let mut csv = String::from("id_number,full_name,date_of_birth,gender,permanent_residence\n");
        for round in ["Hà Nội", "Huế", "Cần Thơ"] {
            for n in 0..20 {
                csv.push_str(&format!("0010900000{n:02},Nguyễn Văn An,1990-05-01,male,{round}\n"));
            }
        }
        let mut options = ImportOptions::new(RegistryKind::Population);
        options.batch_size = 3;
        let input = file("citizens.csv", csv);
        let report = import_file(&store, &input.path, &options).await.unwrap();
        assert_eq!((report.rows_read, report.written, report.rejected_count), (60, 60, 0));
        for n in 0..20 {
            let row = store.find_citizen(&id(&format!("0010900000{n:02}"))).await.unwrap().unwrap();
            assert_eq!(row.permanent_residence.as_deref(), Some("Cần Thơ"));
        }
        let tuned = ImportOptions::for_store(RegistryKind::Population, &store);
        let expected = match db.dialect {
            dinhdanh_store::Dialect::Sqlite => dinhdanh_registry::import::SQLITE_BATCH_SIZE,
            dinhdanh_store::Dialect::Postgres => dinhdanh_registry::import::DEFAULT_BATCH_SIZE,
        };
        assert_eq!(tuned.batch_size, expected);
    }

    bad_headers_and_formats_stop_the_import_before_any_row(db) {
        let store = db.store().await;
        let cases = [
            ("id_number,full_name,date_of_birth\n001090000001,Nguyễn Văn An,1990-05-01\n", "missing required column `gender`"),
            ("id_number,full_name,date_of_birth,gender,dead_on\n", "unknown column `dead_on`"),
            ("id_number,full_name,full_name,date_of_birth,gender\n", "column `full_name` appears twice"),
            ("", "the file is empty"),
        ];
        for (contents, expected) in cases {
            let input = file("citizens.csv", contents);
            match import_file(&store, &input.path, &ImportOptions::new(RegistryKind::Population)).await {
                Err(ImportError::BadHeader(message)) => assert!(message.contains(expected), "{message}"),
                other => panic!("expected a bad header for {contents:?}, got {other:?}"),
            }
        }
        // A population file imported as immigration is refused by its header.
        let input = file("citizens.csv", CITIZENS_CSV);
        let result = import_file(&store, &input.path, &ImportOptions::new(RegistryKind::Immigration)).await;
        assert!(matches!(result, Err(ImportError::BadHeader(_))), "{result:?}");
        // Header columns may come in any order, in any case, with a byte-order mark; optional ones may be left out.
        let reordered = "\u{feff}Gender,DATE_OF_BIRTH,full_name,id_number\nmale,1990-05-01,Nguyễn Văn An,001090000001\n";
        let report = import(&store, &file("citizens.csv", reordered), RegistryKind::Population).await;
        assert_eq!((report.written, report.rejected_count), (1, 0));

        let input = file("citizens.txt", CITIZENS_CSV);
        let result = import_file(&store, &input.path, &ImportOptions::new(RegistryKind::Population)).await;
        assert!(matches!(result, Err(ImportError::UnknownFormat)), "{result:?}");
        let mut options = ImportOptions::new(RegistryKind::Population);
        options.format = Some(Format::Csv);
        let report = import_file(&store, &input.path, &options).await.unwrap();
        assert_eq!(report.rows_read, 4);
        let missing = import_file(&store, std::path::Path::new("/nonexistent/x.csv"), &options).await;
        assert!(matches!(missing, Err(ImportError::Io(_))), "{missing:?}");
        assert_eq!(store.count_citizens().await.unwrap(), 4);
    }
}
