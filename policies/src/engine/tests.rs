use std::collections::BTreeSet;
use std::sync::OnceLock;

use consent::{Actor, Change, ConsentEvent, DAY_MS, Mode, Uuid};

use super::*;
use crate::{Verdict, WithheldCode};

const NOW: i64 = 1_772_366_400_000;
const ESD: &str = "employment-social-development";
const REVENUE: &str = "revenue-agency";
const PASSPORT: &str = "passport-office";
const HEALTH: &str = "health-insurance";
const PENSION: &str = "pension-enrolment";

fn engine() -> &'static PolicyEngine {
    static ENGINE: OnceLock<PolicyEngine> = OnceLock::new();
    ENGINE.get_or_init(|| PolicyEngine::load(PolicySource::EMBEDDED).unwrap())
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|name| (*name).to_owned()).collect()
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|name| (*name).to_owned()).collect()
}

fn event(seq: u64, time_ms: i64, change: Change) -> ConsentEvent {
    ConsentEvent::new(seq, Actor::citizen("alice"), time_ms, change)
}

/// A consent granted by the citizen a day ago, for `days` days from then.
fn granted(department: &str, purpose: &str, mode: Mode, attributes: &[&str], days: i64) -> Consent {
    let at = NOW - DAY_MS;
    Consent::replay(
        Uuid::from_u128(7),
        Uuid::from_u128(1),
        department,
        purpose,
        mode,
        [event(
            1,
            at,
            Change::Granted {
                attributes: set(attributes),
                expires_at_ms: at + days * DAY_MS,
            },
        )],
    )
    .unwrap()
}

fn active(department: &str, purpose: &str, attributes: &[&str]) -> Consent {
    granted(department, purpose, Mode::Once, attributes, 90)
}

fn revoked(department: &str, purpose: &str, attributes: &[&str]) -> Consent {
    let mut consent = active(department, purpose, attributes);
    consent
        .apply(event(2, NOW - 1000, Change::Revoked))
        .unwrap();
    consent
}

fn requested(department: &str, purpose: &str, attributes: &[&str], refuse: bool) -> Consent {
    let mut consent = Consent::replay(
        Uuid::from_u128(8),
        Uuid::from_u128(1),
        department,
        purpose,
        Mode::Once,
        [ConsentEvent::new(
            1,
            Actor::department(department),
            NOW - DAY_MS,
            Change::Requested {
                attributes: set(attributes),
                requested_duration_ms: 30 * DAY_MS,
                return_url: None,
            },
        )],
    )
    .unwrap();
    if refuse {
        consent
            .apply(event(2, NOW - 1000, Change::Refused))
            .unwrap();
    }
    consent
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Granted(&'static str),
    Withheld(WithheldCode),
}
use Expect::{Granted, Withheld};

struct Case {
    name: &'static str,
    department: &'static str,
    purpose: &'static str,
    loa: u8,
    deceased: bool,
    representative: bool,
    channel: Channel,
    consent: Option<Consent>,
    expect: Vec<(&'static str, Expect)>,
}

fn case(name: &'static str, department: &'static str, purpose: &'static str) -> Case {
    Case {
        name,
        department,
        purpose,
        loa: 2,
        deceased: false,
        representative: false,
        channel: Channel::Pull,
        consent: None,
        expect: Vec::new(),
    }
}

impl Case {
    fn loa(mut self, loa: u8) -> Self {
        self.loa = loa;
        self
    }
    fn deceased(mut self) -> Self {
        self.deceased = true;
        self
    }
    /// The consent was given by a delegate acting for the citizen.
    fn by_representative(mut self) -> Self {
        self.representative = true;
        self
    }
    fn push(mut self) -> Self {
        self.channel = Channel::Push;
        self
    }
    fn consent(mut self, consent: Consent) -> Self {
        self.consent = Some(consent);
        self
    }
    fn expect(mut self, attribute: &'static str, expect: Expect) -> Self {
        self.expect.push((attribute, expect));
        self
    }
    fn decide(&self) -> ReleaseDecision {
        let attributes: Vec<String> = self.expect.iter().map(|(a, _)| (*a).to_owned()).collect();
        let request = ReleaseRequest {
            department: self.department,
            purpose: self.purpose,
            attributes: &attributes,
            loa: self.loa,
            citizen_deceased: self.deceased,
            actor_is_delegate: self.representative,
            now_ms: NOW,
        };
        match self.channel {
            Channel::Pull => engine().decide(&request, self.consent.as_ref()),
            Channel::Push => engine().decide_receive(&request, self.consent.as_ref()),
        }
    }
}

fn table() -> Vec<Case> {
    let identity = ["birthdate", "given_name", "family_name"];
    vec![
        // A representative may not consent to sharing high-sensitivity data (the citizen may),
        // and may to the address.
        case("high sensitivity, the citizen's own consent", ESD, PENSION)
            .loa(3)
            .consent(active(ESD, PENSION, &["marital_status"]))
            .expect("marital_status", Granted("esd-marital-status-pension")),
        case("high sensitivity, a representative's consent", ESD, PENSION)
            .loa(3)
            .by_representative()
            .consent(active(ESD, PENSION, &["marital_status"]))
            .expect("marital_status", Withheld(WithheldCode::PolicyDenied)),
        case(
            "the address, a representative's consent",
            REVENUE,
            "benefit-eligibility",
        )
        .by_representative()
        .consent(active(REVENUE, "benefit-eligibility", &["address"]))
        .expect("address", Granted("revenue-address-benefits")),
        case("permit with consent", ESD, PENSION)
            .consent(active(ESD, PENSION, &identity))
            .expect("birthdate", Granted("esd-identity-pension")),
        case("deny without consent", ESD, PENSION)
            .expect("birthdate", Withheld(WithheldCode::NoConsent)),
        case("expired, not yet recorded", ESD, PENSION)
            .consent(granted(ESD, PENSION, Mode::Once, &identity, 1))
            .expect("birthdate", Withheld(WithheldCode::ConsentExpired)),
        case("revoked", ESD, PENSION)
            .consent(revoked(ESD, PENSION, &identity))
            .expect("birthdate", Withheld(WithheldCode::ConsentRevoked)),
        case("request not yet answered", ESD, PENSION)
            .consent(requested(ESD, PENSION, &identity, false))
            .expect("birthdate", Withheld(WithheldCode::NoConsent)),
        case("request refused", ESD, PENSION)
            .consent(requested(ESD, PENSION, &identity, true))
            .expect("birthdate", Withheld(WithheldCode::NoConsent)),
        case("consent for another purpose", ESD, "benefit-eligibility")
            .consent(active(ESD, PENSION, &["address"]))
            .expect("address", Withheld(WithheldCode::ConsentNotCovering)),
        case("consent for another department", ESD, PENSION)
            .consent(active(REVENUE, PENSION, &identity))
            .expect("birthdate", Withheld(WithheldCode::ConsentNotCovering)),
        case("consent not covering one claim: partial", ESD, PENSION)
            .consent(active(ESD, PENSION, &["birthdate", "given_name"]))
            .expect("birthdate", Granted("esd-identity-pension"))
            .expect("given_name", Granted("esd-identity-pension"))
            .expect("family_name", Withheld(WithheldCode::ConsentNotCovering)),
        case(
            "too low a level of assurance",
            PASSPORT,
            "travel-document-issuance",
        )
        .consent(active(PASSPORT, "travel-document-issuance", &identity))
        .expect("given_name", Withheld(WithheldCode::InsufficientAssurance))
        .expect("birthdate", Withheld(WithheldCode::InsufficientAssurance)),
        case("enough assurance", PASSPORT, "travel-document-issuance")
            .loa(3)
            .consent(active(PASSPORT, "travel-document-issuance", &identity))
            .expect("birthdate", Granted("passport-identity-travel")),
        case("sensitive attribute needs LoA 3", ESD, PENSION)
            .consent(active(ESD, PENSION, &["marital_status"]))
            .expect(
                "marital_status",
                Withheld(WithheldCode::InsufficientAssurance),
            ),
        case(
            "no consent and low assurance: consent first",
            PASSPORT,
            "travel-document-issuance",
        )
        .expect("birthdate", Withheld(WithheldCode::NoConsent)),
        case("deceased", ESD, PENSION)
            .deceased()
            .consent(active(ESD, PENSION, &identity))
            .expect("birthdate", Withheld(WithheldCode::SubjectDeceased)),
        case(
            "statutory permit without consent",
            REVENUE,
            "death-notification",
        )
        .loa(1)
        .deceased()
        .expect("date_of_death", Granted("statutory-death-notification")),
        case("statutory push without consent", ESD, "death-notification")
            .push()
            .deceased()
            .expect("date_of_death", Granted("statutory-death-notification")),
        case(
            "statutory disclosure is not for everyone",
            PASSPORT,
            "death-notification",
        )
        .deceased()
        .expect("date_of_death", Withheld(WithheldCode::PolicyDenied)),
        case(
            "death notification carries the date only",
            REVENUE,
            "death-notification",
        )
        .deceased()
        .expect("address", Withheld(WithheldCode::PolicyDenied)),
        case("unknown purpose", ESD, "marketing")
            .consent(active(ESD, PENSION, &identity))
            .expect("birthdate", Withheld(WithheldCode::PurposeUnknown))
            .expect("shoe_size", Withheld(WithheldCode::PurposeUnknown)),
        case("unknown attribute", ESD, PENSION)
            .consent(active(ESD, PENSION, &identity))
            .expect("birthdate", Granted("esd-identity-pension"))
            .expect("shoe_size", Withheld(WithheldCode::AttributeUnknown)),
        case("no policy at all", HEALTH, "health-coverage-administration")
            .consent(active(
                HEALTH,
                "health-coverage-administration",
                &["birthdate"],
            ))
            .expect("birthdate", Withheld(WithheldCode::PolicyDenied)),
        case("unknown department", "bank-of-somewhere", PENSION)
            .expect("birthdate", Withheld(WithheldCode::PolicyDenied)),
        case(
            "push under an ongoing consent",
            HEALTH,
            "health-coverage-administration",
        )
        .push()
        .consent(granted(
            HEALTH,
            "health-coverage-administration",
            Mode::Ongoing,
            &["address"],
            90,
        ))
        .expect("address", Granted("health-address-coverage")),
        case(
            "push needs an ongoing consent",
            HEALTH,
            "health-coverage-administration",
        )
        .push()
        .consent(active(
            HEALTH,
            "health-coverage-administration",
            &["address"],
        ))
        .expect("address", Withheld(WithheldCode::ConsentNotCovering)),
        case(
            "a once consent still allows a pull",
            HEALTH,
            "health-coverage-administration",
        )
        .consent(active(
            HEALTH,
            "health-coverage-administration",
            &["address"],
        ))
        .expect("address", Granted("health-address-coverage")),
        case(
            "passport data is never pushed",
            PASSPORT,
            "travel-document-issuance",
        )
        .push()
        .loa(3)
        .consent(granted(
            PASSPORT,
            "travel-document-issuance",
            Mode::Ongoing,
            &identity,
            90,
        ))
        .expect("birthdate", Withheld(WithheldCode::PolicyDenied)),
        case("revenue contact details", REVENUE, "benefit-eligibility")
            .consent(active(
                REVENUE,
                "benefit-eligibility",
                &["address", "email"],
            ))
            .expect("address", Granted("revenue-address-benefits"))
            .expect("email", Granted("revenue-contact-benefits"))
            .expect("phone_number", Withheld(WithheldCode::ConsentNotCovering)),
    ]
}

#[test]
fn decision_table_for_the_demo_world() {
    let mut failures = Vec::new();
    for case in table() {
        let decision = case.decide();
        let outcomes = decision.outcomes();
        assert_eq!(outcomes.len(), case.expect.len(), "{}", case.name);
        for ((attribute, expect), outcome) in case.expect.iter().zip(outcomes) {
            assert_eq!(&outcome.attribute, attribute);
            let fits = match (expect, &outcome.verdict) {
                (Granted(id), Verdict::Granted { policy_ids, .. }) => policy_ids == &[*id],
                (Withheld(code), Verdict::Withheld { code: got, .. }) => code == got,
                _ => false,
            };
            if !fits {
                failures.push(format!(
                    "{} / {attribute}: expected {expect:?}, got {:?}",
                    case.name, outcome.verdict
                ));
            }
        }
        let any_granted = case.expect.iter().any(|(_, e)| matches!(e, Granted(_)));
        if decision.is_release() != any_granted {
            failures.push(format!(
                "{}: release = {}",
                case.name,
                decision.is_release()
            ));
        }
        if let ReleaseDecision::Release(grant) = &decision {
            let granted: Vec<&str> = case
                .expect
                .iter()
                .filter(|(_, e)| matches!(e, Granted(_)))
                .map(|(a, _)| *a)
                .collect();
            assert_eq!(
                grant.attributes().collect::<Vec<_>>(),
                granted,
                "{}",
                case.name
            );
            assert_eq!(grant.channel(), case.channel);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_grant_carries_its_reasons_and_consent() {
    let consent = active(ESD, PENSION, &["birthdate", "given_name"]);
    let attributes = names(&["birthdate", "given_name", "family_name", "birthdate"]);
    let request = ReleaseRequest {
        department: ESD,
        purpose: PENSION,
        attributes: &attributes,
        loa: 2,
        citizen_deceased: false,
        actor_is_delegate: false,
        now_ms: NOW,
    };
    let grant = engine()
        .decide(&request, Some(&consent))
        .into_grant()
        .unwrap();
    assert_eq!(grant.department(), ESD);
    assert_eq!(grant.purpose(), PENSION);
    assert_eq!(grant.consent_id(), Some(consent.id()));
    assert_eq!(grant.policy_ids(), ["esd-identity-pension"]);
    assert!(grant.legal_bases()[0].starts_with("Old Age Security Act"));
    // Duplicates are decided once; the withheld one is reported with its reason.
    assert_eq!(grant.outcomes().len(), 3);
    let withheld: Vec<_> = grant.withheld().collect();
    assert_eq!(withheld.len(), 1);
    assert_eq!(withheld[0].attribute, "family_name");
    assert_eq!(withheld[0].policy_ids(), ["esd-identity-pension"]);

    let json = serde_json::to_value(&grant).unwrap();
    assert_eq!(json["granted"][0]["attribute"], "birthdate");
    assert_eq!(json["outcomes"][2]["outcome"], "withheld");
    assert_eq!(json["outcomes"][2]["code"], "consent_not_covering");
}

#[test]
fn a_statutory_grant_relies_on_no_consent() {
    let attributes = names(&["date_of_death"]);
    let request = ReleaseRequest {
        department: REVENUE,
        purpose: "death-notification",
        attributes: &attributes,
        loa: 1,
        citizen_deceased: true,
        actor_is_delegate: false,
        now_ms: NOW,
    };
    // Even an unrelated consent passed in is not relied on.
    let unrelated = active(REVENUE, "benefit-eligibility", &["address"]);
    let grant = engine()
        .decide(&request, Some(&unrelated))
        .into_grant()
        .unwrap();
    assert_eq!(grant.consent_id(), None);
    assert!(grant.legal_bases()[0].contains("Vital Statistics Act"));
}

#[test]
fn a_denial_carries_codes_and_reasons() {
    let consent = active(ESD, PENSION, &["birthdate"]);
    let attributes = names(&["birthdate", "shoe_size"]);
    let request = ReleaseRequest {
        department: ESD,
        purpose: PENSION,
        attributes: &attributes,
        loa: 2,
        citizen_deceased: true,
        actor_is_delegate: false,
        now_ms: NOW,
    };
    let decision = engine().decide(&request, Some(&consent));
    assert_eq!(decision.reasons(), ["forbid-release-after-death"]);
    assert_eq!(serde_json::to_value(&decision).unwrap()["decision"], "deny");
    let denial = decision.into_grant().unwrap_err();
    assert_eq!(
        denial.codes(),
        [
            WithheldCode::SubjectDeceased,
            WithheldCode::AttributeUnknown
        ]
    );
    let json = serde_json::to_value(&denial).unwrap();
    assert_eq!(json["outcomes"][0]["code"], "subject_deceased");
    assert_eq!(
        json["outcomes"][0]["policy_ids"][0],
        "forbid-release-after-death"
    );
}

#[test]
fn no_consent_names_the_policy_that_needs_it() {
    let attributes = names(&["address"]);
    let request = ReleaseRequest {
        department: HEALTH,
        purpose: "health-coverage-administration",
        attributes: &attributes,
        loa: 2,
        citizen_deceased: false,
        actor_is_delegate: false,
        now_ms: NOW,
    };
    let decision = engine().decide(&request, None);
    assert_eq!(decision.reasons(), ["health-address-coverage"]);
}

#[test]
fn withheld_codes_serialise_in_snake_case() {
    for code in WithheldCode::ALL {
        assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        assert_eq!(code.as_str().parse::<WithheldCode>(), Ok(code));
    }
}

// ---- belt and braces: annotations enforced even when the Cedar condition forgets them ----

const SCHEMA: &str = include_str!("../../cedar/broker.cedarschema");

fn custom(policies: &[(&str, &str)]) -> Result<PolicyEngine, PolicyError> {
    let files: Vec<(String, String)> = policies
        .iter()
        .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
        .collect();
    PolicyEngine::from_parts(Catalogue::embedded()?, SCHEMA, &files)
}

const CARELESS: &str = r#"
@id("careless-consent")
@legal_basis("example")
@consent("required")
permit (principal == Department::"revenue-agency", action, resource == Attribute::"address")
when { context.purpose == Purpose::"benefit-eligibility" };

@id("careless-loa")
@legal_basis("example")
@consent("not-required")
@min_loa("3")
permit (principal == Department::"revenue-agency", action, resource == Attribute::"email")
when { context.purpose == Purpose::"benefit-eligibility" };

@id("forbid-without-code")
forbid (principal, action, resource == Attribute::"phone_number");

@id("permit-phone")
@legal_basis("example")
@consent("not-required")
permit (principal, action, resource == Attribute::"phone_number");
"#;

#[test]
fn annotations_are_enforced_beyond_the_cedar_condition() {
    let engine = custom(&[("careless.cedar", CARELESS)]).unwrap();
    let attributes = names(&["address", "email", "phone_number"]);
    let request = ReleaseRequest {
        department: REVENUE,
        purpose: "benefit-eligibility",
        attributes: &attributes,
        loa: 2,
        citizen_deceased: false,
        actor_is_delegate: false,
        now_ms: NOW,
    };
    let denial = engine.decide(&request, None).into_grant().unwrap_err();
    let codes: Vec<_> = denial
        .outcomes()
        .iter()
        .map(|o| o.withheld_code())
        .collect();
    assert_eq!(
        codes,
        [
            Some(WithheldCode::NoConsent),
            Some(WithheldCode::InsufficientAssurance),
            Some(WithheldCode::PolicyDenied)
        ]
    );
    assert_eq!(denial.outcomes()[0].policy_ids(), ["careless-consent"]);
    assert_eq!(denial.outcomes()[2].policy_ids(), ["forbid-without-code"]);

    // With a covering consent and enough assurance, the same policies grant.
    let consent = active(REVENUE, "benefit-eligibility", &["address"]);
    let request = ReleaseRequest { loa: 3, ..request };
    let grant = engine
        .decide(&request, Some(&consent))
        .into_grant()
        .unwrap();
    assert_eq!(grant.attributes().collect::<Vec<_>>(), ["address", "email"]);
    assert_eq!(grant.consent_id(), Some(consent.id()));
}

#[test]
fn the_decision_context_matches_the_schema() {
    let (schema, _) = cedar_policy::Schema::from_cedarschema_str(SCHEMA).unwrap();
    assert!(engine().context_matches_schema(&schema));
}

#[test]
fn each_slice_decides_exactly_as_the_whole_policy_set() {
    use cedar_policy::{Context, Request, RestrictedExpression};
    let engine = engine();
    let mut compared = 0;
    for (department, by_attribute) in &engine.slices {
        let principal = &engine.uids.departments[department];
        for (attribute, slice) in by_attribute {
            let resource = &engine.uids.attributes[attribute];
            for purpose in engine.uids.purposes.values() {
                for consent in [
                    "active",
                    "none",
                    "expired",
                    "revoked",
                    "refused",
                    "not_covering",
                ] {
                    for loa in 1..=4 {
                        for (deceased, delegate) in
                            [(false, false), (true, false), (false, true), (true, true)]
                        {
                            for action in [&engine.uids.release, &engine.uids.receive] {
                                let context = Context::from_pairs([
                                    (
                                        "purpose".to_owned(),
                                        RestrictedExpression::new_entity_uid(purpose.clone()),
                                    ),
                                    (
                                        "consent".to_owned(),
                                        RestrictedExpression::new_string(consent.to_owned()),
                                    ),
                                    ("loa".to_owned(), RestrictedExpression::new_long(loa)),
                                    (
                                        "citizen_deceased".to_owned(),
                                        RestrictedExpression::new_bool(deceased),
                                    ),
                                    ("now".to_owned(), RestrictedExpression::new_long(NOW)),
                                    (
                                        "actor_is_delegate".to_owned(),
                                        RestrictedExpression::new_bool(delegate),
                                    ),
                                ])
                                .unwrap();
                                let request = Request::new(
                                    principal.clone(),
                                    action.clone(),
                                    resource.clone(),
                                    context,
                                    None,
                                )
                                .unwrap();
                                let whole = engine.authorizer.is_authorized(
                                    &request,
                                    &engine.policies,
                                    &engine.entities,
                                );
                                let part = engine.authorizer.is_authorized(
                                    &request,
                                    slice,
                                    &engine.entities,
                                );
                                assert_eq!(whole.decision(), part.decision());
                                let reasons = |r: &cedar_policy::Response| {
                                    let mut ids: Vec<String> =
                                        r.diagnostics().reason().map(ToString::to_string).collect();
                                    ids.sort();
                                    ids
                                };
                                assert_eq!(reasons(&whole), reasons(&part));
                                assert_eq!(whole.diagnostics().errors().count(), 0);
                                compared += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(compared, 5 * 9 * 5 * 6 * 4 * 4 * 2);
}

#[test]
fn the_engine_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<PolicyEngine>();
}

#[test]
#[ignore = "timing, run by hand: cargo test -p policies --release -- --ignored --nocapture"]
fn decision_timing() {
    let consent = active(ESD, PENSION, &["birthdate", "given_name", "family_name"]);
    let granted = names(&["birthdate"]);
    let denied = names(&["address"]);
    let rounds = 20_000u32;
    for (label, attributes, consent) in [
        ("grant, 1 attribute", &granted, Some(&consent)),
        ("deny with hypotheticals, 1 attribute", &denied, None),
    ] {
        let request = ReleaseRequest {
            department: ESD,
            purpose: PENSION,
            attributes,
            loa: 2,
            citizen_deceased: false,
            actor_is_delegate: false,
            now_ms: NOW,
        };
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(engine().decide(&request, consent).is_release());
        }
        eprintln!("{label}: {:?} per decision", start.elapsed() / rounds);
    }
}
