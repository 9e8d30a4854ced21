//! Offline verification of a takeout (`broker verify-bundle`): no database, no network, nothing
//! but the file and, when the caller pins them, the broker's keys.
//!
//! In order, stopping at the first failure: the bundle's own signature (ES256, `typ`
//! `takeout+jwt`) by a trusted key; every checkpoint's signature, and that it signs the size and
//! root the bundle lists; every audit record's leaf (`SHA-256(0x00 ‖ entry)`), that its entry is
//! about the bundle's citizen at the proof's index, and its inclusion proof up to its
//! checkpoint's root (RFC 9162 §2.1.3.2); every receipt's signature and that it is the receipt of
//! the consent it sits under; and that the export's own record is among the proven ones.
//!
//! Trusted keys are the bundle's `jwks` unless the caller pins a set: a bundle's keys only prove
//! that whoever made it held them, so pin the broker's published keys (`/api/v1/audit/keys`) to
//! know it was the broker.

use std::collections::BTreeMap;

use audit::{Checkpoint, Hash, Record};
use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use serde::Deserialize;

use super::{BUNDLE_TYPE, BUNDLE_VERSION, JwkSet, ProofEntry, ReceiptEntry, TAKEOUT_TYP};
use crate::consents::receipts::{RECEIPT_TYP, SignedReceipt};
use crate::jose::{b64_decode, split_compact};
use crate::keys::Jwk;

/// Why a bundle was refused. Messages name records, consents and keys, never a value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("the payload is not a takeout: {0}")]
    Payload(String),
    #[error("the bundle is not signed with ES256 and `typ` `takeout+jwt`")]
    Header,
    #[error("key `{0}` is not among the trusted keys")]
    UnknownKey(String),
    #[error("key `{0}` is not its own RFC 7638 thumbprint")]
    KeyId(String),
    #[error("the bundle's signature does not verify")]
    Signature,
    #[error("checkpoint of tree size {size}: {reason}")]
    Checkpoint { size: u64, reason: String },
    #[error("audit record `{id}`: {reason}")]
    Record { id: String, reason: String },
    #[error("the receipt of consent `{consent}`: {reason}")]
    Receipt {
        consent: String,
        reason: &'static str,
    },
    #[error("the export's own record `{0}` is not among the proven records")]
    ExportMissing(String),
}

/// What a bundle that verified holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub issuer: String,
    /// The key that signed the bundle.
    pub kid: String,
    pub facts: usize,
    pub fact_versions: usize,
    pub consents: usize,
    pub receipts: usize,
    pub records: usize,
    /// The largest checkpoint the proofs lead to.
    pub tree_size: u64,
}

impl std::fmt::Display for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ok: takeout from {} signed by key {}: {} facts ({} versions), {} consents ({} receipts \
             verified), {} audit records proven against the signed checkpoint of tree size {}",
            self.issuer,
            self.kid,
            self.facts,
            self.fact_versions,
            self.consents,
            self.receipts,
            self.records,
            self.tree_size
        )
    }
}

// What verification reads of the payload (the rest is the citizen's to read).
#[derive(Deserialize)]
struct Wire {
    iss: String,
    sub: String,
    #[serde(rename = "type")]
    kind: String,
    v: u64,
    export_record: String,
    facts: Vec<WireFact>,
    consents: Vec<WireConsent>,
    audit: WireAudit,
    jwks: JwkSet,
}

#[derive(Deserialize)]
struct WireFact {
    versions: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct WireConsent {
    id: String,
    receipt: Option<ReceiptEntry>,
}

#[derive(Deserialize)]
struct WireAudit {
    records: Vec<WireProven>,
    checkpoints: Vec<WireCheckpoint>,
}

#[derive(Deserialize)]
struct WireProven {
    record: WireRecord,
    proof: ProofEntry,
}

#[derive(Deserialize)]
struct WireRecord {
    id: String,
    entry: String,
    leaf_hash: String,
}

#[derive(Deserialize)]
struct WireCheckpoint {
    tree_size: u64,
    root_hash: String,
    jws: String,
}

/// Verifies `bundle` (the file's text), with the bundle's own keys or `pinned` ones.
pub fn verify(bundle: &str, pinned: Option<&[Jwk]>) -> Result<Verified, BundleError> {
    let token = bundle.trim();
    let (_, payload_b64, _) = split_compact(token).ok_or(BundleError::Malformed)?;
    let payload = b64_decode(payload_b64).map_err(|_| BundleError::Malformed)?;
    let wire: Wire = serde_json::from_slice(&payload)
        .map_err(|e| BundleError::Payload(first_line(&e.to_string())))?;
    if wire.kind != BUNDLE_TYPE || wire.v != BUNDLE_VERSION {
        return Err(BundleError::Payload(format!(
            "`type` {} version {} is not `{BUNDLE_TYPE}` version {BUNDLE_VERSION}",
            wire.kind, wire.v
        )));
    }
    let trusted = Trusted::new(pinned.unwrap_or(&wire.jwks.keys))?;
    let (header, _) = trusted.verify(token)?;
    if header.get("typ").and_then(|t| t.as_str()) != Some(TAKEOUT_TYP) {
        return Err(BundleError::Header);
    }
    let kid = header
        .get("kid")
        .and_then(|k| k.as_str())
        .unwrap_or_default()
        .to_owned();

    let mut roots = BTreeMap::new();
    for cp in &wire.audit.checkpoints {
        let bad = |reason: String| BundleError::Checkpoint {
            size: cp.tree_size,
            reason,
        };
        let (header, payload) = trusted.verify(&cp.jws).map_err(|e| bad(e.to_string()))?;
        if header.get("typ").and_then(|t| t.as_str()) != Some("checkpoint+jws") {
            return Err(bad("not a checkpoint signature (`typ`)".into()));
        }
        let signed = Checkpoint::from_canonical(&payload).map_err(|e| bad(e.to_string()))?;
        let listed = Hash::from_hex(&cp.root_hash).map_err(|e| bad(e.to_string()))?;
        if signed.tree_size != cp.tree_size || signed.root_hash != listed {
            return Err(bad(
                "the signed size or root differs from the one listed".into()
            ));
        }
        roots.insert(cp.tree_size, signed.root_hash);
    }

    for proven in &wire.audit.records {
        check_record(proven, &wire.sub, &roots)?;
    }

    let mut receipts = 0;
    for consent in &wire.consents {
        let Some(receipt) = &consent.receipt else {
            continue;
        };
        let bad = |reason| BundleError::Receipt {
            consent: consent.id.clone(),
            reason,
        };
        let (header, payload) = trusted
            .verify(&receipt.jws)
            .map_err(|_| bad("its signature does not verify with a trusted key"))?;
        if header.get("typ").and_then(|t| t.as_str()) != Some(RECEIPT_TYP) {
            return Err(bad("not a consent receipt (`typ`)"));
        }
        let signed: SignedReceipt =
            serde_json::from_slice(&payload).map_err(|_| bad("its claims do not decode"))?;
        if signed.claims.consent_id.to_string() != consent.id
            || signed.claims.consent_receipt_id != receipt.id
        {
            return Err(bad("it is the receipt of another consent"));
        }
        receipts += 1;
    }

    if !wire
        .audit
        .records
        .iter()
        .any(|r| r.record.id == wire.export_record)
    {
        return Err(BundleError::ExportMissing(wire.export_record));
    }
    Ok(Verified {
        issuer: wire.iss,
        kid,
        facts: wire.facts.len(),
        fact_versions: wire.facts.iter().map(|f| f.versions.len()).sum(),
        consents: wire.consents.len(),
        receipts,
        records: wire.audit.records.len(),
        tree_size: roots.keys().next_back().copied().unwrap_or(0),
    })
}

/// One record: its leaf, its entry (this citizen's, at the proof's index) and its proof.
fn check_record(
    proven: &WireProven,
    citizen: &str,
    roots: &BTreeMap<u64, Hash>,
) -> Result<(), BundleError> {
    let bad = |reason: String| BundleError::Record {
        id: proven.record.id.chars().take(64).collect(),
        reason,
    };
    let entry =
        b64_decode(&proven.record.entry).map_err(|_| bad("its entry is not base64url".into()))?;
    let leaf = audit::leaf_hash(&entry);
    if Hash::from_hex(&proven.record.leaf_hash).ok() != Some(leaf) {
        return Err(bad("its entry does not hash to its leaf hash".into()));
    }
    let record = Record::from_canonical(&entry).map_err(|e| bad(e.to_string()))?;
    let proof = &proven.proof;
    if record.id != proven.record.id
        || record.citizen_id.as_deref() != Some(citizen)
        || record.seq != proof.leaf_index
    {
        return Err(bad(
            "its entry is not this citizen's record at the proof's index".into(),
        ));
    }
    let root = roots
        .get(&proof.tree_size)
        .ok_or_else(|| bad(format!("no checkpoint of tree size {}", proof.tree_size)))?;
    let path = proof
        .path
        .iter()
        .map(|h| Hash::from_hex(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    audit::verify_inclusion(&leaf, proof.leaf_index, proof.tree_size, &path, root).map_err(|e| {
        bad(format!(
            "its inclusion proof does not lead to the checkpoint's root ({e})"
        ))
    })
}

/// The keys signatures are checked with, by `kid`.
struct Trusted(BTreeMap<String, Vec<u8>>);

impl Trusted {
    fn new(keys: &[Jwk]) -> Result<Self, BundleError> {
        let mut by_kid = BTreeMap::new();
        for jwk in keys {
            let point = point_of(jwk).ok_or_else(|| BundleError::KeyId(short(&jwk.kid)))?;
            if thumbprint(jwk) != jwk.kid {
                return Err(BundleError::KeyId(short(&jwk.kid)));
            }
            by_kid.insert(jwk.kid.clone(), point);
        }
        Ok(Self(by_kid))
    }

    /// Checks an ES256 compact JWS; returns its header and payload.
    fn verify(&self, jws: &str) -> Result<(serde_json::Value, Vec<u8>), BundleError> {
        let (h, p, s) = split_compact(jws.trim()).ok_or(BundleError::Malformed)?;
        let header: serde_json::Value = b64_decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(BundleError::Malformed)?;
        if header.get("alg").and_then(|a| a.as_str()) != Some("ES256") {
            return Err(BundleError::Header);
        }
        let kid = header.get("kid").and_then(|k| k.as_str()).unwrap_or("");
        let point = self
            .0
            .get(kid)
            .ok_or_else(|| BundleError::UnknownKey(short(kid)))?;
        let signature = b64_decode(s).map_err(|_| BundleError::Malformed)?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .verify(format!("{h}.{p}").as_bytes(), &signature)
            .map_err(|_| BundleError::Signature)?;
        let payload = b64_decode(p).map_err(|_| BundleError::Malformed)?;
        Ok((header, payload))
    }
}

/// The uncompressed P-256 point of an EC JWK.
fn point_of(jwk: &Jwk) -> Option<Vec<u8>> {
    let x = b64_decode(&jwk.x).ok()?;
    let y = b64_decode(&jwk.y).ok()?;
    if jwk.kty != "EC" || jwk.crv != "P-256" || x.len() != 32 || y.len() != 32 {
        return None;
    }
    Some([&[4u8][..], &x, &y].concat())
}

/// RFC 7638 thumbprint (members in lexicographic order, no whitespace).
fn thumbprint(jwk: &Jwk) -> String {
    let input = format!(
        r#"{{"crv":"{}","kty":"{}","x":"{}","y":"{}"}}"#,
        jwk.crv, jwk.kty, jwk.x, jwk.y
    );
    crate::jose::b64(ring::digest::digest(
        &ring::digest::SHA256,
        input.as_bytes(),
    ))
}

fn short(text: &str) -> String {
    text.chars().take(64).collect()
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}
