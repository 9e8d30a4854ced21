//! Test fixtures: a deterministic HMAC "JWS" signer standing in for the broker's keys, and a
//! stored log built exactly as the broker would build it.

use std::collections::HashMap;
use std::fmt;

use audit::{
    Action, Actor, ActorKind, Checkpoint, CheckpointSigner, CheckpointVerifier, Frontier, Hash,
    LogVerifier, NodeId, Outcome, Record, SignedCheckpoint, StoredRecord, VerifyError,
    VerifySummary,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;

const HEADER: &str = r#"{"alg":"HS256","kid":"test"}"#;

/// HS256 compact JWS under a fixed key. Test-only: the broker signs with ES256/EdDSA.
pub struct HmacJws {
    key: hmac::Key,
}

impl HmacJws {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }
}

#[derive(Debug)]
pub struct BadJws(&'static str);

impl fmt::Display for BadJws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for BadJws {}

impl CheckpointSigner for HmacJws {
    type Error = std::convert::Infallible;

    fn sign(&self, payload: &[u8]) -> Result<String, Self::Error> {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(HEADER),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let tag = hmac::sign(&self.key, input.as_bytes());
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref())))
    }
}

impl CheckpointVerifier for HmacJws {
    type Error = BadJws;

    fn verify(&self, jws: &str) -> Result<Vec<u8>, Self::Error> {
        let mut parts = jws.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(BadJws("not a compact jws"));
        };
        if URL_SAFE_NO_PAD.decode(h).ok().as_deref() != Some(HEADER.as_bytes()) {
            return Err(BadJws("unexpected header"));
        }
        let tag = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| BadJws("bad signature encoding"))?;
        hmac::verify(&self.key, format!("{h}.{p}").as_bytes(), &tag)
            .map_err(|_| BadJws("bad signature"))?;
        URL_SAFE_NO_PAD
            .decode(p)
            .map_err(|_| BadJws("bad payload encoding"))
    }
}

pub fn signer() -> HmacJws {
    HmacJws::new(b"audit test key")
}

/// A varied record; `salt` changes its contents (for forgeries).
pub fn record(i: u64, salt: u64) -> Record {
    let action = Action::ALL[(i as usize * 7 + salt as usize) % Action::ALL.len()];
    let outcome = Outcome::ALL[(i as usize + salt as usize) % Outcome::ALL.len()];
    let kind = ActorKind::ALL[i as usize % ActorKind::ALL.len()];
    let mut r = Record::new(
        format!("0190-{i:04}-{salt}"),
        1_767_225_600_000 + i as i64 * 1_000,
        action,
        outcome,
        Actor::new(kind, format!("actor-{}", i % 5)),
    );
    r.citizen_id = (!i.is_multiple_of(3)).then(|| format!("citizen-{}", i % 11));
    r.department_id = (i % 4 != 1).then(|| format!("dept-{}", i % 6));
    r.client_id = i.is_multiple_of(2).then(|| "client-1".to_owned());
    r.purpose = (i % 5 != 2).then(|| format!("purpose-{}", (i + salt) % 4));
    r.consent_id = (i % 3 == 1).then(|| format!("consent-{i}"));
    r.attributes = (0..i % 3).map(|a| format!("attr_{a}")).collect();
    r.reasons = (0..i % 2).map(|p| format!("policy-{p}")).collect();
    if i.is_multiple_of(4) {
        r.detail.insert("status".into(), format!("s{salt}"));
    }
    r
}

/// A stored log: what the broker's tables would hold.
#[derive(Clone)]
pub struct Log {
    pub rows: Vec<StoredRecord>,
    pub nodes: HashMap<NodeId, Hash>,
    pub checkpoints: Vec<SignedCheckpoint>,
    pub head: Frontier,
}

/// Appends `n` records through [`Frontier::append`], signing a checkpoint at each size in
/// `checkpoint_sizes` (in 1..=n).
pub fn build_log(n: u64, checkpoint_sizes: &[u64]) -> Log {
    let signer = signer();
    let mut head = Frontier::new();
    let mut log = Log {
        rows: Vec::new(),
        nodes: HashMap::new(),
        checkpoints: Vec::new(),
        head: Frontier::new(),
    };
    for i in 0..n {
        let appended = head.append(record(i, 0)).unwrap();
        assert_eq!(appended.row.seq, i);
        log.rows.push(appended.row);
        log.nodes.extend(appended.nodes);
        if checkpoint_sizes.contains(&head.size()) {
            let cp = Checkpoint {
                tree_size: head.size(),
                root_hash: head.root(),
                time_ms: 1_767_225_600_000 + i as i64 * 1_000 + 500,
            };
            log.checkpoints
                .push(SignedCheckpoint::sign(cp, &signer).unwrap());
        }
    }
    log.head = head;
    log
}

#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub nodes: bool,
    pub head: bool,
}

pub fn verify(log: &Log, options: Options) -> Result<VerifySummary, VerifyError> {
    let signer = signer();
    let mut v = LogVerifier::new(&signer, log.checkpoints.clone());
    if options.head {
        v = v.with_head(log.head.clone());
    }
    for row in &log.rows {
        if options.nodes {
            v.push_with_nodes(row.clone(), &log.nodes)?;
        } else {
            v.push(row.clone())?;
        }
    }
    v.finish()
}

/// Recomputes leaf hashes, nodes and head from the rows, as a forger with database access would.
pub fn reforge_tree(log: &mut Log) {
    let mut head = Frontier::new();
    log.nodes.clear();
    for row in &log.rows {
        log.nodes.extend(head.push(row.leaf_hash).unwrap());
    }
    log.head = head;
}

/// Small deterministic PRNG for sampling (splitmix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
