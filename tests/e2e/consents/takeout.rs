//! The citizen's takeout end to end: a signed-in citizen finds the link on their dashboard (in
//! English and French), downloads `/me/export` from the real broker, `broker verify-bundle`
//! accepts it (with the keys it carries and with the broker's published keys pinned), the
//! independent `jose` library verifies its signature against `/jwks.json`, and one byte changed
//! in a value, a proof or a receipt is refused — a proof or receipt even when the whole bundle is
//! signed again with the broker's own key. The export is in the citizen's activity.

use std::path::Path;
use std::process::Command;

use broker_e2e::citizens::signed_in;
use broker_e2e::peers::run_node;
use serde_json::{Value, json};
use services::citizens::{Provenance, SourceKind};

use super::*;

const TYP: &str = "takeout+jwt";

/// `broker verify-bundle FILE [args]`, offline: (exit code, stdout, stderr).
fn verify_bundle(file: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(broker_bin())
        .arg("verify-bundle")
        .arg(file)
        .args(args)
        .env_clear()
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn payload_of(jws: &str) -> Value {
    let part = jws.split('.').nth(1).unwrap();
    serde_json::from_slice(&services::jose::b64_decode(part).unwrap()).unwrap()
}

/// `jws` with its payload replaced by `payload` (exact bytes), the signature kept.
fn with_payload(jws: &str, payload: &[u8]) -> String {
    let parts: Vec<&str> = jws.split('.').collect();
    format!("{}.{}.{}", parts[0], services::jose::b64(payload), parts[2])
}

/// Flips one hex digit.
fn flip_hex(v: &mut Value) {
    let s = v.as_str().unwrap().to_owned();
    let first = if s.starts_with('0') { "1" } else { "0" };
    *v = Value::String(format!("{first}{}", &s[1..]));
}

/// One byte of a compact JWS's payload changed (still base64url), its signature kept.
fn one_byte_of(jws: &str) -> String {
    let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
    let mut bytes = services::jose::b64_decode(&parts[1]).unwrap();
    let at = bytes.len() / 2;
    bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
    parts[1] = services::jose::b64(&bytes);
    parts.join(".")
}

#[tokio::test]
async fn a_citizen_downloads_a_takeout_that_verifies_offline_and_with_jose_and_tampering_is_refused()
 {
    let w = World::start(BrokerEnv::default()).await;
    let alice = signed_in(&w.conn, &w.broker, 3).await;
    let services = broker_e2e::services_for(&w.broker.env, &w.conn);
    let provenance = Provenance {
        source_kind: SourceKind::Department,
        source_id: REVENUE.to_owned(),
        method: "registry".to_owned(),
        loa: 3,
        verified: true,
        recorded_at: store::now_ms(),
    };
    for street in ["1 Old Road", "2 New Street"] {
        services::citizens::record(
            &w.conn,
            &services.vault,
            &alice.citizen_id,
            "address",
            &json!({"street_address": street, "locality": "Ottawa"}),
            &provenance,
        )
        .await
        .unwrap();
    }
    let (consent, receipt) = pension_consent(&w, &alice.citizen_id, ::consent::Mode::Once).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = format!("tuo_session={}", alice.cookie);

    // The dashboard links to it, in English and in French.
    for (lang, words) in [
        ("en", "Download my data"),
        ("fr", "Télécharger mes données"),
    ] {
        let page = http
            .get(w.broker.url("/me"))
            .header("Cookie", &cookie)
            .header("Accept-Language", lang)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains(r#"href="/me/export""#), "{lang}: {html}");
        assert!(html.contains(words), "{lang}: {html}");
    }
    // Only for a signed-in citizen.
    let anonymous = http.get(w.broker.url("/me/export")).send().await.unwrap();
    assert_eq!(anonymous.status(), 303);

    // The download.
    let res = http
        .get(w.broker.url("/me/export"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/jose");
    let disposition = res.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"takeout-")
            && disposition.ends_with(".jws\""),
        "{disposition}"
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
    let jws = res.text().await.unwrap();
    let bundle = payload_of(&jws);
    assert_eq!(bundle["sub"], alice.citizen_id.as_str());
    assert_eq!(bundle["facts"][0]["attribute"], "address");
    assert_eq!(
        bundle["facts"][0]["versions"][0]["value"]["street_address"],
        "2 New Street"
    );
    assert_eq!(
        bundle["facts"][0]["versions"][1]["value"]["street_address"],
        "1 Old Road"
    );
    assert_eq!(bundle["consents"][0]["id"], consent.id().to_string());
    assert_eq!(
        bundle["consents"][0]["receipt"]["jws"],
        receipt.jws.as_str()
    );
    let actions: Vec<&str> = bundle["audit"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["record"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["consent-granted", "citizen-export"]);

    // `broker verify-bundle` accepts it, with its own keys and with the broker's pinned.
    let files = temp_dir();
    let file = files.path().join("takeout.jws");
    std::fs::write(&file, &jws).unwrap();
    let (code, out, err) = verify_bundle(&file, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.starts_with("ok: takeout from "), "{out}");
    assert!(
        out.contains("1 facts (2 versions), 1 consents (1 receipts verified), 2 audit records"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1, "{out}");
    let keys = http
        .get(w.broker.url("/api/v1/audit/keys"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let pinned = files.path().join("keys.json");
    std::fs::write(&pinned, keys).unwrap();
    let (code, out, err) = verify_bundle(&file, &["--jwks", pinned.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");

    // An independent JOSE implementation verifies it against the published keys.
    let jose = |token: &str| {
        let args: Vec<String> = vec![
            "--jwks".into(),
            w.broker.url("/jwks.json"),
            "--typ".into(),
            TYP.into(),
            "--iss".into(),
            w.broker.base.clone(),
        ];
        let (ok, out, err) = run_node("verify-jws.mjs", &args, Some(token));
        let json: Value =
            serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("{out}\n{err}"));
        (ok, json)
    };
    let (ok, verified) = jose(&jws);
    assert!(ok, "{verified}");
    assert_eq!(verified["header"]["typ"], TYP);
    assert_eq!(verified["payload"]["sub"], alice.citizen_id.as_str());
    let (ok, refused) = jose(&one_byte_of(&jws));
    assert!(!ok, "{refused}");

    let refused = |token: &str, why: &str| {
        std::fs::write(&file, token).unwrap();
        let (code, out, err) = verify_bundle(&file, &[]);
        assert_eq!(code, 2, "{why}: {out}\n{err}");
        assert!(out.starts_with("REFUSED: "), "{why}: {out}");
        assert_eq!(out.lines().count(), 1, "{out}");
        out
    };

    // One byte of a value, the signature kept: the bundle's signature refuses it.
    let text =
        String::from_utf8(services::jose::b64_decode(jws.split('.').nth(1).unwrap()).unwrap())
            .unwrap();
    let edited = text.replacen("2 New Street", "3 New Street", 1);
    assert_ne!(edited, text);
    let out = refused(&with_payload(&jws, edited.as_bytes()), "a value");
    assert!(out.contains("signature does not verify"), "{out}");

    // One hex digit of a proof: refused as it is, and refused when signed again with the broker's
    // key (what an operator holding the key could do): the proof no longer reaches the root.
    let mut forged = bundle.clone();
    let path = &mut forged["audit"]["records"][0]["proof"]["path"];
    if path.as_array().unwrap().is_empty() {
        *path = json!([audit::empty_root().to_hex()]);
    } else {
        flip_hex(&mut path[0]);
    }
    let bytes = serde_json::to_vec(&forged).unwrap();
    let out = refused(&with_payload(&jws, &bytes), "a proof");
    assert!(out.contains("signature does not verify"), "{out}");
    let out = refused(
        &services.keys.sign(Some(TYP), &forged).unwrap(),
        "a proof, re-signed",
    );
    assert!(out.contains("inclusion proof"), "{out}");

    // One byte of a receipt: likewise, and re-signed, the receipt's own signature refuses it.
    let mut forged = bundle.clone();
    let receipt = forged["consents"][0]["receipt"]["jws"].as_str().unwrap();
    forged["consents"][0]["receipt"]["jws"] = Value::String(one_byte_of(receipt));
    let bytes = serde_json::to_vec(&forged).unwrap();
    let out = refused(&with_payload(&jws, &bytes), "a receipt");
    assert!(out.contains("signature does not verify"), "{out}");
    let out = refused(
        &services.keys.sign(Some(TYP), &forged).unwrap(),
        "a receipt, re-signed",
    );
    assert!(out.contains("the receipt of consent"), "{out}");

    // The export is in the citizen's activity, in their words.
    broker_e2e::audit_settled(&w.conn).await;
    let activity = http
        .get(w.broker.url("/me/activity"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        activity.contains("Takeout downloaded by the citizen"),
        "{activity}"
    );
}
