-- The registries' biometric references (issue 16, docs/biometrics.md): per person of the population or
-- immigration registry (by identity key, as accounts are), one ISO/IEC 19794-2:2005 finger minutiae record per
-- finger position and at most one face template. Base64 text, the one encoding both stores share; every value is
-- parsed and checked by `dinhdanh registry import-biometrics` before it is written.
CREATE TABLE registry_fingerprints (
    identity_key    TEXT NOT NULL,
    finger_position INTEGER NOT NULL,
    record          TEXT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (identity_key, finger_position)
);
CREATE TABLE registry_faces (
    identity_key TEXT PRIMARY KEY,
    template     TEXT NOT NULL,
    updated_at   BIGINT NOT NULL
);
