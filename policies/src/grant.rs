//! [`ReleaseGrant`], the only value that lets an attribute leave the broker, and the proofs it
//! is built from.
//!
//! Everything that can produce a grant lives in this module, so its privacy is the guarantee:
//! the rest of the crate (the Cedar evaluation) can only *offer* a permit, and this module
//! decides whether the permit's own terms are met.

use consent::{Consent, Coverage, Mode, Uuid};
use serde::Serialize;

use crate::decision::{AttributeOutcome, Channel, Verdict, WithheldCode};
use crate::error::PolicyProblem;

/// What a permit policy demands before it may justify a release, read from its annotations
/// (`@legal_basis`, `@consent`, `@min_loa`). Built only from a parsed policy at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PermitTerms {
    id: String,
    legal_basis: String,
    consent_required: bool,
    min_loa: u8,
}

impl PermitTerms {
    /// Reads the terms from a permit's annotations.
    pub(crate) fn from_annotations<'a>(
        id: &str,
        mut annotation: impl FnMut(&str) -> Option<&'a str>,
    ) -> Result<Self, PolicyProblem> {
        let legal_basis = annotation("legal_basis")
            .filter(|text| !text.trim().is_empty())
            .ok_or(PolicyProblem::MissingAnnotation("legal_basis"))?;
        let consent_required = match annotation("consent") {
            Some("required") => true,
            Some("not-required") => false,
            Some(_) => {
                return Err(PolicyProblem::BadAnnotation {
                    key: "consent".to_owned(),
                    expected: "`required` or `not-required`",
                });
            }
            None => return Err(PolicyProblem::MissingAnnotation("consent")),
        };
        let min_loa = match annotation("min_loa") {
            None => 1,
            Some(text) => text
                .parse::<u8>()
                .ok()
                .filter(|loa| (1..=4).contains(loa))
                .ok_or(PolicyProblem::BadAnnotation {
                    key: "min_loa".to_owned(),
                    expected: "a level of assurance from 1 to 4",
                })?,
        };
        Ok(Self {
            id: id.to_owned(),
            legal_basis: legal_basis.to_owned(),
            consent_required,
            min_loa,
        })
    }

    pub(crate) fn consent_required(&self) -> bool {
        self.consent_required
    }

    pub(crate) fn min_loa(&self) -> u8 {
        self.min_loa
    }
}

/// The citizen's consent as Cedar sees it (`context.consent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConsentStatus {
    Active,
    None,
    Expired,
    Revoked,
    Refused,
    NotCovering,
}

impl ConsentStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::None => "none",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Refused => "refused",
            Self::NotCovering => "not_covering",
        }
    }

    /// The code for an attribute withheld for want of this consent.
    pub(crate) fn withheld_code(self) -> WithheldCode {
        match self {
            Self::None | Self::Refused => WithheldCode::NoConsent,
            Self::Expired => WithheldCode::ConsentExpired,
            Self::Revoked => WithheldCode::ConsentRevoked,
            // `Active` cannot be the missing piece; if it ever were, say "not covering".
            Self::NotCovering | Self::Active => WithheldCode::ConsentNotCovering,
        }
    }
}

/// Proof that one consent covers one attribute for the request's department, purpose and
/// channel at the decision time. The only constructor is [`ConsentProof::check`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConsentProof<'a> {
    consent_id: Uuid,
    attribute: &'a str,
}

impl<'a> ConsentProof<'a> {
    /// Checks `consent` against the request, or says what Cedar should be told instead.
    pub(crate) fn check(
        consent: Option<&Consent>,
        department: &str,
        purpose: &str,
        channel: Channel,
        attribute: &'a str,
        now_ms: i64,
    ) -> Result<Self, ConsentStatus> {
        let Some(consent) = consent else {
            return Err(ConsentStatus::None);
        };
        if consent.department() != department {
            return Err(ConsentStatus::NotCovering);
        }
        match consent.covers(attribute, purpose, now_ms) {
            // A push needs an ongoing consent: a `once` consent allows pulls only.
            Coverage::Covered if channel == Channel::Push && consent.mode() != Mode::Ongoing => {
                Err(ConsentStatus::NotCovering)
            }
            Coverage::Covered => Ok(Self {
                consent_id: consent.id(),
                attribute,
            }),
            Coverage::Pending => Err(ConsentStatus::None),
            Coverage::Refused => Err(ConsentStatus::Refused),
            Coverage::Expired => Err(ConsentStatus::Expired),
            Coverage::Revoked => Err(ConsentStatus::Revoked),
            Coverage::OtherPurpose | Coverage::AttributeNotCovered => {
                Err(ConsentStatus::NotCovering)
            }
        }
    }
}

/// One attribute whose release is justified by at least one permit whose terms are met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantedAttribute {
    attribute: String,
    policy_ids: Vec<String>,
    legal_bases: Vec<String>,
    #[serde(skip)]
    consent_id: Option<Uuid>,
}

impl GrantedAttribute {
    /// The attribute's name.
    pub fn attribute(&self) -> &str {
        &self.attribute
    }

    /// The permits that justified it.
    pub fn policy_ids(&self) -> &[String] {
        &self.policy_ids
    }

    /// Their legal bases.
    pub fn legal_bases(&self) -> &[String] {
        &self.legal_bases
    }
}

/// Why Cedar's permit could not be honoured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unjustified {
    pub(crate) code: WithheldCode,
    pub(crate) policy_ids: Vec<String>,
}

/// Belt and braces beyond the Cedar condition: keeps only the `permits` (those Cedar found
/// satisfied) whose annotated terms hold — the level of assurance is at least `@min_loa`, and
/// where `@consent("required")`, `proof` covers this very attribute.
pub(crate) fn justify(
    attribute: &str,
    permits: &[&PermitTerms],
    proof: Result<ConsentProof<'_>, ConsentStatus>,
    loa: u8,
) -> Result<GrantedAttribute, Unjustified> {
    let covering = proof.ok().filter(|proof| proof.attribute == attribute);
    let mut granted = GrantedAttribute {
        attribute: attribute.to_owned(),
        policy_ids: Vec::new(),
        legal_bases: Vec::new(),
        consent_id: None,
    };
    let (mut short_of_consent, mut short_of_assurance) = (Vec::new(), Vec::new());
    for permit in permits {
        if loa < permit.min_loa {
            short_of_assurance.push(permit.id.clone());
            continue;
        }
        if permit.consent_required {
            // INVARIANT: a permit that requires consent justifies a release only with a proof
            // that a consent covers this attribute; the proof's id goes into the grant.
            let Some(proof) = covering else {
                short_of_consent.push(permit.id.clone());
                continue;
            };
            granted.consent_id = Some(proof.consent_id);
        }
        granted.policy_ids.push(permit.id.clone());
        if !granted.legal_bases.contains(&permit.legal_basis) {
            granted.legal_bases.push(permit.legal_basis.clone());
        }
    }
    if !granted.policy_ids.is_empty() {
        return Ok(granted);
    }
    if short_of_consent.is_empty() {
        return Err(Unjustified {
            code: WithheldCode::InsufficientAssurance,
            policy_ids: short_of_assurance,
        });
    }
    let status = proof.err().unwrap_or(ConsentStatus::NotCovering);
    Err(Unjustified {
        code: status.withheld_code(),
        policy_ids: short_of_consent,
    })
}

/// Permission to release the listed attributes to one department for one purpose over one
/// channel — and the only such permission in the system.
///
/// # Why only a decision can build one
///
/// * Its fields are private and it has no public constructor, no `Default`, no `Deserialize`
///   and no `Clone`: outside this crate, the only way to obtain one is
///   [`crate::PolicyEngine::decide`] or [`crate::PolicyEngine::decide_receive`]. Code that
///   hands out attribute values takes a `ReleaseGrant` (by value, so it is spent) and can only
///   release what [`ReleaseGrant::attributes`] lists.
/// * Inside this crate, it is built only here, from [`GrantedAttribute`]s, which only
///   `justify` makes: a permit whose `@consent` is `required` contributes only if a
///   `ConsentProof` — itself built only by checking a real [`Consent`] with
///   [`Consent::covers`] — covers that attribute. So even a mis-written Cedar permit that forgets
///   `context.consent == "active"` cannot release without consent.
/// * A grant is never empty: with no granted attribute, the decision is a
///   [`crate::Denial`].
///
/// Rust cannot stop code inside this module from breaking these rules, nor a caller from
/// ignoring a grant's attribute list; the first is kept small and reviewed, the second is the
/// broker's release function taking the grant as its only source of attribute names.
///
/// ```compile_fail,E0451
/// // No struct literal: the fields are private.
/// let grant = policies::ReleaseGrant { department: String::new() };
/// ```
///
/// ```compile_fail,E0599
/// // No `Default`.
/// let grant = policies::ReleaseGrant::default();
/// ```
///
/// ```compile_fail,E0277
/// // No `Deserialize`.
/// let grant: policies::ReleaseGrant = serde_json::from_str("{}").unwrap();
/// ```
///
/// ```compile_fail,E0308
/// // No `Clone`: a grant is spent once.
/// fn twice(grant: &policies::ReleaseGrant) -> policies::ReleaseGrant { grant.clone() }
/// ```
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct ReleaseGrant {
    department: String,
    purpose: String,
    channel: Channel,
    consent_id: Option<Uuid>,
    granted: Vec<GrantedAttribute>,
    outcomes: Vec<AttributeOutcome>,
}

impl ReleaseGrant {
    /// Builds a grant from justified attributes, or hands the outcomes back when there is none.
    pub(crate) fn assemble(
        department: &str,
        purpose: &str,
        channel: Channel,
        granted: Vec<GrantedAttribute>,
        outcomes: Vec<AttributeOutcome>,
    ) -> Result<Self, Vec<AttributeOutcome>> {
        // INVARIANT: a grant lists at least one attribute.
        if granted.is_empty() {
            return Err(outcomes);
        }
        let consent_id = granted.iter().find_map(|attribute| attribute.consent_id);
        Ok(Self {
            department: department.to_owned(),
            purpose: purpose.to_owned(),
            channel,
            consent_id,
            granted,
            outcomes,
        })
    }

    /// The recipient department.
    pub fn department(&self) -> &str {
        &self.department
    }

    /// The purpose.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    /// Pull or push: a push grant must not serve a pull, nor the reverse.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The consent relied on, if any granted attribute needed one (put it in the response).
    pub fn consent_id(&self) -> Option<Uuid> {
        self.consent_id
    }

    /// The names of the attributes that may be released: the only ones.
    pub fn attributes(&self) -> impl Iterator<Item = &str> {
        self.granted
            .iter()
            .map(|granted| granted.attribute.as_str())
    }

    /// Each granted attribute with its determining policies and legal bases.
    pub fn granted(&self) -> &[GrantedAttribute] {
        &self.granted
    }

    /// The determining policy ids of all granted attributes, deduplicated.
    pub fn policy_ids(&self) -> Vec<&str> {
        dedup(self.granted.iter().flat_map(|g| g.policy_ids.iter()))
    }

    /// The legal bases of all granted attributes, deduplicated.
    pub fn legal_bases(&self) -> Vec<&str> {
        dedup(self.granted.iter().flat_map(|g| g.legal_bases.iter()))
    }

    /// Every attribute asked, granted or withheld, in the order asked.
    pub fn outcomes(&self) -> &[AttributeOutcome] {
        &self.outcomes
    }

    /// The attributes asked but withheld (a partial release).
    pub fn withheld(&self) -> impl Iterator<Item = &AttributeOutcome> {
        self.outcomes
            .iter()
            .filter(|outcome| matches!(outcome.verdict, Verdict::Withheld { .. }))
    }
}

fn dedup<'a>(items: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for item in items {
        if !seen.contains(&item.as_str()) {
            seen.push(item);
        }
    }
    seen
}
