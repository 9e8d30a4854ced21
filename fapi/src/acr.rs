//! Levels of assurance and the `acr` a department asks for (`acr_values`, or `acr` in the
//! `claims` parameter) or is told (the ID token's `acr`).
//!
//! Levels are the Pan-Canadian Trust Framework's 1–4, as the broker records them for credential
//! providers and values. A level satisfies every level at or below it. The provider never reports
//! an `acr` above the citizen's session: when the session is below what was asked, the answer is
//! a step-up (sign in again at a provider giving that level), and if the request was voluntary
//! the sign-in may go on at the lower level, reported as such.

use serde::{Deserialize, Serialize};

use crate::claims::AcrClaim;
use crate::errors::ErrorCode;

/// A level of assurance, 1 to 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Level(u8);

impl Level {
    pub const ONE: Level = Level(1);
    pub const TWO: Level = Level(2);
    pub const THREE: Level = Level(3);
    pub const FOUR: Level = Level(4);

    pub fn new(level: u8) -> Option<Self> {
        (1..=4).contains(&level).then_some(Self(level))
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// The `assurance_level` of `verified_claims` (`loa1` … `loa4`, as the release JWT uses).
    pub fn assurance_level(self) -> &'static str {
        match self.0 {
            1 => "loa1",
            2 => "loa2",
            3 => "loa3",
            _ => "loa4",
        }
    }
}

impl TryFrom<u8> for Level {
    type Error = AcrError;

    fn try_from(value: u8) -> Result<Self, AcrError> {
        Self::new(value).ok_or(AcrError::Mapping)
    }
}

impl From<Level> for u8 {
    fn from(level: Level) -> u8 {
        level.0
    }
}

/// Why an `acr` request or mapping was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AcrError {
    #[error("an essential `acr` was asked and none of its values is supported")]
    NoneSupported,
    #[error("the acr mapping must give each of the levels 1 to 4 exactly one distinct value")]
    Mapping,
}

impl AcrError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NoneSupported => ErrorCode::UnmetAuthenticationRequirements,
            Self::Mapping => ErrorCode::ServerError,
        }
    }
}

/// Which `acr` value stands for which level: configurable, one value per level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcrMapping {
    values: [String; 4],
}

impl Default for AcrMapping {
    /// `urn:tell-us-once:loa:1` … `urn:tell-us-once:loa:4`.
    fn default() -> Self {
        Self {
            values: [1, 2, 3, 4].map(|n| format!("urn:tell-us-once:loa:{n}")),
        }
    }
}

impl AcrMapping {
    /// A mapping from the values for levels 1, 2, 3 and 4, in that order.
    pub fn new(values: [String; 4]) -> Result<Self, AcrError> {
        let distinct = values
            .iter()
            .enumerate()
            .all(|(i, v)| !v.is_empty() && !values[..i].contains(v));
        if distinct {
            Ok(Self { values })
        } else {
            Err(AcrError::Mapping)
        }
    }

    pub fn level_of(&self, acr: &str) -> Option<Level> {
        let index = self.values.iter().position(|v| v == acr)?;
        u8::try_from(index + 1).ok().and_then(Level::new)
    }

    pub fn acr_of(&self, level: Level) -> &str {
        &self.values[usize::from(level.0 - 1)]
    }

    /// For `acr_values_supported` in the metadata.
    pub fn supported(&self) -> &[String] {
        &self.values
    }

    /// What an authorization request asks: `acr_values` (voluntary, in order of preference,
    /// Core §3.1.2.1) and/or `acr` in the `claims` parameter (essential or not, Core
    /// §5.5.1.1). The claim, when it lists values, decides; unknown values are ignored, and an
    /// essential request none of whose values is known can never be met.
    pub fn requirement(
        &self,
        acr_values: &[String],
        claim: Option<&AcrClaim>,
    ) -> Result<Requirement, AcrError> {
        let essential = claim.is_some_and(|c| c.essential);
        let asked: &[String] = match claim {
            Some(c) if !c.values.is_empty() => &c.values,
            _ => acr_values,
        };
        let levels: Vec<Level> = asked.iter().filter_map(|v| self.level_of(v)).collect();
        if essential && !asked.is_empty() && levels.is_empty() {
            return Err(AcrError::NoneSupported);
        }
        Ok(Requirement { levels, essential })
    }

    /// Decides for a session at `session` level: go on (and report which `acr`), or step up.
    pub fn decide(&self, requirement: &Requirement, session: Level) -> Decision {
        let Some(minimum) = requirement.levels.iter().min().copied() else {
            // Nothing asked (or nothing known asked voluntarily): report the session as it is.
            return Decision::Satisfied {
                acr: self.acr_of(session).to_owned(),
            };
        };
        if session >= minimum {
            // Report one of the values asked (Core §5.5.1.1 for an essential acr), the highest
            // the session reaches, never more than the session.
            let reported = requirement
                .levels
                .iter()
                .copied()
                .filter(|l| *l <= session)
                .max()
                .unwrap_or(minimum);
            return Decision::Satisfied {
                acr: self.acr_of(reported).to_owned(),
            };
        }
        let preferred = requirement.levels.first().copied().unwrap_or(minimum);
        Decision::StepUp {
            minimum,
            preferred: preferred.max(minimum),
            // A voluntary request may go on at the session's level, saying so in `acr`; an
            // essential one may not (Core §5.5.1.1: a failed authentication).
            fallback: (!requirement.essential).then(|| self.acr_of(session).to_owned()),
        }
    }
}

/// The levels asked, in the department's order of preference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    pub levels: Vec<Level>,
    pub essential: bool,
}

/// What to do for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The session meets the request; put this `acr` in the ID token.
    Satisfied { acr: String },
    /// The session is below every level asked: send the citizen to sign in at a provider
    /// giving at least `minimum` (`preferred` is the department's first choice). If that is
    /// not possible (or `prompt=none`), go on reporting `fallback` when there is one, else fail
    /// with `unmet_authentication_requirements` (`login_required` under `prompt=none`).
    StepUp {
        minimum: Level,
        preferred: Level,
        fallback: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn acr(n: u8) -> String {
        format!("urn:tell-us-once:loa:{n}")
    }

    fn claim(essential: bool, values: &[u8]) -> AcrClaim {
        AcrClaim {
            essential,
            values: values.iter().map(|n| acr(*n)).collect(),
        }
    }

    #[test]
    fn levels_and_their_names() {
        assert_eq!(Level::new(0), None);
        assert_eq!(Level::new(5), None);
        assert_eq!(Level::new(3), Some(Level::THREE));
        assert_eq!(Level::TWO.assurance_level(), "loa2");
        let mapping = AcrMapping::default();
        assert_eq!(mapping.level_of(&acr(4)), Some(Level::FOUR));
        assert_eq!(mapping.level_of("urn:other"), None);
        assert_eq!(mapping.acr_of(Level::ONE), acr(1));
        assert_eq!(serde_json::to_string(&Level::THREE).unwrap(), "3");
        assert!(serde_json::from_str::<Level>("9").is_err());
    }

    #[test]
    fn mappings_must_be_distinct_and_non_empty() {
        let values = ["a", "b", "c", "d"].map(String::from);
        let mapping = AcrMapping::new(values).unwrap();
        assert_eq!(mapping.level_of("c"), Some(Level::THREE));
        assert_eq!(
            AcrMapping::new(["a", "b", "a", "d"].map(String::from)),
            Err(AcrError::Mapping)
        );
        assert_eq!(
            AcrMapping::new(["a", "", "c", "d"].map(String::from)),
            Err(AcrError::Mapping)
        );
    }

    #[test]
    fn a_session_at_or_above_the_level_asked_goes_on_with_a_requested_acr() {
        let mapping = AcrMapping::default();
        let req = mapping.requirement(&[acr(3), acr(2)], None).unwrap();
        assert_eq!(req.levels, [Level::THREE, Level::TWO]);
        assert!(!req.essential);
        assert_eq!(
            mapping.decide(&req, Level::FOUR),
            Decision::Satisfied { acr: acr(3) },
            "the highest asked that the session reaches, not the session's own"
        );
        assert_eq!(
            mapping.decide(&req, Level::TWO),
            Decision::Satisfied { acr: acr(2) }
        );
    }

    #[test]
    fn a_session_below_the_level_asked_steps_up_and_never_claims_more() {
        let mapping = AcrMapping::default();
        let voluntary = mapping.requirement(&[acr(3)], None).unwrap();
        assert_eq!(
            mapping.decide(&voluntary, Level::TWO),
            Decision::StepUp {
                minimum: Level::THREE,
                preferred: Level::THREE,
                fallback: Some(acr(2)),
            }
        );
        let essential = mapping
            .requirement(&[], Some(&claim(true, &[4, 3])))
            .unwrap();
        assert_eq!(
            mapping.decide(&essential, Level::TWO),
            Decision::StepUp {
                minimum: Level::THREE,
                preferred: Level::FOUR,
                fallback: None,
            }
        );
    }

    #[test]
    fn the_claim_decides_over_acr_values_and_unknown_values_are_ignored() {
        let mapping = AcrMapping::default();
        let req = mapping
            .requirement(&[acr(1)], Some(&claim(true, &[3])))
            .unwrap();
        assert_eq!(req.levels, [Level::THREE]);
        assert!(req.essential);
        // An essential acr without values constrains nothing but still marks essential.
        let req = mapping
            .requirement(&[acr(2)], Some(&claim(true, &[])))
            .unwrap();
        assert_eq!(req.levels, [Level::TWO]);
        let unknown = vec!["urn:mace:incommon:iap:silver".to_string()];
        let req = mapping.requirement(&unknown, None).unwrap();
        assert!(req.levels.is_empty());
        assert_eq!(
            mapping.decide(&req, Level::TWO),
            Decision::Satisfied { acr: acr(2) }
        );
        let essential_unknown = AcrClaim {
            essential: true,
            values: unknown,
        };
        let err = mapping
            .requirement(&[], Some(&essential_unknown))
            .unwrap_err();
        assert_eq!(err, AcrError::NoneSupported);
        assert_eq!(err.code(), ErrorCode::UnmetAuthenticationRequirements);
    }

    proptest! {
        #[test]
        fn the_reported_acr_never_exceeds_the_session(
            asked in proptest::collection::vec(1u8..=4, 0..4),
            essential in any::<bool>(),
            session in 1u8..=4,
        ) {
            let mapping = AcrMapping::default();
            let session = Level::new(session).unwrap();
            let req = mapping.requirement(&[], Some(&claim(essential, &asked))).unwrap();
            match mapping.decide(&req, session) {
                Decision::Satisfied { acr } => {
                    let reported = mapping.level_of(&acr).unwrap();
                    prop_assert!(reported <= session);
                    if !asked.is_empty() {
                        prop_assert!(asked.contains(&reported.get()));
                    }
                }
                Decision::StepUp { minimum, fallback, .. } => {
                    prop_assert!(session < minimum);
                    prop_assert_eq!(fallback.is_some(), !essential);
                    if let Some(f) = fallback {
                        prop_assert_eq!(mapping.level_of(&f), Some(session));
                    }
                }
            }
        }

        #[test]
        fn any_acr_values_never_panic(values in proptest::collection::vec("\\PC{0,40}", 0..6), essential in any::<bool>()) {
            let mapping = AcrMapping::default();
            let claim = AcrClaim { essential, values: values.clone() };
            if let Ok(req) = mapping.requirement(&values, Some(&claim)) {
                let _ = mapping.decide(&req, Level::ONE);
            }
        }
    }
}
