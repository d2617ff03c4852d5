//! License keys from the outside: the key set at `/.well-known/bazaar-license-key`, `bazaar
//! license verify` against a saved key set (a real key, one with a flipped byte, one signed by
//! another key, an expired one), rotation, and the license key secret at start-up.
mod common;
#[path = "support/verify_license.rs"]
mod readme_rust;

use std::path::Path;
use std::process::{Command, Output};

use chrono::{TimeZone, Utc};
use common::TestApp;
use domain::licensing::keys::{
    self, EncryptionSecret, KeySet, LicenseGrant, LicensedModel, LicensedOffer, Licensee,
    SigningKeys, VersionsCovered,
};
use server::config::LICENSE_KEY_SECRET_VAR;

on_each_database!(
    the_served_key_set_verifies_the_servers_keys,
    the_cli_accepts_a_real_key_and_refuses_altered_foreign_and_expired_ones,
    a_rotated_key_stays_verifiable,
    an_encrypted_key_needs_its_secret_to_start,
);

const WELL_KNOWN: &str = "/.well-known/bazaar-license-key";

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
        issued_at: Utc::now().timestamp(),
        expires_at,
    }
}

/// The served key set, saved to `dir` as a buyer would keep it.
async fn save_key_set(app: &TestApp, dir: &Path) -> String {
    let (status, body) = app.get_text(WELL_KNOWN).await;
    assert_eq!(status, 200, "{body}");
    let path = dir.join("bazaar-license-key.json");
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

fn license_verify(key: &str, public_key: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .args(["license", "verify", key, "--public-key", public_key])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap()
}

fn accepted(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// Asserts the command failed and said `message` once.
fn refused_with(output: &Output, message: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "accepted: {stderr}");
    assert_eq!(stderr.matches(message).count(), 1, "{stderr}");
    assert!(!stderr.to_lowercase().contains("backtrace"), "{stderr}");
}

/// `key` with one character of its claims (the middle one) changed, as a bad copy would.
fn flip_a_byte(key: &str) -> String {
    let claims_end = key.rfind('.').unwrap();
    let middle = (key.find('.').unwrap() + claims_end) / 2;
    let mut bytes = key.as_bytes().to_vec();
    bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

async fn the_served_key_set_verifies_the_servers_keys(app: TestApp) {
    let response = app.get(WELL_KNOWN).await;
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("cache-control"), "public, max-age=300");
    assert!(header("content-type").starts_with("application/json"));
    let json: serde_json::Value = response.json().await.unwrap();
    let jwk = &json["keys"][0];
    assert_eq!(json["keys"].as_array().unwrap().len(), 1, "{json}");
    assert_eq!(
        (&jwk["kty"], &jwk["crv"]),
        (&"OKP".into(), &"Ed25519".into())
    );
    assert_eq!((&jwk["alg"], &jwk["use"]), (&"EdDSA".into(), &"sig".into()));
    assert_eq!(jwk["kid"], app.state.license_keys.kid());

    let set: KeySet = serde_json::from_value(json).unwrap();
    let key = app.state.license_keys.issue(&grant(None));
    let claims = keys::verify(&key, &set, Utc::now()).unwrap();
    assert_eq!(claims.grant.model.name, "acme/sentiment");
}

async fn the_cli_accepts_a_real_key_and_refuses_altered_foreign_and_expired_ones(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let key_set = save_key_set(&app, dir.path()).await;
    let real = app.state.license_keys.issue(&grant(None));

    let said = accepted(&license_verify(&real, &key_set));
    for line in [
        "valid license key, signed by key ",
        "license:  42\n",
        "licensee: alice (account 7)\n",
        "model:    acme/sentiment (model 3)\n",
        "offer:    paid (offer 5)\n",
        "versions: 1.0.0, 1.1.0\n",
        "expires:  never (perpetual)",
    ] {
        assert!(said.contains(line), "{line:?} in {said}");
    }
    // Straight from the server too.
    accepted(&license_verify(&real, &app.url(WELL_KNOWN)));

    refused_with(
        &license_verify(&flip_a_byte(&real), &key_set),
        "license key refused: the license key has been altered: its signature does not match \
         its contents",
    );
    let other_marketplace = SigningKeys::ephemeral().unwrap();
    let foreign = other_marketplace.issue(&grant(None));
    refused_with(
        &license_verify(&foreign, &key_set),
        &format!(
            "license key refused: signed by another key: key id {} is not among",
            other_marketplace.kid()
        ),
    );
    let new_year = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let expired = app
        .state
        .license_keys
        .issue(&grant(Some(new_year.timestamp())));
    refused_with(
        &license_verify(&expired, &key_set),
        "license key refused: the license expired on 1 January 2024, 00:00 UTC",
    );
    // Told without fetching any key.
    refused_with(
        &license_verify("hello", "http://127.0.0.1:9/.well-known/bazaar-license-key"),
        "not a Bazaar license key: it does not start with bzr1.",
    );
    refused_with(
        &license_verify(
            &real,
            &dir.path().join("missing.json").display().to_string(),
        ),
        "reading the public keys from",
    );
}

async fn a_rotated_key_stays_verifiable(app: TestApp) {
    let old_kid = app.state.license_keys.kid();
    let old_key = app.state.license_keys.issue(&grant(None));
    let rotated = app.cli(&["admin", "rotate-license-key"], "");
    let said = accepted(&rotated);
    assert!(said.contains("licenses are now signed with key "), "{said}");
    assert!(!said.contains(&old_kid), "{said}");

    let dir = tempfile::tempdir().unwrap();
    let key_set = save_key_set(&app, dir.path()).await;
    let set: KeySet = serde_json::from_str(&std::fs::read_to_string(&key_set).unwrap()).unwrap();
    let kids: Vec<&str> = set.keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids.len(), 2, "{kids:?}");
    assert_eq!(
        kids[1], old_kid,
        "the old key is still published, after the new one"
    );
    let said = accepted(&license_verify(&old_key, &key_set));
    assert!(said.contains(&format!("signed by key {old_kid}")), "{said}");

    // A running server picks the new key up.
    assert!(app.state.license_keys.refresh(&app.state.db).await.unwrap());
    assert_eq!(app.state.license_keys.kid(), kids[0]);
    let new_key = app.state.license_keys.issue(&grant(None));
    let said = accepted(&license_verify(&new_key, &key_set));
    assert!(
        said.contains(&format!("signed by key {}", kids[0])),
        "{said}"
    );
}

/// Runs `bazaar <args>` on the app's data with the license key secret set to `secret`.
fn cli_with_secret(app: &TestApp, args: &[&str], secret: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bazaar"));
    command
        .args(args)
        .args(["--database-url", &app.database_url, "--data-dir"])
        .arg(&app.data_dir)
        .env_remove(LICENSE_KEY_SECRET_VAR);
    if let Some(secret) = secret {
        command.env(LICENSE_KEY_SECRET_VAR, secret);
    }
    command.output().unwrap()
}

async fn an_encrypted_key_needs_its_secret_to_start(app: TestApp) {
    const SECRET: &str = "the operator's first secret";
    // The server started without a secret; starting with one encrypts its key.
    let kid = app.state.license_keys.kid();
    accepted(&cli_with_secret(&app, &["migrate"], Some(SECRET)));
    let missing = cli_with_secret(&app, &["migrate"], None);
    refused_with(
        &missing,
        &format!("license signing key {kid} is stored encrypted, and no license key secret"),
    );
    refused_with(&missing, LICENSE_KEY_SECRET_VAR);
    let wrong = cli_with_secret(&app, &["migrate"], Some("a secret of somebody else"));
    refused_with(
        &wrong,
        &format!("the license key secret does not decrypt license signing key {kid}"),
    );
    accepted(&cli_with_secret(&app, &["migrate"], Some(SECRET)));
    let state = server::startup::connect_without_license_keys(&server::config::Config {
        database_url: Some(app.database_url.clone()),
        data_dir: app.data_dir.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    let secret = EncryptionSecret::new(SECRET).unwrap();
    let loaded = SigningKeys::load_or_create(&state.db, Some(&secret))
        .await
        .unwrap();
    assert_eq!(loaded.kid(), kid);

    // The secret lost: a new key, under a new secret, replaces the one nobody can read.
    let new_secret = "the operator's second secret";
    accepted(&cli_with_secret(
        &app,
        &["admin", "rotate-license-key"],
        Some(new_secret),
    ));
    accepted(&cli_with_secret(&app, &["migrate"], Some(new_secret)));
}

/// The README's `lang` block under "Verifying a license key".
fn readme_snippet(lang: &str) -> String {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("### Verifying a license key")
        .nth(1)
        .expect("the README has the section");
    let fence = format!("```{lang}\n");
    let start = section.find(&fence).expect("a snippet") + fence.len();
    let len = section[start..].find("```").unwrap();
    section[start..start + len].to_owned()
}

/// A real key; one whose claims were edited (the licensee renamed), keeping the signature;
/// another marketplace's; an expired one; one with a byte flipped (which a buyer's check may
/// refuse for its JSON before its signature); and the key set.
fn buyer_cases() -> (Vec<String>, serde_json::Value) {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    let keys = SigningKeys::ephemeral().unwrap();
    let real = keys.issue(&grant(None));
    let parts: Vec<&str> = real.split('.').collect();
    let claims = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let edited = claims.replace("\"alice\"", "\"mallory\"");
    assert_ne!(edited, claims);
    let tampered = format!("bzr1.{}.{}", URL_SAFE_NO_PAD.encode(edited), parts[2]);
    let cases = vec![
        real.clone(),
        tampered,
        SigningKeys::ephemeral().unwrap().issue(&grant(None)),
        keys.issue(&grant(Some(1_700_000_000))),
        flip_a_byte(&real),
    ];
    (cases, serde_json::to_value(keys.key_set()).unwrap())
}

#[test]
fn the_readme_rust_check_is_the_one_tested_here() {
    assert_eq!(
        readme_snippet("rust"),
        include_str!("support/verify_license.rs")
    );
    let (cases, key_set) = buyer_cases();
    let now = Utc::now().timestamp();
    let said: Vec<String> = cases
        .iter()
        .map(
            |key| match readme_rust::verify_license(key, &key_set, now) {
                Ok(claims) => claims["model"]["name"].as_str().unwrap().to_owned(),
                Err(e) => e.to_string(),
            },
        )
        .collect();
    assert_eq!(
        said[..4],
        [
            "acme/sentiment",
            "the license key has been altered",
            "signed by another key",
            "the license has expired"
        ]
    );
    assert_ne!(said[4], "acme/sentiment", "a flipped byte is refused");
}

/// A Python with the `cryptography` package: the S3 stand-in's virtualenv has it (moto
/// depends on it), else the system's.
fn python_with_cryptography() -> Option<std::path::PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/moto-venv/bin/python");
    [venv, "python3".into()].into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import cryptography"])
            .output()
            .is_ok_and(|out| out.status.success())
    })
}

#[test]
fn the_readme_python_check_accepts_a_real_key_and_refuses_the_rest() {
    let Some(python) = python_with_cryptography() else {
        eprintln!("skipped: no Python with the cryptography package (run scripts/setup.sh)");
        return;
    };
    let (cases, key_set) = buyer_cases();
    let dir = tempfile::tempdir().unwrap();
    let key_set_path = dir.path().join("key-set.json");
    std::fs::write(&key_set_path, key_set.to_string()).unwrap();
    let script = format!(
        "{}\n\
         import sys\n\
         key_set = json.load(open(sys.argv[1]))\n\
         for key in sys.argv[2:]:\n\
         \x20   try:\n\
         \x20       print(verify_license(key, key_set)['model']['name'])\n\
         \x20   except Exception as e:\n\
         \x20       print(type(e).__name__, e)\n",
        readme_snippet("python")
    );
    let output = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(&key_set_path)
        .args(&cases)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let said: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        said[..4],
        [
            "acme/sentiment",
            "InvalidSignature ",
            "ValueError signed by another key",
            "ValueError the license has expired"
        ]
    );
    assert_ne!(said[4], "acme/sentiment", "a flipped byte is refused");
}
