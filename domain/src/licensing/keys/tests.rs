use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, TimeZone, Utc};
use migrations::{Migrator, MigratorTrait};
use sea_orm::{Database, DatabaseConnection, EntityTrait};

use super::*;
use crate::entities::license_signing_key;

fn grant(expires_at: Option<i64>) -> LicenseGrant {
    LicenseGrant {
        license_id: 42,
        licensee: Licensee {
            id: 7,
            name: "alice".into(),
        },
        model: LicensedModel {
            id: 3,
            name: "acme/sentiment".into(),
        },
        offer: LicensedOffer {
            id: 5,
            kind: "paid".into(),
        },
        versions: VersionsCovered::Only(vec!["1.0.0".into(), "1.1.0".into()]),
        issued_at: 1_700_000_000,
        expires_at,
    }
}

/// A copy of `key` with one byte of its `part` (1: claims, 2: signature) flipped.
fn flip_byte(key: &str, part: usize, index: usize) -> String {
    let mut parts: Vec<String> = key.split('.').map(str::to_owned).collect();
    let mut bytes = URL_SAFE_NO_PAD.decode(&parts[part]).unwrap();
    let index = index.min(bytes.len() - 1);
    bytes[index] ^= 0x01;
    parts[part] = URL_SAFE_NO_PAD.encode(bytes);
    parts.join(".")
}

async fn database() -> (DatabaseConnection, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let db = Database::connect(&url).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    (db, dir)
}

async fn rows(db: &DatabaseConnection) -> Vec<license_signing_key::Model> {
    license_signing_key::Entity::find().all(db).await.unwrap()
}

#[test]
fn an_issued_key_verifies_to_its_claims() {
    let keys = SigningKeys::ephemeral().unwrap();
    let key = keys.issue(&grant(None));
    assert!(key.starts_with("bzr1."), "{key}");
    let claims = verify(&key, &keys.key_set(), Utc::now()).unwrap();
    assert_eq!(claims.kid, keys.kid());
    assert_eq!(claims.grant, grant(None));
    assert!(claims.grant.versions.covers("1.1.0"));
    assert!(!claims.grant.versions.covers("2.0.0"));
    // Pasted with the line break a terminal adds.
    verify(&format!("{key}\n"), &keys.key_set(), Utc::now()).unwrap();
}

#[test]
fn a_flipped_byte_anywhere_is_refused_as_altered() {
    let keys = SigningKeys::ephemeral().unwrap();
    let key = keys.issue(&grant(None));
    let claims_len = URL_SAFE_NO_PAD
        .decode(key.split('.').nth(1).unwrap())
        .unwrap()
        .len();
    // Past the key id (which comes first) the claims' every byte is covered, as is the signature's.
    for index in (30..claims_len).step_by(7) {
        let altered = flip_byte(&key, 1, index);
        assert_eq!(
            verify(&altered, &keys.key_set(), Utc::now()),
            Err(VerifyError::Altered),
            "claims byte {index}"
        );
    }
    for index in 0..64 {
        let altered = flip_byte(&key, 2, index);
        assert_eq!(
            verify(&altered, &keys.key_set(), Utc::now()),
            Err(VerifyError::Altered),
            "signature byte {index}"
        );
    }
    let message = VerifyError::Altered.to_string();
    assert!(message.contains("altered"), "{message}");
}

#[test]
fn a_key_signed_by_another_marketplace_is_refused() {
    let ours = SigningKeys::ephemeral().unwrap();
    let theirs = SigningKeys::ephemeral().unwrap();
    let key = theirs.issue(&grant(None));
    let refused = verify(&key, &ours.key_set(), Utc::now()).unwrap_err();
    assert_eq!(refused, VerifyError::UnknownKey { kid: theirs.kid() });
    assert!(
        refused.to_string().starts_with("signed by another key"),
        "{refused}"
    );
    // Their key id put in, with their signature: the signature no longer matches.
    let mut claims: LicenseClaims = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(key.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    claims.kid = ours.kid();
    let relabelled = format!(
        "bzr1.{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()),
        key.rsplit('.').next().unwrap()
    );
    assert_eq!(
        verify(&relabelled, &ours.key_set(), Utc::now()),
        Err(VerifyError::Altered)
    );
}

#[test]
fn an_expired_key_is_refused_with_its_date() {
    let keys = SigningKeys::ephemeral().unwrap();
    let end = Utc.with_ymd_and_hms(2025, 3, 14, 9, 30, 0).unwrap();
    let key = keys.issue(&grant(Some(end.timestamp())));
    let before = end - Duration::seconds(1);
    assert!(verify(&key, &keys.key_set(), before).is_ok());
    let refused = verify(&key, &keys.key_set(), end).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "the license expired on 14 March 2025, 09:30 UTC"
    );
    // A perpetual license never expires.
    let perpetual = keys.issue(&grant(None));
    assert!(verify(&perpetual, &keys.key_set(), end + Duration::days(36500)).is_ok());
}

#[test]
fn what_is_not_a_key_says_so() {
    let keys = SigningKeys::ephemeral().unwrap();
    for (input, says) in [
        ("", "does not start with bzr1."),
        ("hello", "does not start with bzr1."),
        ("bzr2.e30.AAAA", "does not start with bzr1."),
        ("bzr1.e30", "three parts"),
        ("bzr1.e30.AAAA.AAAA", "three parts"),
        ("bzr1.!!.AAAA", "base64url"),
    ] {
        let refused = verify(input, &keys.key_set(), Utc::now()).unwrap_err();
        let message = refused.to_string();
        assert!(
            message.starts_with("not a Bazaar license key") && message.contains(says),
            "{input:?}: {message}"
        );
    }
}

#[test]
fn a_genuine_key_this_version_cannot_read_is_not_called_altered() {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let set = KeySet {
        keys: vec![jwk_of(&pair)],
    };
    let signed = |json: &str| {
        let signed = format!("bzr1.{}", URL_SAFE_NO_PAD.encode(json));
        let signature = URL_SAFE_NO_PAD.encode(pair.sign(signed.as_bytes()));
        format!("{signed}.{signature}")
    };
    let future = signed(&format!(r#"{{"kid":"{}","seats":3}}"#, set.keys[0].kid));
    let refused = verify(&future, &set, Utc::now()).unwrap_err();
    assert!(
        refused.to_string().contains("not ones this version reads"),
        "{refused}"
    );

    let mut claims = LicenseClaims {
        kid: "someone-else".into(),
        grant: grant(None),
    };
    let mislabelled = signed(&serde_json::to_string(&claims).unwrap());
    let refused = verify(&mislabelled, &set, Utc::now()).unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("not that of the key that signed it"),
        "{refused}"
    );
    claims.kid = set.keys[0].kid.clone();
    verify(
        &signed(&serde_json::to_string(&claims).unwrap()),
        &set,
        Utc::now(),
    )
    .unwrap();
}

#[test]
fn the_key_set_is_a_jwk_set_and_other_keys_in_it_are_skipped() {
    let keys = SigningKeys::ephemeral().unwrap();
    let json = serde_json::to_value(keys.key_set()).unwrap();
    let jwk = &json["keys"][0];
    assert_eq!(
        (
            jwk["kty"].as_str(),
            jwk["crv"].as_str(),
            jwk["use"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("sig"))
    );
    assert_eq!(jwk["alg"], "EdDSA");
    assert_eq!(jwk["kid"], keys.kid());
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(jwk["x"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );

    let mixed = serde_json::json!({"keys": [
        {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "rsa"},
        jwk,
    ]});
    let set: KeySet = serde_json::from_value(mixed).unwrap();
    let key = keys.issue(&grant(None));
    assert!(verify(&key, &set, Utc::now()).is_ok());
    assert!(!KeySet::default().is_usable());
}

#[test]
fn versions_are_a_star_or_a_list_of_names() {
    let all: VersionsCovered = serde_json::from_str(r#""*""#).unwrap();
    assert_eq!(all, VersionsCovered::All);
    assert!(all.covers("v2-rc1"));
    assert_eq!(serde_json::to_string(&all).unwrap(), r#""*""#);
    let some: VersionsCovered = serde_json::from_str(r#"["1.0.0"]"#).unwrap();
    assert_eq!(some, VersionsCovered::Only(vec!["1.0.0".into()]));
    assert!(serde_json::from_str::<VersionsCovered>(r#""latest""#).is_err());
}

#[test]
fn a_short_secret_is_refused_and_no_secret_is_printed() {
    assert!(matches!(
        EncryptionSecret::new("short"),
        Err(SigningKeyError::SecretTooShort)
    ));
    let secret = EncryptionSecret::new("correct horse battery staple").unwrap();
    assert!(!format!("{secret:?}").contains("horse"));
}

#[tokio::test]
async fn instances_starting_together_share_one_key() {
    let (db, _dir) = database().await;
    let starts = (0..4).map(|_| SigningKeys::load_or_create(&db, None));
    let loaded = futures::future::try_join_all(starts).await.unwrap();
    let kid = loaded[0].kid();
    assert!(loaded.iter().all(|keys| keys.kid() == kid));
    assert_eq!(rows(&db).await.len(), 1);
    // A later start reads the same key.
    let again = SigningKeys::load_or_create(&db, None).await.unwrap();
    assert_eq!(again.kid(), kid);
    let key = loaded[1].issue(&grant(None));
    verify(&key, &published(&db).await.unwrap(), Utc::now()).unwrap();
}

#[tokio::test]
async fn a_retired_key_still_verifies_and_its_private_half_is_gone() {
    let (db, _dir) = database().await;
    let serving = SigningKeys::load_or_create(&db, None).await.unwrap();
    let old_key = serving.issue(&grant(None));
    let rotated = SigningKeys::rotate(&db, None).await.unwrap();
    assert_ne!(rotated.kid(), serving.kid());
    let set = published(&db).await.unwrap();
    assert_eq!(set.keys.len(), 2);
    assert_eq!(set.keys[0].kid, rotated.kid(), "newest first");
    verify(&old_key, &set, Utc::now()).unwrap();
    verify(&rotated.issue(&grant(None)), &set, Utc::now()).unwrap();

    let stored = rows(&db).await;
    let retired = stored.iter().find(|r| r.kid == serving.kid()).unwrap();
    assert!(retired.retired_at.is_some());
    assert!(retired.private_key.is_none());

    // A server started before the rotation switches at its next refresh.
    assert!(serving.refresh(&db).await.unwrap());
    assert_eq!(serving.kid(), rotated.kid());
    assert!(!serving.refresh(&db).await.unwrap());
}

#[tokio::test]
async fn a_secret_encrypts_keys_at_rest_and_a_missing_or_wrong_one_is_refused() {
    let (db, _dir) = database().await;
    let plain = SigningKeys::load_or_create(&db, None).await.unwrap();
    let before = rows(&db).await[0].private_key.clone().unwrap();
    assert!(!rows(&db).await[0].private_key_encrypted);

    // Setting a secret later encrypts the stored key in place.
    let secret = EncryptionSecret::new("a secret only the operator knows").unwrap();
    let sealed = SigningKeys::load_or_create(&db, Some(&secret))
        .await
        .unwrap();
    assert_eq!(sealed.kid(), plain.kid());
    let row = rows(&db).await.remove(0);
    assert!(row.private_key_encrypted);
    assert_ne!(row.private_key.as_ref(), Some(&before));
    assert!(
        format!("{row:?}").contains("PrivateKey([redacted])"),
        "{row:?}"
    );

    let missing = SigningKeys::load_or_create(&db, None).await.unwrap_err();
    assert!(matches!(missing, SigningKeyError::SecretMissing { .. }));
    assert!(missing.to_string().contains("no license key secret is set"));
    let other = EncryptionSecret::new("somebody else's secret, not ours").unwrap();
    let wrong = SigningKeys::load_or_create(&db, Some(&other))
        .await
        .unwrap_err();
    assert!(
        matches!(wrong, SigningKeyError::WrongSecret { .. }),
        "{wrong}"
    );
    let reopened = SigningKeys::load_or_create(&db, Some(&secret))
        .await
        .unwrap();
    assert_eq!(reopened.kid(), plain.kid());

    // A lost secret: rotating needs none of the old key and leaves a key the new secret opens.
    let rotated = SigningKeys::rotate(&db, Some(&other)).await.unwrap();
    assert_ne!(rotated.kid(), plain.kid());
    SigningKeys::load_or_create(&db, Some(&other))
        .await
        .unwrap();
    let key = rotated.issue(&grant(None));
    verify(&key, &published(&db).await.unwrap(), Utc::now()).unwrap();
}

#[test]
fn a_sealed_key_opens_only_under_its_secret_and_key_id() {
    let secret = EncryptionSecret::new("a secret only the operator knows").unwrap();
    let sealed = secret.seal("kid-a", b"private bytes").unwrap();
    assert_eq!(secret.open("kid-a", &sealed).unwrap(), b"private bytes");
    assert!(secret.open("kid-b", &sealed).is_none());
    let other = EncryptionSecret::new("somebody else's secret, not ours").unwrap();
    assert!(other.open("kid-a", &sealed).is_none());
    // Two seals of the same key differ (a fresh nonce each time).
    assert_ne!(sealed, secret.seal("kid-a", b"private bytes").unwrap());
}
