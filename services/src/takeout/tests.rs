//! The takeout's content (facts with every version and value, consents with their receipts,
//! the citizen's audit records with proofs, the keys), that the export is itself recorded, and
//! that `verify` accepts the bundle and refuses each kind of tampering, even re-signed.

use consent::{DAY_MS, Mode};
use serde_json::{Value, json};

use super::verify::{BundleError, verify};
use super::{TAKEOUT_TYP, Takeout};
use crate::citizens::{self, Provenance, SourceKind};
use crate::consents::ledger::{self, ImportInput};
use crate::lang::Lang;
use crate::testing::TestServices;
use store::now_ms;

struct Harness {
    h: TestServices,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The services, with the audit integrator running as in `broker serve` (PostgreSQL queues).
async fn harness() -> Harness {
    let h = TestServices::new().await;
    let (stop, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(crate::audit_log::integrate::run(
        h.audit.clone(),
        h.metrics.clone(),
        rx,
    ));
    Harness { h, stop }
}

fn takeout(h: &TestServices) -> Takeout {
    h.services.takeout.clone()
}

fn provenance(kind: SourceKind, source: &str, loa: u8) -> Provenance {
    Provenance {
        source_kind: kind,
        source_id: source.to_owned(),
        method: "registry".to_owned(),
        loa,
        verified: true,
        recorded_at: now_ms(),
    }
}

/// A citizen with two versions of their address, a birthdate and one imported consent.
async fn alice(h: &TestServices) -> (String, String) {
    let id = citizens::create(&h.db, &h.vault).await.unwrap();
    let old = json!({"street_address": "1 Old Road", "locality": "Ottawa"});
    let new = json!({"street_address": "2 New Street", "locality": "Gatineau"});
    let dept = provenance(SourceKind::Department, "revenue-agency", 3);
    citizens::record(&h.db, &h.vault, &id, "address", &old, &dept)
        .await
        .unwrap();
    citizens::record(&h.db, &h.vault, &id, "address", &new, &dept)
        .await
        .unwrap();
    citizens::record(
        &h.db,
        &h.vault,
        &id,
        "birthdate",
        &json!("1980-02-29"),
        &provenance(SourceKind::Provider, "test-idp", 2),
    )
    .await
    .unwrap();
    let now = now_ms();
    let (consent, _) = ledger::import(
        &h.ledger,
        "test-fixture",
        ImportInput {
            citizen: id.clone(),
            department: "employment-social-development".to_owned(),
            purpose: "pension-enrolment".to_owned(),
            mode: Mode::Once,
            attributes: vec!["birthdate".to_owned()],
            granted_at_ms: now - DAY_MS,
            expires_at_ms: now + 30 * DAY_MS,
            loa: 3,
            lang: Lang::En,
        },
    )
    .await
    .unwrap();
    (id, consent.id().to_string())
}

fn payload(jws: &str) -> Value {
    let (_, p, _) = crate::jose::split_compact(jws).unwrap();
    serde_json::from_slice(&crate::jose::b64_decode(p).unwrap()).unwrap()
}

/// The bundle with `change` applied to its payload, signed again with the broker's own key: what
/// an operator holding the key could make. Only the inner signatures and proofs can catch it.
fn resigned(h: &TestServices, jws: &str, change: impl FnOnce(&mut Value)) -> String {
    let mut p = payload(jws);
    change(&mut p);
    h.keys.sign(Some(TAKEOUT_TYP), &p).unwrap()
}

/// Flips one hex digit (keeps it hex).
fn flip_hex(text: &mut Value) {
    let s = text.as_str().unwrap().to_owned();
    let first = if s.starts_with('0') { "1" } else { "0" };
    *text = Value::String(format!("{first}{}", &s[1..]));
}

#[tokio::test]
async fn the_bundle_holds_every_fact_version_consent_receipt_and_record_about_the_citizen() {
    let t = harness().await;
    let h = &t.h;
    let (alice, consent_id) = alice(h).await;
    let (bob, _) = self::alice(h).await;
    let export = takeout(h).export(&alice).await.unwrap();
    assert!(export.file_name.starts_with("takeout-") && export.file_name.ends_with(".jws"));

    // Signed by the broker's current key, as a takeout.
    let (header, _) = h.keys.verify(&export.jws).unwrap();
    assert_eq!(header["typ"], TAKEOUT_TYP);
    assert_eq!(header["kid"], h.keys.current_kid().as_str());
    let b = payload(&export.jws);
    assert_eq!(b["type"], "takeout");
    assert_eq!(b["v"], 1);
    assert_eq!(b["iss"], crate::testing::ISSUER);
    assert_eq!(b["sub"], alice.as_str());

    // Facts: every version, newest first, values and provenance included.
    let facts = b["facts"].as_array().unwrap();
    let attributes: Vec<&str> = facts
        .iter()
        .map(|f| f["attribute"].as_str().unwrap())
        .collect();
    assert_eq!(attributes, ["address", "birthdate"]);
    let address = &facts[0]["versions"];
    assert_eq!(address[0]["version"], 2);
    assert_eq!(address[0]["value"]["street_address"], "2 New Street");
    assert_eq!(address[1]["version"], 1);
    assert_eq!(address[1]["value"]["street_address"], "1 Old Road");
    assert_eq!(address[0]["provenance"]["source_id"], "revenue-agency");
    assert_eq!(address[0]["provenance"]["loa"], 3);
    assert_eq!(facts[1]["versions"][0]["value"], "1980-02-29");
    assert_eq!(
        facts[1]["versions"][0]["provenance"]["source_kind"],
        "provider"
    );
    assert_eq!(facts[1]["versions"][0]["provenance"]["loa"], 2);

    // The consent, its history and its receipt (the very one the ledger stored).
    let consents = b["consents"].as_array().unwrap();
    assert_eq!(consents.len(), 1);
    assert_eq!(consents[0]["id"], consent_id.as_str());
    assert_eq!(consents[0]["effective_state"], "active");
    assert_eq!(consents[0]["history"][0]["change"]["type"], "granted");
    let stored = crate::consents::receipts::for_consent(&h.db, &consent_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(consents[0]["receipt"]["jws"], stored.jws.as_str());
    assert_eq!(consents[0]["receipt"]["loa"], 3);

    // Alice's records only, oldest first, ending with this export; all proven against the one
    // checkpoint listed.
    let records = b["audit"]["records"].as_array().unwrap();
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["record"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["consent-granted", "citizen-export"]);
    assert!(
        records
            .iter()
            .all(|r| r["record"]["citizen_id"] == alice.as_str())
    );
    assert!(
        records
            .iter()
            .all(|r| r["record"]["citizen_id"] != bob.as_str())
    );
    assert_eq!(records[1]["record"]["id"], export.record_id.as_str());
    assert_eq!(b["export_record"], export.record_id.as_str());
    let checkpoints = b["audit"]["checkpoints"].as_array().unwrap();
    assert_eq!(checkpoints.len(), 1);
    assert!(
        records
            .iter()
            .all(|r| r["proof"]["tree_size"] == checkpoints[0]["tree_size"])
    );
    let keys = b["jwks"]["keys"].as_array().unwrap();
    assert_eq!(keys[0]["kid"], h.keys.current_kid().as_str());

    let verified = verify(&export.jws, None).unwrap();
    assert_eq!(
        (
            verified.facts,
            verified.fact_versions,
            verified.consents,
            verified.receipts,
            verified.records
        ),
        (2, 3, 1, 1, 2)
    );
    assert!(verified.to_string().starts_with("ok: takeout from "));
    // Pinned to the broker's published keys, too.
    verify(&export.jws, Some(&h.keys.published())).unwrap();
}

#[tokio::test]
async fn each_export_is_recorded_as_a_citizen_export_by_the_citizen() {
    let t = harness().await;
    let h = &t.h;
    let (alice, _) = alice(h).await;
    let first = takeout(h).export(&alice).await.unwrap();
    let second = takeout(h).export(&alice).await.unwrap();
    let row = crate::audit_log::query::by_id(&h.db, &second.record_id)
        .await
        .unwrap()
        .unwrap();
    let record = audit::Record::from_canonical(&row.entry).unwrap();
    assert_eq!(record.action, audit::Action::CitizenExport);
    assert_eq!(record.actor.kind, audit::ActorKind::Citizen);
    assert_eq!(record.actor.id, alice);
    assert_eq!(record.citizen_id.as_deref(), Some(alice.as_str()));
    // The second bundle proves the first export too.
    let b = payload(&second.jws);
    let ids: Vec<&str> = b["audit"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["record"]["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&first.record_id.as_str()));
    assert!(ids.contains(&second.record_id.as_str()));
}

#[tokio::test]
async fn tampering_is_refused_whether_or_not_the_bundle_is_signed_again() {
    let t = harness().await;
    let h = &t.h;
    let (alice, consent_id) = alice(h).await;
    let jws = takeout(h).export(&alice).await.unwrap().jws;
    verify(&jws, None).unwrap();

    // One byte of a value, the signature left as it was.
    let (head, p, sig) = crate::jose::split_compact(&jws).unwrap();
    let text = String::from_utf8(crate::jose::b64_decode(p).unwrap()).unwrap();
    let edited = text.replacen("2 New Street", "3 New Street", 1);
    assert_ne!(edited, text);
    let forged = format!("{head}.{}.{sig}", crate::jose::b64(edited.as_bytes()));
    assert_eq!(verify(&forged, None), Err(BundleError::Signature));

    // A proof's hash, re-signed by the broker's key: the proof no longer reaches the root.
    let forged = resigned(h, &jws, |b| {
        let path = &mut b["audit"]["records"][0]["proof"]["path"];
        if path.as_array().unwrap().is_empty() {
            *path = json!([audit::empty_root().to_hex()]);
        } else {
            flip_hex(&mut path[0]);
        }
    });
    assert!(
        matches!(verify(&forged, None), Err(BundleError::Record { ref reason, .. }) if reason.contains("inclusion proof")),
        "{:?}",
        verify(&forged, None)
    );

    // A record's entry, re-signed: it no longer hashes to its leaf.
    let forged = resigned(h, &jws, |b| {
        let entry = &mut b["audit"]["records"][0]["record"]["entry"];
        let mut bytes = crate::jose::b64_decode(entry.as_str().unwrap()).unwrap();
        bytes[2] ^= 1;
        *entry = Value::String(crate::jose::b64(&bytes));
    });
    assert!(matches!(
        verify(&forged, None),
        Err(BundleError::Record { .. })
    ));

    // A receipt, one byte of its signed part changed, re-signed outside: its own signature fails.
    let forged = resigned(h, &jws, |b| {
        let receipt = &mut b["consents"][0]["receipt"]["jws"];
        let (rh, rp, rs) = {
            let s = receipt.as_str().unwrap();
            let (a, b, c) = crate::jose::split_compact(s).unwrap();
            (a.to_owned(), b.to_owned(), c.to_owned())
        };
        let mut claims = crate::jose::b64_decode(&rp).unwrap();
        let at = claims.len() / 2;
        claims[at] = if claims[at] == b'a' { b'b' } else { b'a' };
        *receipt = Value::String(format!("{rh}.{}.{rs}", crate::jose::b64(&claims)));
    });
    assert_eq!(
        verify(&forged, None),
        Err(BundleError::Receipt {
            consent: consent_id.clone(),
            reason: "its signature does not verify with a trusted key"
        })
    );

    // A checkpoint's listed root, re-signed: it differs from the signed one.
    let forged = resigned(h, &jws, |b| {
        flip_hex(&mut b["audit"]["checkpoints"][0]["root_hash"]);
    });
    assert!(matches!(
        verify(&forged, None),
        Err(BundleError::Checkpoint { .. })
    ));

    // The export's own record left out, re-signed.
    let forged = resigned(h, &jws, |b| {
        b["audit"]["records"].as_array_mut().unwrap().pop();
    });
    assert!(matches!(
        verify(&forged, None),
        Err(BundleError::ExportMissing(_))
    ));
}

#[tokio::test]
async fn a_bundle_signed_by_another_key_is_refused_when_the_brokers_keys_are_pinned() {
    let t = harness().await;
    let h = &t.h;
    let (alice, _) = alice(h).await;
    let jws = takeout(h).export(&alice).await.unwrap().jws;
    // Another broker's keys: the bundle verifies against its own keys, not against these.
    let other = TestServices::new().await;
    verify(&jws, None).unwrap();
    assert!(matches!(
        verify(&jws, Some(&other.keys.published())),
        Err(BundleError::UnknownKey(_))
    ));
    // Not a takeout at all: a consent receipt is refused for its payload.
    assert!(matches!(
        verify(
            &h.keys.sign(Some(TAKEOUT_TYP), &json!({"a": 1})).unwrap(),
            None
        ),
        Err(BundleError::Payload(_))
    ));
    assert_eq!(verify("not a jws", None), Err(BundleError::Malformed));
}
