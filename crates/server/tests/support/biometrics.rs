//! A person's biometrics for the Level 2 tests: a synthetic finger (`dinhdanh_fingerprint::synthetic`) and
//! face (`dinhdanh_face::synthetic`), enrolled in the registry as `registry import-biometrics` would, and fresh
//! captures of them as the capture app sends them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dinhdanh_domain::{IdentificationNumber, IdentityKey, ProvinceTable};
use dinhdanh_face::synthetic::{DEFAULT_NOISE, SyntheticFace};
use dinhdanh_fingerprint::{Finger, FingerPosition, ImpressionParams};
use dinhdanh_server::clock::Clock;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::TestServer;

/// A person's finger and face, and a generator for fresh captures.
pub struct Person {
    finger: Finger,
    face: SyntheticFace,
    rng: StdRng,
}

impl Person {
    pub fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let finger = Finger::generate(&mut rng);
        let face = SyntheticFace::generate(&mut rng);
        Self { finger, face, rng }
    }

    /// A fresh scan of this finger, its view naming `position`, base64.
    pub fn finger_record(&mut self, position: FingerPosition) -> String {
        let params = ImpressionParams { finger_position: position, ..Default::default() };
        STANDARD.encode(self.finger.impression(&mut self.rng, &params).to_bytes())
    }

    /// What the capture app sends for a scan of the right index finger.
    pub fn finger(&mut self) -> Value {
        json!({"modality": "finger", "template": self.finger_record(FingerPosition::RightIndex)})
    }

    /// What the capture app sends for a live portrait.
    pub fn face(&mut self) -> Value {
        json!({"modality": "face", "template": self.face_template()})
    }

    pub fn face_template(&mut self) -> String {
        self.face.capture(&mut self.rng, DEFAULT_NOISE).to_base64()
    }

    /// Enrols this person's right index finger and portrait as the registry's references of the citizen with
    /// this identification number.
    pub async fn enrol_as(&mut self, server: &TestServer, id_number: &str) {
        let key = IdentityKey::citizen(&IdentificationNumber::parse(id_number, &ProvinceTable::builtin()).unwrap());
        let finger = self.finger_record(FingerPosition::RightIndex);
        let face = self.face_template();
        let key = key.as_str().to_owned();
        server
            .store
            .upsert_registry_biometrics(&[(key.clone(), 2, finger)], &[(key, face)], server.clock.now())
            .await
            .unwrap();
    }
}
