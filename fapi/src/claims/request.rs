//! Reading a `claims` request parameter.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ClaimsError, MAX_CLAIM_NAME_LEN, MAX_CLAIMS, MAX_CLAIMS_PARAMETER_LEN};
use crate::encoding::parse_strict;

/// Where a claim is to be delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    IdToken,
    Userinfo,
}

impl Target {
    fn member(self) -> &'static str {
        match self {
            Self::IdToken => "id_token",
            Self::Userinfo => "userinfo",
        }
    }
}

/// One requested claim (Core §5.5.1, and IA §6.1's `purpose`).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimRequest {
    pub name: String,
    pub essential: bool,
    /// Why the department asks (IA §6.1: shown on the consent screen).
    pub purpose: Option<String>,
    /// `value` / `values`: the value must be one of these, or the claim is omitted.
    pub values: Option<Vec<Value>>,
}

impl std::fmt::Debug for ClaimRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // INVARIANT: `value(s)` may be personal data (a name, a birthdate): only counted.
        f.debug_struct("ClaimRequest")
            .field("name", &self.name)
            .field("essential", &self.essential)
            .field("purpose", &self.purpose)
            .field("values", &self.values.as_ref().map(Vec::len))
            .finish()
    }
}

/// A constraint on a `verification` member: any value, or one of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Constraint {
    Any,
    OneOf(Vec<String>),
}

impl Constraint {
    pub fn allows(&self, value: &str) -> bool {
        match self {
            Self::Any => true,
            Self::OneOf(values) => values.iter().any(|v| v == value),
        }
    }
}

/// A request for `verification/time` (IA §6.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRequest {
    pub max_age: Option<u64>,
}

/// One `evidence` filter (IA §6.2): its `type` value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRequest {
    pub evidence_type: String,
}

/// What the department asks to know about the verification (IA §6.2): only requested members
/// are answered (`trust_framework` always is, a valid response needs it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationRequest {
    pub trust_framework: Option<Constraint>,
    pub assurance_level: Option<Constraint>,
    pub time: Option<TimeRequest>,
    pub verification_process: Option<Constraint>,
    pub evidence: Option<Vec<EvidenceRequest>>,
    /// A member the broker never provides was constrained with `value`/`values`: IA §6.5.2
    /// says the whole element is then omitted.
    pub unsatisfiable: bool,
}

/// One `verified_claims` request element.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifiedClaimsRequest {
    pub target: Target,
    pub verification: VerificationRequest,
    pub claims: Vec<ClaimRequest>,
}

/// `acr` asked as a claim (Core §5.5.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcrClaim {
    pub essential: bool,
    pub values: Vec<String>,
}

/// A `claims` request, normalised.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClaimsRequest {
    /// Claims asked outside `verified_claims`, for the ID token.
    pub id_token: Vec<ClaimRequest>,
    /// Claims asked outside `verified_claims`, for userinfo.
    pub userinfo: Vec<ClaimRequest>,
    pub verified: Vec<VerifiedClaimsRequest>,
    pub acr: Option<AcrClaim>,
    /// `auth_time` asked as essential: the ID token must carry it.
    pub auth_time: bool,
    /// `sub` asked with a `value`: only a sign-in of that subject may succeed (Core §3.1.2.2).
    pub sub: Option<String>,
}

impl std::fmt::Debug for ClaimsRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimsRequest")
            .field("id_token", &self.id_token)
            .field("userinfo", &self.userinfo)
            .field("verified", &self.verified)
            .field("acr", &self.acr)
            .field("auth_time", &self.auth_time)
            .field("sub", &self.sub.is_some())
            .finish()
    }
}

/// One attribute asked for, merged across every place it is asked: what the consent screen
/// lists and the policy engine decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskedAttribute {
    pub name: String,
    pub id_token: bool,
    pub userinfo: bool,
    pub essential: bool,
    /// Asked inside `verified_claims` at least once.
    pub verified: bool,
    /// The trust frameworks any `verified_claims` asking it accepts (`None`: any).
    pub trust_frameworks: Option<Vec<String>>,
    pub purposes: Vec<String>,
}

/// Members of the ID token that are not attributes: asking for them releases nothing.
const PROTOCOL_CLAIMS: [&str; 11] = [
    "iss", "aud", "exp", "iat", "nonce", "azp", "at_hash", "c_hash", "jti", "sid", "amr",
];

impl ClaimsRequest {
    /// Reads the `claims` parameter's JSON text.
    pub fn parse(text: &str) -> Result<Self, ClaimsError> {
        if text.len() > MAX_CLAIMS_PARAMETER_LEN {
            return Err(ClaimsError::TooLarge);
        }
        let Some(Value::Object(top)) = parse_strict(text.as_bytes()) else {
            return Err(ClaimsError::NotJson);
        };
        let mut request = Self::default();
        let mut count = 0;
        for target in [Target::IdToken, Target::Userinfo] {
            match top.get(target.member()) {
                None | Some(Value::Null) => {}
                Some(Value::Object(members)) => {
                    request.read_location(target, members, &mut count)?;
                }
                Some(_) => return Err(ClaimsError::NotAnObject(target.member())),
            }
        }
        Ok(request)
    }

    fn read_location(
        &mut self,
        target: Target,
        members: &Map<String, Value>,
        count: &mut usize,
    ) -> Result<(), ClaimsError> {
        for (name, value) in members {
            match name.as_str() {
                "verified_claims" => {
                    for element in verified_elements(value)? {
                        let parsed = read_verified(target, element, count)?;
                        self.verified.push(parsed);
                    }
                }
                "acr" => {
                    let claim = read_claim(target, name, value)?;
                    let acr = self.acr.get_or_insert(AcrClaim {
                        essential: false,
                        values: Vec::new(),
                    });
                    acr.essential |= claim.essential;
                    for v in claim.values.into_iter().flatten() {
                        if let Value::String(v) = v
                            && !acr.values.contains(&v)
                        {
                            acr.values.push(v);
                        }
                    }
                }
                "auth_time" => self.auth_time |= read_claim(target, name, value)?.essential,
                "sub" => {
                    let claim = read_claim(target, name, value)?;
                    if let Some(Value::String(sub)) = claim.values.into_iter().flatten().next() {
                        self.sub = Some(sub);
                    }
                }
                n if PROTOCOL_CLAIMS.contains(&n) => {}
                _ => {
                    *count += 1;
                    if *count > MAX_CLAIMS {
                        return Err(ClaimsError::TooManyClaims);
                    }
                    let claim = read_claim(target, name, value)?;
                    match target {
                        Target::IdToken => self.id_token.push(claim),
                        Target::Userinfo => self.userinfo.push(claim),
                    }
                }
            }
        }
        Ok(())
    }

    /// Adds the claims a standard scope stands for (Core §5.4) to `userinfo`, unless already
    /// asked there.
    pub fn add_scope_claims(&mut self, scopes: &[String]) {
        for scope in scopes {
            for name in claims_for_scope(scope) {
                if !self.userinfo.iter().any(|c| c.name == *name) {
                    self.userinfo.push(ClaimRequest {
                        name: (*name).to_owned(),
                        essential: false,
                        purpose: None,
                        values: None,
                    });
                }
            }
        }
    }

    /// The claims asked outside `verified_claims` for `target`, as one `verified_claims`
    /// request accepting any verification: for a provider that answers every attribute with
    /// its provenance, as the broker does.
    pub fn plain_as_verified(&self, target: Target) -> Option<VerifiedClaimsRequest> {
        let claims = match target {
            Target::IdToken => &self.id_token,
            Target::Userinfo => &self.userinfo,
        };
        (!claims.is_empty()).then(|| VerifiedClaimsRequest {
            target,
            verification: VerificationRequest {
                trust_framework: Some(Constraint::Any),
                assurance_level: Some(Constraint::Any),
                time: Some(TimeRequest { max_age: None }),
                verification_process: Some(Constraint::Any),
                evidence: None,
                unsatisfiable: false,
            },
            claims: claims.clone(),
        })
    }

    /// Every attribute asked, once each, in the order first asked.
    pub fn asked(&self) -> Vec<AskedAttribute> {
        let mut asked: Vec<AskedAttribute> = Vec::new();
        let mut note = |claim: &ClaimRequest, target: Target, framework: Option<&Constraint>| {
            let index = match asked.iter().position(|a| a.name == claim.name) {
                Some(index) => index,
                None => {
                    asked.push(AskedAttribute {
                        name: claim.name.clone(),
                        id_token: false,
                        userinfo: false,
                        essential: false,
                        verified: false,
                        trust_frameworks: Some(Vec::new()),
                        purposes: Vec::new(),
                    });
                    asked.len() - 1
                }
            };
            let entry = &mut asked[index];
            match target {
                Target::IdToken => entry.id_token = true,
                Target::Userinfo => entry.userinfo = true,
            }
            entry.essential |= claim.essential;
            if let Some(purpose) = &claim.purpose
                && !entry.purposes.contains(purpose)
            {
                entry.purposes.push(purpose.clone());
            }
            match framework {
                None => {}
                Some(constraint) => {
                    entry.verified = true;
                    match (constraint, &mut entry.trust_frameworks) {
                        (Constraint::OneOf(values), Some(known)) => {
                            for v in values {
                                if !known.contains(v) {
                                    known.push(v.clone());
                                }
                            }
                        }
                        (Constraint::Any, frameworks) => *frameworks = None,
                        (Constraint::OneOf(_), None) => {}
                    }
                }
            }
        };
        for claim in &self.id_token {
            note(claim, Target::IdToken, None);
        }
        for claim in &self.userinfo {
            note(claim, Target::Userinfo, None);
        }
        for element in &self.verified {
            let framework = element
                .verification
                .trust_framework
                .clone()
                .unwrap_or(Constraint::Any);
            for claim in &element.claims {
                note(claim, element.target, Some(&framework));
            }
        }
        for entry in &mut asked {
            // An attribute never asked inside verified_claims has no framework constraint.
            if !entry.verified {
                entry.trust_frameworks = None;
            }
        }
        asked
    }
}

/// The claims a standard scope stands for (OpenID Connect Core §5.4).
pub fn claims_for_scope(scope: &str) -> &'static [&'static str] {
    match scope {
        "profile" => &[
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
        "email" => &["email", "email_verified"],
        "address" => &["address"],
        "phone" => &["phone_number", "phone_number_verified"],
        _ => &[],
    }
}

fn check_name(name: &str) -> Result<(), ClaimsError> {
    if name.is_empty() || name.len() > MAX_CLAIM_NAME_LEN || name.chars().any(char::is_control) {
        Err(ClaimsError::ClaimName)
    } else {
        Ok(())
    }
}

/// `null` or `{"essential", "value", "values", "purpose", …}` (other members ignored).
fn read_claim(target: Target, name: &str, value: &Value) -> Result<ClaimRequest, ClaimsError> {
    check_name(name)?;
    let mut claim = ClaimRequest {
        name: name.to_owned(),
        essential: false,
        purpose: None,
        values: None,
    };
    let object = match value {
        Value::Null => return Ok(claim),
        Value::Object(object) => object,
        _ => return Err(ClaimsError::ClaimRequest(target.member())),
    };
    claim.essential = match object.get("essential") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ClaimsError::Essential),
    };
    claim.purpose = match object.get("purpose") {
        None => None,
        Some(Value::String(p)) if (3..=300).contains(&p.chars().count()) => Some(p.clone()),
        Some(_) => return Err(ClaimsError::Purpose),
    };
    claim.values = read_values(object)?;
    Ok(claim)
}

fn read_values(object: &Map<String, Value>) -> Result<Option<Vec<Value>>, ClaimsError> {
    let mut values = match object.get("values") {
        None => None,
        Some(Value::Array(list)) if list.len() <= 32 => Some(list.clone()),
        Some(_) => return Err(ClaimsError::Values),
    };
    if let Some(single) = object.get("value") {
        values.get_or_insert_with(Vec::new).push(single.clone());
    }
    Ok(values)
}

fn verified_elements(value: &Value) -> Result<Vec<&Map<String, Value>>, ClaimsError> {
    match value {
        Value::Object(one) => Ok(vec![one]),
        Value::Array(many) if !many.is_empty() => many
            .iter()
            .map(|v| v.as_object().ok_or(ClaimsError::VerifiedClaimsShape))
            .collect(),
        _ => Err(ClaimsError::VerifiedClaimsShape),
    }
}

fn read_verified(
    target: Target,
    element: &Map<String, Value>,
    count: &mut usize,
) -> Result<VerifiedClaimsRequest, ClaimsError> {
    let Some(Value::Object(verification)) = element.get("verification") else {
        return Err(ClaimsError::Verification);
    };
    let Some(Value::Object(claims)) = element.get("claims") else {
        return Err(ClaimsError::EmptyClaims);
    };
    if claims.is_empty() {
        return Err(ClaimsError::EmptyClaims);
    }
    let mut requested = Vec::with_capacity(claims.len());
    for (name, value) in claims {
        *count += 1;
        if *count > MAX_CLAIMS {
            return Err(ClaimsError::TooManyClaims);
        }
        requested.push(read_claim(target, name, value)?);
    }
    Ok(VerifiedClaimsRequest {
        target,
        verification: read_verification(verification)?,
        claims: requested,
    })
}

fn read_verification(members: &Map<String, Value>) -> Result<VerificationRequest, ClaimsError> {
    let mut request = VerificationRequest::default();
    for (name, value) in members {
        match name.as_str() {
            "trust_framework" => request.trust_framework = Some(read_constraint(value)?),
            "assurance_level" => request.assurance_level = Some(read_constraint(value)?),
            "verification_process" => {
                request.verification_process = Some(read_constraint(value)?);
            }
            "time" => request.time = Some(read_time(value)?),
            "evidence" => request.evidence = Some(read_evidence(value)?),
            _ => {
                // A member the broker never answers: fine to ask, but a value constraint on it
                // can never be met.
                if let Value::Object(o) = value
                    && (o.contains_key("value") || o.contains_key("values"))
                {
                    request.unsatisfiable = true;
                }
            }
        }
    }
    Ok(request)
}

fn read_constraint(value: &Value) -> Result<Constraint, ClaimsError> {
    let Value::Object(object) = value else {
        return match value {
            Value::Null => Ok(Constraint::Any),
            _ => Err(ClaimsError::ClaimRequest("verification")),
        };
    };
    match read_values(object)? {
        None => Ok(Constraint::Any),
        Some(values) => Ok(Constraint::OneOf(
            // A non-string value can never equal a framework, level or process name.
            values
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        )),
    }
}

fn read_time(value: &Value) -> Result<TimeRequest, ClaimsError> {
    match value {
        Value::Null => Ok(TimeRequest { max_age: None }),
        Value::Object(o) => match o.get("max_age") {
            None => Ok(TimeRequest { max_age: None }),
            Some(v) => v
                .as_u64()
                .map(|max_age| TimeRequest {
                    max_age: Some(max_age),
                })
                .ok_or(ClaimsError::MaxAge),
        },
        _ => Err(ClaimsError::ClaimRequest("verification")),
    }
}

fn read_evidence(value: &Value) -> Result<Vec<EvidenceRequest>, ClaimsError> {
    let Value::Array(entries) = value else {
        return Err(ClaimsError::Evidence);
    };
    entries
        .iter()
        .map(|entry| {
            // IA §6.2: each entry names its type with `value` (`values` is not allowed there).
            entry
                .get("type")
                .and_then(|t| t.get("value"))
                .and_then(Value::as_str)
                .filter(|_| entry.get("type").and_then(|t| t.get("values")).is_none())
                .map(|t| EvidenceRequest {
                    evidence_type: t.to_owned(),
                })
                .ok_or(ClaimsError::Evidence)
        })
        .collect()
}
