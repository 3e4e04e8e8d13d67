//! Importing the registries' biometric references (issue 16): finger records and face templates from a side file,
//! each checked, its person in the registry; on SQLite and PostgreSQL.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{file, import};
use dinhdanh_domain::registry::RegistryKind;
use dinhdanh_domain::{IdentityKey, ProvinceTable};
use dinhdanh_face::{FaceTemplate, ModelId};
use dinhdanh_fingerprint::{Finger, FingerPosition, ImpressionParams, MinutiaeRecord};
use dinhdanh_registry::biometrics::{BiometricsReport, import_biometrics};
use dinhdanh_store::on_both_backends;
use rand::SeedableRng;
use rand::rngs::StdRng;

const CITIZENS_CSV: &str = "\
id_number,full_name,date_of_birth,gender,place_of_origin,permanent_residence,card_status,died_on
001090000001,Nguyễn Văn An,1990-05-01,male,Hà Nội,Hồ Chí Minh,valid,
";

const FOREIGNERS_CSV: &str = "\
passport_number,nationality,full_name,date_of_birth,gender,passport_expires_on,stay_expires_on,died_on
M12345678,KOR,Kim Min-jun,1985-04-02,male,2030-01-01,2027-06-30,
";

/// A synthetic finger's scan, its view naming `position`.
fn finger_record(seed: u64, position: FingerPosition) -> String {
    let mut rng = StdRng::seed_from_u64(seed);
    let finger = Finger::generate(&mut rng);
    let params = ImpressionParams { finger_position: position, ..Default::default() };
    STANDARD.encode(finger.impression(&mut rng, &params).to_bytes())
}

fn face_template() -> String {
    let model = ModelId::new("buffalo_l", "w600k_r50").unwrap();
    let embedding: Vec<f32> = (0..512).map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0).collect();
    FaceTemplate::new(model, embedding).unwrap().to_base64()
}

on_both_backends! {
    finger_records_and_face_templates_are_checked_and_kept_by_person(db) {
        let store = db.store().await;
        import(&store, &file("citizens.csv", CITIZENS_CSV), RegistryKind::Population).await;
        let (right_thumb, left_index, face) =
            (finger_record(1, FingerPosition::RightThumb), finger_record(2, FingerPosition::LeftIndex), face_template());
        let truncated = STANDARD.encode(&STANDARD.decode(&right_thumb).unwrap()[..20]);
        let side = format!(
            "id_number,modality,position,template\n\
             001090000001,finger,1,{right_thumb}\n\
             001090000001,finger,7,{left_index}\n\
             001090000001,face,0,{face}\n\
             079195000002,finger,1,{right_thumb}\n\
             001090000001,finger,11,{right_thumb}\n\
             001090000001,finger,2,not base64!\n\
             001090000001,finger,2,{truncated}\n\
             001090000001,face,3,{face}\n\
             001090000001,iris,0,{face}\n\
             001090000001,finger,3,{right_thumb}\n"
        );
        let path = file("biometrics.csv", side);
        let provinces = ProvinceTable::builtin();
        let now = chrono::Utc::now();
        let report = import_biometrics(&store, RegistryKind::Population, &provinces, &path.path, now).await.unwrap();
        let lines: Vec<u64> = report.rejected.iter().map(|(line, _)| *line).collect();
        assert_eq!((report.fingerprints, report.faces), (2, 1), "{report:?}");
        assert_eq!(lines, [5, 6, 7, 8, 9, 10, 11], "{report:?}");
        let reasons: Vec<&str> = report.rejected.iter().map(|(_, r)| r.as_str()).collect();
        assert!(reasons[0].contains("no such citizen"), "{reasons:?}");
        assert!(reasons[1].contains("not a finger") && reasons[2].contains("not base64"), "{reasons:?}");
        assert!(reasons[3].starts_with("template: "), "the parser's own reason: {reasons:?}");
        assert!(reasons[4].contains("position 0") && reasons[5].contains("neither finger nor face"), "{reasons:?}");
        assert!(reasons[6].contains("shows finger position 1, the row says 3"), "{reasons:?}");

        let key = IdentityKey::citizen(&common::id("001090000001"));
        let kept = store.registry_fingerprints(key.as_str()).await.unwrap();
        assert_eq!(kept, [(1, right_thumb.clone()), (7, left_index)]);
        let parsed = MinutiaeRecord::parse(&STANDARD.decode(&kept[0].1).unwrap()).unwrap();
        assert!(!parsed.views().is_empty());
        assert_eq!(store.registry_face(key.as_str()).await.unwrap(), Some(face));
        // Again, with a new right thumb: it replaces the old one, nothing else changes.
        let newer = finger_record(3, FingerPosition::RightThumb);
        let path = file("again.csv", format!("id_number,modality,position,template\n001090000001,finger,1,{newer}\n"));
        let report = import_biometrics(&store, RegistryKind::Population, &provinces, &path.path, now).await.unwrap();
        assert_eq!(report, BiometricsReport { fingerprints: 1, faces: 0, rejected: vec![] });
        let kept = store.registry_fingerprints(key.as_str()).await.unwrap();
        assert_eq!(kept.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [1, 7]);
        assert_eq!(kept[0].1, newer);
    }

    a_foreigner_s_references_are_kept_under_nationality_and_passport(db) {
        let store = db.store().await;
        import(&store, &file("foreigners.csv", FOREIGNERS_CSV), RegistryKind::Immigration).await;
        let record = finger_record(4, FingerPosition::LeftThumb);
        let side = format!(
            "nationality,passport_number,modality,position,template\nKOR,M12345678,finger,6,{record}\nKOR,X0000000,finger,6,{record}\n"
        );
        let path = file("biometrics.csv", side);
        let report =
            import_biometrics(&store, RegistryKind::Immigration, &ProvinceTable::builtin(), &path.path, chrono::Utc::now())
                .await
                .unwrap();
        assert_eq!((report.fingerprints, report.rejected.len()), (1, 1), "{report:?}");
        let key = IdentityKey::foreigner(&common::nationality("KOR"), &common::passport("M12345678"));
        assert_eq!(store.registry_fingerprints(key.as_str()).await.unwrap(), [(6, record)]);
        assert_eq!(store.registry_face(key.as_str()).await.unwrap(), None);
    }
}
