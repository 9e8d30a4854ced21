//! Issuance (RFC 9901 §4): conceal the chosen claims behind salted digests, add decoys, bind the
//! holder's key in `cnf`, and have the caller's [`Signer`] sign the result as `dc+sd-jwt`.

use std::collections::BTreeMap;

use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value, json};

use crate::disclosure::Disclosure;
use crate::encoding::{SD_ALG, b64};
use crate::jose::Jwk;
use crate::path::{ClaimPath, Pattern, Step};
use crate::sign::{Signer, sign_checked};
use crate::{Error, MAX_DEPTH, TYP_SD_JWT};

/// Top-level claims that decide whether an SD-JWT is valid at all: RFC 9901 §9.7 says they must
/// stay in the clear, so a verifier always sees them.
const VALIDITY_CLAIMS: [&str; 5] = ["iss", "aud", "exp", "nbf", "cnf"];

/// Where issuance gets its randomness: salts, decoys, and the positions decoys take.
/// Production uses ring's [`SystemRandom`]; tests may count or fail calls.
pub trait Randomness {
    fn fill(&self, dest: &mut [u8]) -> Result<(), Error>;
}

impl Randomness for SystemRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), Error> {
        SecureRandom::fill(self, dest).map_err(|_| Error::Random)
    }
}

/// How many decoy digests go into each `_sd` array and each array with concealed elements:
/// a number drawn afresh for each, between `min` and `max` (RFC 9901 §4.2.5, §10.4), so the
/// count of digests says little about the count of claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoys {
    min: u8,
    max: u8,
}

impl Decoys {
    pub fn between(min: u8, max: u8) -> Result<Self, Error> {
        if min > max || max > 64 {
            return Err(Error::DecoyRange);
        }
        Ok(Self { min, max })
    }

    pub const fn none() -> Self {
        Self { min: 0, max: 0 }
    }
}

impl Default for Decoys {
    fn default() -> Self {
        Self { min: 1, max: 4 }
    }
}

/// An issued SD-JWT: `<issuer-signed jwt>~<disclosure>~…~`.
pub struct Issued {
    compact: String,
    concealed: Vec<String>,
}

impl std::fmt::Debug for Issued {
    /// The compact form holds every value: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("concealed", &self.concealed)
            .finish_non_exhaustive()
    }
}

impl Issued {
    /// The compact serialisation, to hand to the holder.
    pub fn compact(&self) -> &str {
        &self.compact
    }

    pub fn into_compact(self) -> String {
        self.compact
    }

    /// The JSON pointers of the concealed claims (names and positions, never values), in the
    /// order their disclosures appear.
    pub fn concealed(&self) -> &[String] {
        &self.concealed
    }
}

/// Issues SD-JWTs. Holds only policy (decoys) and a random source: keys stay with the caller.
#[derive(Debug)]
pub struct Issuer<R = SystemRandom> {
    random: R,
    decoys: Decoys,
}

impl Default for Issuer<SystemRandom> {
    fn default() -> Self {
        Self::new()
    }
}

impl Issuer<SystemRandom> {
    pub fn new() -> Self {
        Self::with_randomness(SystemRandom::new())
    }
}

/// The selected locations, as a tree mirroring the claims.
#[derive(Debug, Default)]
struct Selection {
    conceal: bool,
    children: BTreeMap<Step, Selection>,
}

impl Selection {
    fn insert(&mut self, path: &ClaimPath) {
        let mut node = self;
        for step in &path.0 {
            node = node.children.entry(step.clone()).or_default();
        }
        node.conceal = true;
    }
}

impl<R: Randomness> Issuer<R> {
    pub fn with_randomness(random: R) -> Self {
        Self {
            random,
            decoys: Decoys::default(),
        }
    }

    pub fn decoys(mut self, decoys: Decoys) -> Self {
        self.decoys = decoys;
        self
    }

    /// Issues `claims` (a JSON object) with every location named by `disclosable` (claim paths,
    /// see [`crate::path`]) selectively disclosable. A location and something beneath it may
    /// both be named: the inner disclosure is then nested in the outer one (recursive disclosure,
    /// RFC 9901 §4.2.6). `holder_key`, when given, is bound as `cnf.jwk` (RFC 7800).
    pub fn issue(
        &self,
        claims: &Value,
        disclosable: &[&str],
        holder_key: Option<&Jwk>,
        signer: &dyn Signer,
    ) -> Result<Issued, Error> {
        let Value::Object(top) = claims else {
            return Err(Error::ClaimsNotObject);
        };
        refuse_reserved(claims, 0)?;
        if holder_key.is_some() && top.contains_key("cnf") {
            return Err(Error::HolderKeyConflict);
        }
        let mut selection = Selection::default();
        for text in disclosable {
            let pattern = Pattern::parse(text)?;
            for path in pattern.expand(claims)? {
                if let Some(reason) = forbidden(&path) {
                    return Err(Error::NotDisclosable {
                        path: path.to_string(),
                        reason,
                    });
                }
                selection.insert(&path);
            }
        }

        let mut disclosures = Vec::new();
        let mut concealed = Vec::new();
        let Value::Object(mut payload) = self.conceal(
            claims.clone(),
            &selection,
            &ClaimPath::default(),
            &mut disclosures,
            &mut concealed,
        )?
        else {
            return Err(Error::ClaimsNotObject);
        };
        payload.insert("_sd_alg".into(), Value::String(SD_ALG.into()));
        if let Some(key) = holder_key {
            payload.insert("cnf".into(), json!({ "jwk": key.to_json() }));
        }

        let payload = serde_json::to_vec(&Value::Object(payload)).map_err(|_| Error::Encode)?;
        let mut compact = sign_checked(signer, TYP_SD_JWT, &payload)?;
        compact.push('~');
        for disclosure in &disclosures {
            compact.push_str(disclosure.encoded());
            compact.push('~');
        }
        Ok(Issued { compact, concealed })
    }

    /// Rebuilds `value` with the selected members and elements replaced by digests. Children
    /// are concealed before their parent, so a parent's disclosure carries its children's
    /// digests (never their values).
    fn conceal(
        &self,
        value: Value,
        selection: &Selection,
        path: &ClaimPath,
        out: &mut Vec<Disclosure>,
        concealed: &mut Vec<String>,
    ) -> Result<Value, Error> {
        if selection.children.is_empty() {
            return Ok(value);
        }
        match value {
            Value::Object(members) => {
                let mut kept = Map::new();
                let mut digests = Vec::new();
                for (name, member) in members {
                    let Some(child) = selection.children.get(&Step::Member(name.clone())) else {
                        kept.insert(name, member);
                        continue;
                    };
                    let child_path = path.child(Step::Member(name.clone()));
                    let member = self.conceal(member, child, &child_path, out, concealed)?;
                    if child.conceal {
                        let disclosure = Disclosure::member(self.salt()?, &name, member)?;
                        digests.push(disclosure.digest().to_owned());
                        out.push(disclosure);
                        concealed.push(child_path.to_string());
                    } else {
                        kept.insert(name, member);
                    }
                }
                if !digests.is_empty() {
                    for _ in 0..self.decoy_count()? {
                        digests.push(self.decoy()?);
                    }
                    // Sorted, so the order of digests says nothing about the order of claims.
                    digests.sort();
                    kept.insert("_sd".into(), json!(digests));
                }
                Ok(Value::Object(kept))
            }
            Value::Array(items) => {
                let mut kept = Vec::with_capacity(items.len());
                let mut any = false;
                for (index, item) in items.into_iter().enumerate() {
                    let Some(child) = selection.children.get(&Step::Index(index)) else {
                        kept.push(item);
                        continue;
                    };
                    let child_path = path.child(Step::Index(index));
                    let item = self.conceal(item, child, &child_path, out, concealed)?;
                    if child.conceal {
                        let disclosure = Disclosure::element(self.salt()?, item)?;
                        kept.push(json!({ "...": disclosure.digest() }));
                        out.push(disclosure);
                        concealed.push(child_path.to_string());
                        any = true;
                    } else {
                        kept.push(item);
                    }
                }
                if any {
                    // Decoys at random positions: the array's length and layout hide how many
                    // elements there really are.
                    for _ in 0..self.decoy_count()? {
                        let at = self.below(kept.len() + 1)?;
                        kept.insert(at, json!({ "...": self.decoy()? }));
                    }
                }
                Ok(Value::Array(kept))
            }
            scalar => Ok(scalar),
        }
    }

    /// 128 bits of fresh randomness, base64url (RFC 9901 §9.3).
    fn salt(&self) -> Result<String, Error> {
        let mut bytes = [0u8; 16];
        self.random.fill(&mut bytes)?;
        Ok(b64(bytes))
    }

    /// A digest of random bytes, indistinguishable from a disclosure's (RFC 9901 §4.2.5).
    fn decoy(&self) -> Result<String, Error> {
        let mut bytes = [0u8; 32];
        self.random.fill(&mut bytes)?;
        Ok(b64(ring::digest::digest(&ring::digest::SHA256, &bytes)))
    }

    fn decoy_count(&self) -> Result<usize, Error> {
        let span = usize::from(self.decoys.max - self.decoys.min) + 1;
        Ok(usize::from(self.decoys.min) + self.below(span)?)
    }

    /// A uniform number in `0..bound` (rejection sampling, so no modulo bias).
    fn below(&self, bound: usize) -> Result<usize, Error> {
        let bound = u32::try_from(bound).map_err(|_| Error::Random)?;
        if bound <= 1 {
            return Ok(0);
        }
        let zone = u32::MAX - (u32::MAX % bound);
        loop {
            let mut bytes = [0u8; 4];
            self.random.fill(&mut bytes)?;
            let n = u32::from_le_bytes(bytes);
            if n < zone {
                return usize::try_from(n % bound).map_err(|_| Error::Random);
            }
        }
    }
}

/// Why `path` must not be concealed, if it must not.
fn forbidden(path: &ClaimPath) -> Option<&'static str> {
    if path.0.is_empty() {
        return Some("the payload itself");
    }
    match path.top_level_member() {
        Some(name) if VALIDITY_CLAIMS.contains(&name) => {
            Some("it decides validity (RFC 9901 section 9.7)")
        }
        _ => None,
    }
}

/// The claims to issue may not use the names SD-JWT gives meaning to, at any depth.
fn refuse_reserved(value: &Value, depth: usize) -> Result<(), Error> {
    if depth > MAX_DEPTH {
        return Err(Error::TooDeep);
    }
    match value {
        Value::Object(members) => {
            for name in ["_sd", "...", "_sd_alg"] {
                if members.contains_key(name) {
                    return Err(Error::ReservedName { name });
                }
            }
            members
                .values()
                .try_for_each(|v| refuse_reserved(v, depth + 1))
        }
        Value::Array(items) => items.iter().try_for_each(|v| refuse_reserved(v, depth + 1)),
        _ => Ok(()),
    }
}
