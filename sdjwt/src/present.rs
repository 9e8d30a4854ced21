//! Presentation (RFC 9901 §7.2): what a holder — a department that received a release — does to
//! pass on part of it: pick disclosures by claim path, and bind the result to one verifier with a
//! Key Binding JWT.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::disclosure::Disclosure;
use crate::encoding::digest;
use crate::jose::Jwk;
use crate::path::Pattern;
use crate::process::Placement;
use crate::sign::{Signer, sign_checked};
use crate::verify::{IssuerCheck, check_issued, holder_key, split};
use crate::{Error, TYP_KB_JWT};

/// What the verifier asked the KB-JWT to carry, and when the holder signs it.
#[derive(Debug, Clone, Copy)]
pub struct KeyBindingRequest<'a> {
    pub audience: &'a str,
    pub nonce: &'a str,
    /// Seconds since the Unix epoch (the caller's clock).
    pub issued_at: i64,
}

/// An issued SD-JWT as its holder keeps it: checked on receipt, every disclosure placed.
pub struct Credential {
    issuer_jwt: String,
    disclosures: Vec<Disclosure>,
    placements: Vec<Placement>,
    claims: Map<String, Value>,
    holder_key: Option<Jwk>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("disclosable", &self.disclosable())
            .field("holder_key", &self.holder_key)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// Checks an issuance as a holder must (§7.2): the issuer's signature and validity, every
    /// disclosure referenced, and no KB-JWT (an issuer never sends one).
    pub fn receive(issued: &str, check: &IssuerCheck<'_>) -> Result<Self, Error> {
        let parts = split(issued)?;
        if parts.kb_jwt.is_some() {
            return Err(Error::KeyBindingUnexpected);
        }
        let (disclosures, processed) = check_issued(&parts, check)?;
        Ok(Self {
            issuer_jwt: parts.issuer_jwt.to_owned(),
            holder_key: holder_key(&processed.claims),
            disclosures,
            placements: processed.placements,
            claims: processed.claims,
        })
    }

    /// Every claim, disclosed or not: what the holder knows.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// The JSON pointers of the selectively disclosable claims, sorted.
    pub fn disclosable(&self) -> Vec<String> {
        let mut paths: Vec<String> = self.placements.iter().map(|p| p.path.to_string()).collect();
        paths.sort();
        paths
    }

    /// The holder key the issuer bound (`cnf.jwk`), if any.
    pub fn holder_key(&self) -> Option<&Jwk> {
        self.holder_key.as_ref()
    }

    /// A presentation without key binding: `<issuer-signed jwt>~<selected>~…~`.
    ///
    /// Each pattern (a claim path, `*` allowed) selects the disclosures at or beneath it, and
    /// with them every disclosure they are nested in — a claim cannot be shown without the
    /// claims that contain it. A pattern that selects nothing is an error rather than a silent
    /// omission; one that points *inside* a disclosed value (`/address/locality` when the whole
    /// address is one disclosure) selects nothing too, since showing more than asked is a leak.
    pub fn present(&self, select: &[&str]) -> Result<String, Error> {
        let chosen = self.select(select)?;
        let mut sd_jwt = format!("{}~", self.issuer_jwt);
        for index in chosen {
            sd_jwt.push_str(self.disclosures[index].encoded());
            sd_jwt.push('~');
        }
        Ok(sd_jwt)
    }

    /// A presentation bound to one verifier: the selected SD-JWT followed by a KB-JWT
    /// (`typ: kb+jwt`; `iat`, `aud`, `nonce`, `sd_hash`) signed by `holder`, whose key must be
    /// the one bound in `cnf`.
    pub fn present_bound(
        &self,
        select: &[&str],
        request: &KeyBindingRequest<'_>,
        holder: &dyn Signer,
    ) -> Result<String, Error> {
        if self.holder_key.is_none() {
            return Err(Error::HolderKeyMissing);
        }
        let sd_jwt = self.present(select)?;
        let claims = json!({
            "iat": request.issued_at,
            "aud": request.audience,
            "nonce": request.nonce,
            "sd_hash": digest(&sd_jwt),
        });
        let payload = serde_json::to_vec(&claims).map_err(|_| Error::Encode)?;
        let kb_jwt = sign_checked(holder, TYP_KB_JWT, &payload)?;
        Ok(sd_jwt + &kb_jwt)
    }

    /// The indices of the disclosures to present, in issuance order.
    fn select(&self, select: &[&str]) -> Result<BTreeSet<usize>, Error> {
        let mut chosen = BTreeSet::new();
        for text in select {
            let pattern = Pattern::parse(text)?;
            let matched: Vec<usize> = (0..self.placements.len())
                .filter(|&i| pattern.covers(&self.placements[i].path))
                .collect();
            if matched.is_empty() {
                return Err(Error::SelectionMatchesNothing {
                    pattern: pattern.text().to_owned(),
                });
            }
            for mut index in matched {
                // INVARIANT: each disclosure is placed once, inside the one that held its digest, so
                // parent links form a forest and this walk ends.
                while chosen.insert(index) {
                    match self.placements[index].parent {
                        Some(parent) => index = parent,
                        None => break,
                    }
                }
            }
        }
        Ok(chosen)
    }
}
