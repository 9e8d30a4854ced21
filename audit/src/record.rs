//! The canonical audit record and its byte encoding.
//!
//! **The stored bytes are what is hashed.** On append the broker stores
//! [`Record::canonical_bytes`] verbatim (the `entry` column) and the leaf hash is
//! `SHA-256(0x00 || entry)` over those stored bytes. Nothing ever re-encodes a stored record to
//! recompute its hash: verification hashes the bytes as they are, so a future change to the
//! encoder cannot silently change past hashes. [`Record::from_canonical`] accepts only the exact
//! bytes [`Record::canonical_bytes`] would produce, so decode-then-encode is the identity and no
//! two byte strings decode to the same record.
//!
//! The encoding is JSON in RFC 8785 (JCS) form, see [`crate::canonical`]:
//!
//! ```text
//! {"action":"release","actor":{"id":"…","kind":"department"},"attributes":["address"],
//!  "citizen_id":"…","client_id":null,"consent_id":"…","department_id":"…","detail":{},
//!  "id":"…","outcome":"permit","purpose":"…","reasons":["…"],"request_id":null,"seq":7,
//!  "time_ms":1767225600000,"v":1}
//! ```
//! (shown wrapped; the real bytes have no whitespace). Every field is always present, `null`
//! when absent, members sorted by name, `v` is the format version.

mod kind;
mod stored;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use self::kind::{Action, ActorKind, Outcome};
pub use self::stored::StoredRecord;
use crate::canonical::Object;
use crate::error::EntryError;

/// The entry format version written in `v`.
pub const RECORD_FORMAT_VERSION: u64 = 1;

/// Who acted: a kind and an id whose meaning depends on the kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    /// What sort of party.
    pub kind: ActorKind,
    /// Its id (citizen id, department id, officer id, issuer, …).
    pub id: String,
}

impl Actor {
    /// An actor of `kind` with `id`.
    pub fn new(kind: ActorKind, id: impl Into<String>) -> Self {
        Self {
            kind,
            id: id.into(),
        }
    }
}

/// One audit record: who did what to whose data, when, why and with what result.
///
/// It names attributes, never their values: `attributes` holds catalogue names, and `detail` is
/// for small non-sensitive facts (a delivery status, a provider id, an attempt count). The crate
/// cannot tell a value from a name, so that rule is the caller's to keep.
///
/// The serde derives are for API responses and exports; the hashed form is
/// [`Record::canonical_bytes`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Leaf index in the tree; assigned by [`crate::Frontier::append`], do not set it yourself.
    pub seq: u64,
    /// The record id (UUID v7, made by the caller); returned to departments as `txn`.
    pub id: String,
    /// When it happened, Unix milliseconds.
    pub time_ms: i64,
    /// What happened.
    pub action: Action,
    /// How it ended.
    pub outcome: Outcome,
    /// Who did it.
    pub actor: Actor,
    /// The citizen whose data this is about.
    pub citizen_id: Option<String>,
    /// The department concerned (recipient of a release, sender of an update).
    pub department_id: Option<String>,
    /// The department's client that called.
    pub client_id: Option<String>,
    /// The registered purpose code.
    pub purpose: Option<String>,
    /// The consent that covered it.
    pub consent_id: Option<String>,
    /// The request (API call, consent request, delivery) it belongs to.
    pub request_id: Option<String>,
    /// Attribute names (never values).
    pub attributes: Vec<String>,
    /// Policy ids behind a decision, or denial codes.
    pub reasons: Vec<String>,
    /// Small non-sensitive facts.
    pub detail: BTreeMap<String, String>,
}

impl Record {
    /// A record with the required fields; everything optional empty and `seq` 0 until appended.
    pub fn new(
        id: impl Into<String>,
        time_ms: i64,
        action: Action,
        outcome: Outcome,
        actor: Actor,
    ) -> Self {
        Self {
            seq: 0,
            id: id.into(),
            time_ms,
            action,
            outcome,
            actor,
            citizen_id: None,
            department_id: None,
            client_id: None,
            purpose: None,
            consent_id: None,
            request_id: None,
            attributes: Vec::new(),
            reasons: Vec::new(),
            detail: BTreeMap::new(),
        }
    }

    /// The canonical bytes: store them verbatim, hash them with [`crate::leaf_hash`].
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(320);
        let mut o = Object::begin(&mut out);
        // INVARIANT: members in byte order of their names (all ASCII), as JCS requires.
        o.str("action", self.action.as_str());
        let mut actor = o.object("actor");
        actor.str("id", &self.actor.id);
        actor.str("kind", self.actor.kind.as_str());
        actor.end();
        o.str_array("attributes", &self.attributes);
        o.opt_str("citizen_id", self.citizen_id.as_deref());
        o.opt_str("client_id", self.client_id.as_deref());
        o.opt_str("consent_id", self.consent_id.as_deref());
        o.opt_str("department_id", self.department_id.as_deref());
        o.str_map("detail", &self.detail);
        o.str("id", &self.id);
        o.str("outcome", self.outcome.as_str());
        o.opt_str("purpose", self.purpose.as_deref());
        o.str_array("reasons", &self.reasons);
        o.opt_str("request_id", self.request_id.as_deref());
        o.u64("seq", self.seq);
        o.i64("time_ms", self.time_ms);
        o.u64("v", RECORD_FORMAT_VERSION);
        o.end();
        out
    }

    /// Decodes stored bytes, refusing anything but the exact canonical encoding.
    pub fn from_canonical(bytes: &[u8]) -> Result<Self, EntryError> {
        let wire: WireRecord = serde_json::from_slice(bytes).map_err(|err| {
            // A newer format would fail on its new fields; name the version rather than the field.
            match serde_json::from_slice::<VersionOnly>(bytes) {
                Ok(VersionOnly { v }) if v != RECORD_FORMAT_VERSION => EntryError::Version(v),
                _ => EntryError::from_json(&err),
            }
        })?;
        if wire.v != RECORD_FORMAT_VERSION {
            return Err(EntryError::Version(wire.v));
        }
        let record = Self {
            seq: wire.seq,
            id: wire.id,
            time_ms: wire.time_ms,
            action: wire.action,
            outcome: wire.outcome,
            actor: wire.actor,
            citizen_id: wire.citizen_id,
            department_id: wire.department_id,
            client_id: wire.client_id,
            purpose: wire.purpose,
            consent_id: wire.consent_id,
            request_id: wire.request_id,
            attributes: wire.attributes,
            reasons: wire.reasons,
            detail: wire.detail,
        };
        if record.canonical_bytes() != bytes {
            return Err(EntryError::NotCanonical);
        }
        Ok(record)
    }
}

/// The decoding side of the canonical form. Missing `Option` fields decode as `None` here, and
/// the re-encoding check then refuses them (canonical bytes always carry `null`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRecord {
    action: Action,
    actor: Actor,
    attributes: Vec<String>,
    citizen_id: Option<String>,
    client_id: Option<String>,
    consent_id: Option<String>,
    department_id: Option<String>,
    detail: BTreeMap<String, String>,
    id: String,
    outcome: Outcome,
    purpose: Option<String>,
    reasons: Vec<String>,
    request_id: Option<String>,
    seq: u64,
    time_ms: i64,
    v: u64,
}

#[derive(Deserialize)]
struct VersionOnly {
    v: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Record {
        let mut r = Record::new(
            "01890a5d-ac96-774b-bcce-b302099a8057",
            1_767_225_600_000,
            Action::Release,
            Outcome::Permit,
            Actor::new(ActorKind::Department, "revenue-agency"),
        );
        r.seq = 7;
        r.citizen_id = Some("0189-citizen".into());
        r.department_id = Some("revenue-agency".into());
        r.purpose = Some("benefit-eligibility".into());
        r.consent_id = Some("0189-consent".into());
        r.attributes = vec!["address".into(), "birthdate".into()];
        r.reasons = vec!["policy-7".into()];
        r.detail.insert("via".into(), "pull".into());
        r
    }

    #[test]
    fn encoding_is_pinned() {
        // A change here changes every leaf hash ever computed: it needs a new format version.
        let expected = concat!(
            r#"{"action":"release","actor":{"id":"revenue-agency","kind":"department"},"#,
            r#""attributes":["address","birthdate"],"citizen_id":"0189-citizen","client_id":null,"#,
            r#""consent_id":"0189-consent","department_id":"revenue-agency","detail":{"via":"pull"},"#,
            r#""id":"01890a5d-ac96-774b-bcce-b302099a8057","outcome":"permit","#,
            r#""purpose":"benefit-eligibility","reasons":["policy-7"],"request_id":null,"seq":7,"#,
            r#""time_ms":1767225600000,"v":1}"#
        );
        assert_eq!(
            String::from_utf8(full().canonical_bytes()).unwrap(),
            expected
        );
    }

    #[test]
    fn round_trips_and_matches_a_generic_sorted_encoding() {
        let r = full();
        let bytes = r.canonical_bytes();
        assert_eq!(Record::from_canonical(&bytes).unwrap(), r);
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(serde_json::to_vec(&value).unwrap(), bytes);
    }

    #[test]
    fn non_canonical_bytes_are_refused() {
        let good = String::from_utf8(full().canonical_bytes()).unwrap();
        let cases = [
            good.replacen(',', ", ", 1),
            good.replacen(r#""client_id":null,"#, "", 1),
            good.replacen(r#""release""#, r#""\u0072elease""#, 1),
            good.replacen(
                r#""detail":{"via":"pull"}"#,
                r#""detail":{"via":"push","via":"pull"}"#,
                1,
            ),
            format!("{good}\n"),
        ];
        for case in cases {
            assert_eq!(
                Record::from_canonical(case.as_bytes()),
                Err(EntryError::NotCanonical),
                "{case}"
            );
        }
    }

    #[test]
    fn malformed_bytes_are_classified_without_echoing_content() {
        let good = String::from_utf8(full().canonical_bytes()).unwrap();
        assert!(matches!(
            Record::from_canonical(b"{\"action\":"),
            Err(EntryError::Syntax { .. })
        ));
        let unknown = good.replacen(r#""release""#, r#""secret-value""#, 1);
        let err = Record::from_canonical(unknown.as_bytes()).unwrap_err();
        assert!(matches!(err, EntryError::Shape { .. }));
        assert!(!err.to_string().contains("secret"), "{err}");
        let extra = good.replacen('{', r#"{"aaa":1,"#, 1);
        assert!(matches!(
            Record::from_canonical(extra.as_bytes()),
            Err(EntryError::Shape { .. })
        ));
        let v2 = good.replacen(r#""v":1"#, r#""v":2"#, 1);
        assert_eq!(
            Record::from_canonical(v2.as_bytes()),
            Err(EntryError::Version(2))
        );
        let v2_new_field = v2.replacen('{', r#"{"aaa":1,"#, 1);
        assert_eq!(
            Record::from_canonical(v2_new_field.as_bytes()),
            Err(EntryError::Version(2))
        );
    }

    #[test]
    fn encoding_is_deterministic_across_map_insertion_order() {
        let mut a = full();
        let mut b = full();
        a.detail.clear();
        b.detail.clear();
        for k in ["z", "a", "m"] {
            a.detail.insert(k.into(), k.into());
        }
        for k in ["m", "z", "a"] {
            b.detail.insert(k.into(), k.into());
        }
        assert_eq!(a.canonical_bytes(), b.canonical_bytes());
    }
}
