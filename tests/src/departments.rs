//! Registering demo-like departments and clients directly in a test database, and driving the
//! real `openid-client` department peer.

use std::path::Path;

use services::departments::{self, Client, ClientKeys, Department};

use crate::peers::run_node;

/// A department with one client whose key pair the `keygen.mjs` peer generated.
pub struct TestDepartment {
    pub id: String,
    pub client_id: String,
    pub private_key_file: String,
    pub public_jwk: serde_json::Value,
}

pub fn keygen(dir: &Path, alg: &str, kid: &str) -> (String, serde_json::Value) {
    let private = dir.join(format!("{kid}-private.json"));
    let public = dir.join(format!("{kid}-public.json"));
    let args: Vec<String> = vec![
        "--alg".into(),
        alg.into(),
        "--kid".into(),
        kid.into(),
        "--out-private".into(),
        private.display().to_string(),
        "--out-public".into(),
        public.display().to_string(),
    ];
    let (ok, _, err) = run_node("keygen.mjs", &args, None);
    assert!(ok, "keygen failed: {err}");
    let jwk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&public).unwrap()).unwrap();
    (private.display().to_string(), jwk)
}

/// Registers `id` (active) with one client holding `scopes`, its key generated with `alg`.
pub async fn register<C: sea_orm::ConnectionTrait>(
    db: &C,
    dir: &Path,
    id: &str,
    sector: &str,
    alg: &str,
    scopes: &[&str],
) -> TestDepartment {
    departments::upsert(
        db,
        &Department {
            id: id.into(),
            name_en: format!("{id} (EN)"),
            name_fr: format!("{id} (FR)"),
            sector_identifier: sector.into(),
            active: true,
            authoritative_for: vec![],
            delivery: None,
        },
    )
    .await
    .unwrap();
    let client_id = format!("{id}-client");
    let (private_key_file, public_jwk) = keygen(dir, alg, &format!("{id}-key"));
    departments::upsert_client(
        db,
        &Client {
            client_id: client_id.clone(),
            department_id: id.into(),
            keys: ClientKeys::Inline(serde_json::json!({ "keys": [public_jwk.clone()] })),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
        },
    )
    .await
    .unwrap();
    TestDepartment {
        id: id.into(),
        client_id,
        private_key_file,
        public_jwk,
    }
}

/// Runs `department.mjs` (openid-client, unchanged) against the broker: discovery, a
/// client-credentials grant with `private_key_jwt`, then one API call. Returns its JSON line.
pub fn call(
    issuer: &str,
    dept: &TestDepartment,
    scope: Option<&str>,
    request: &[&str],
) -> serde_json::Value {
    let mut args: Vec<String> = vec![
        "--issuer".into(),
        issuer.into(),
        "--client-id".into(),
        dept.client_id.clone(),
        "--key".into(),
        dept.private_key_file.clone(),
    ];
    if let Some(scope) = scope {
        args.push("--scope".into());
        args.push(scope.into());
    }
    args.extend(request.iter().map(|s| s.to_string()));
    let (_, out, err) = run_node("department.mjs", &args, None);
    serde_json::from_str(out.lines().last().unwrap_or(""))
        .unwrap_or_else(|_| panic!("department.mjs said: {out}\n{err}"))
}
