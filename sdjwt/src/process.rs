//! Processing an issuer-signed payload with its disclosures (RFC 9901 §7.1, step 3 onwards):
//! digests are matched, disclosed claims put in place, decoys and undisclosed claims dropped, and
//! every rule that keeps one presentation from meaning two things is enforced.
//!
//! The holder and the verifier run the same code: a holder learns where each disclosure sits
//! (to present by path), a verifier gets the processed claims.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::disclosure::{Disclosed, Disclosure};
use crate::encoding::SD_ALG;
use crate::path::{ClaimPath, Step};
use crate::{Error, MAX_DEPTH};

/// Where a disclosure landed in the processed claims.
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    pub(crate) path: ClaimPath,
    /// The disclosure whose value held this one's digest; `None` when the digest is in the
    /// issuer-signed payload itself.
    pub(crate) parent: Option<usize>,
}

#[derive(Debug)]
pub(crate) struct Processed {
    pub(crate) claims: Map<String, Value>,
    /// One per disclosure, in the order given.
    pub(crate) placements: Vec<Placement>,
}

struct State<'a> {
    disclosures: &'a [Disclosure],
    by_digest: HashMap<&'a str, usize>,
    seen: HashSet<String>,
    placements: Vec<Option<Placement>>,
}

pub(crate) fn process(
    mut payload: Map<String, Value>,
    disclosures: &[Disclosure],
) -> Result<Processed, Error> {
    // §4.1.1: absent means sha-256; anything else is not ours to accept.
    match payload.remove("_sd_alg") {
        None => {}
        Some(Value::String(alg)) if alg == SD_ALG => {}
        Some(_) => return Err(Error::HashAlgorithm),
    }
    let mut by_digest = HashMap::with_capacity(disclosures.len());
    for (index, disclosure) in disclosures.iter().enumerate() {
        // The same text twice is the same digest twice: §4 forbids sending a disclosure twice.
        if by_digest.insert(disclosure.digest(), index).is_some() {
            return Err(Error::DuplicateDisclosure { index });
        }
    }
    let mut state = State {
        disclosures,
        by_digest,
        seen: HashSet::new(),
        placements: vec![None; disclosures.len()],
    };
    let claims = state.object(payload, &ClaimPath::default(), None, 0)?;
    let mut placements = Vec::with_capacity(disclosures.len());
    for (index, placement) in state.placements.into_iter().enumerate() {
        placements.push(placement.ok_or(Error::UnreferencedDisclosure { index })?);
    }
    Ok(Processed { claims, placements })
}

impl State<'_> {
    /// Claims a digest: each may appear once in the whole SD-JWT (§4.1, §7.1 step 4). Returns
    /// the matching disclosure, if one was presented.
    fn claim_digest(&mut self, digest: &str) -> Result<Option<usize>, Error> {
        if !self.seen.insert(digest.to_owned()) {
            return Err(Error::DuplicateDigest);
        }
        Ok(self.by_digest.get(digest).copied())
    }

    fn value(
        &mut self,
        value: Value,
        path: &ClaimPath,
        parent: Option<usize>,
        depth: usize,
    ) -> Result<Value, Error> {
        match value {
            Value::Object(members) => Ok(Value::Object(self.object(members, path, parent, depth)?)),
            Value::Array(items) => Ok(Value::Array(self.array(items, path, parent, depth)?)),
            scalar => Ok(scalar),
        }
    }

    fn object(
        &mut self,
        mut members: Map<String, Value>,
        path: &ClaimPath,
        parent: Option<usize>,
        depth: usize,
    ) -> Result<Map<String, Value>, Error> {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        if members.contains_key("...") {
            return Err(Error::misuse("...", "outside an array element"));
        }
        if members.contains_key("_sd_alg") {
            return Err(Error::HashAlgorithm);
        }
        let digests = match members.remove("_sd") {
            None => Vec::new(),
            Some(Value::Array(digests)) => digests,
            Some(_) => return Err(Error::misuse("_sd", "not an array")),
        };
        let mut out = Map::new();
        for (name, member) in members {
            let member_path = path.child(Step::Member(name.clone()));
            let member = self.value(member, &member_path, parent, depth + 1)?;
            out.insert(name, member);
        }
        for digest in digests {
            let Value::String(digest) = digest else {
                return Err(Error::misuse("_sd", "holds something other than a digest"));
            };
            let Some(index) = self.claim_digest(&digest)? else {
                continue; // a decoy, or a claim the holder did not disclose
            };
            let disclosures = self.disclosures;
            let Disclosed::Member { name, value } = disclosures[index].disclosed() else {
                return Err(Error::DisclosureKind { index });
            };
            if ["_sd", "...", "_sd_alg"].contains(&name.as_str()) {
                return Err(Error::DisclosedReservedName { index });
            }
            if out.contains_key(name) {
                return Err(Error::ClaimNameClash { index });
            }
            let member_path = path.child(Step::Member(name.clone()));
            self.placements[index] = Some(Placement {
                path: member_path.clone(),
                parent,
            });
            let value = self.value(value.clone(), &member_path, Some(index), depth + 1)?;
            out.insert(name.clone(), value);
        }
        Ok(out)
    }

    fn array(
        &mut self,
        items: Vec<Value>,
        path: &ClaimPath,
        parent: Option<usize>,
        depth: usize,
    ) -> Result<Vec<Value>, Error> {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let Some(digest) = element_digest(&item)? else {
                let item_path = path.child(Step::Index(out.len()));
                out.push(self.value(item, &item_path, parent, depth + 1)?);
                continue;
            };
            let Some(index) = self.claim_digest(digest)? else {
                continue; // a decoy, or an element the holder did not disclose
            };
            let disclosures = self.disclosures;
            let Disclosed::Element { value } = disclosures[index].disclosed() else {
                return Err(Error::DisclosureKind { index });
            };
            let item_path = path.child(Step::Index(out.len()));
            self.placements[index] = Some(Placement {
                path: item_path.clone(),
                parent,
            });
            out.push(self.value(value.clone(), &item_path, Some(index), depth + 1)?);
        }
        Ok(out)
    }
}

/// `{"...": "<digest>"}` stands for a concealed element; `...` in any other shape is refused.
fn element_digest(item: &Value) -> Result<Option<&str>, Error> {
    let Value::Object(members) = item else {
        return Ok(None);
    };
    match members.get("...") {
        None => Ok(None),
        Some(_) if members.len() != 1 => Err(Error::misuse("...", "not alone in its object")),
        Some(Value::String(digest)) => Ok(Some(digest)),
        Some(_) => Err(Error::misuse("...", "not a digest")),
    }
}
