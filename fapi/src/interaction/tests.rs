use proptest::prelude::*;

use super::*;
use crate::claims::{AcrClaim, ClaimsRequest};
use crate::par::{ConsentMode, Prompt};
use crate::pkce::CodeChallenge;

const NOW: i64 = 1_767_225_600;

fn acr(n: u8) -> String {
    format!("urn:tell-us-once:loa:{n}")
}

fn request() -> AuthorizationRequest {
    AuthorizationRequest {
        client_id: "esd-pension-app".into(),
        redirect_uri: "https://pension.esd.example/callback".into(),
        scopes: vec!["openid".into()],
        consent_mode: ConsentMode::Once,
        state: None,
        nonce: None,
        code_challenge: CodeChallenge::from_verifier(&"v".repeat(43)).unwrap(),
        prompt: Prompt::default(),
        max_age: None,
        acr_values: Vec::new(),
        claims: None,
        purpose: None,
        login_hint: None,
        id_token_hint: None,
        ui_locales: Vec::new(),
        dpop_jkt: None,
    }
}

fn session(level: u8, age: i64) -> Session {
    Session {
        level: Level::new(level).unwrap(),
        authenticated_at: NOW - age,
    }
}

fn step(
    request: &AuthorizationRequest,
    session: Option<&Session>,
    consent_covers: bool,
    progress: Progress,
) -> Next {
    next_step(
        request,
        &AcrMapping::default(),
        session,
        consent_covers,
        progress,
        NOW,
    )
}

const NOTHING_YET: Progress = Progress {
    signed_in: false,
    consented: false,
};

#[test]
fn the_plain_path_is_sign_in_then_consent_then_code() {
    let r = request();
    assert_eq!(
        step(&r, None, false, NOTHING_YET),
        Next::SignIn(SignInReason::NoSession)
    );
    let s = session(2, 0);
    let signed_in = Progress {
        signed_in: true,
        consented: false,
    };
    assert_eq!(step(&r, Some(&s), false, signed_in), Next::Consent);
    let done = Progress {
        signed_in: true,
        consented: true,
    };
    assert_eq!(step(&r, Some(&s), true, done), Next::Issue { acr: acr(2) });
    // A live consent that covers the request skips the screen.
    assert_eq!(
        step(&r, Some(&s), true, NOTHING_YET),
        Next::Issue { acr: acr(2) }
    );
}

#[test]
fn prompt_login_and_consent_are_honoured_once() {
    let mut r = request();
    r.prompt.login = true;
    r.prompt.consent = true;
    let s = session(2, 10);
    assert_eq!(
        step(&r, Some(&s), true, NOTHING_YET),
        Next::SignIn(SignInReason::PromptLogin)
    );
    let signed_in = Progress {
        signed_in: true,
        consented: false,
    };
    assert_eq!(
        step(&r, Some(&s), true, signed_in),
        Next::Consent,
        "even though covered"
    );
    let done = Progress {
        signed_in: true,
        consented: true,
    };
    assert_eq!(step(&r, Some(&s), true, done), Next::Issue { acr: acr(2) });
}

#[test]
fn prompt_none_never_interacts() {
    let mut r = request();
    r.prompt.none = true;
    assert_eq!(
        step(&r, None, true, NOTHING_YET),
        Next::Fail(ErrorCode::LoginRequired)
    );
    let s = session(2, 10);
    assert_eq!(
        step(&r, Some(&s), false, NOTHING_YET),
        Next::Fail(ErrorCode::ConsentRequired)
    );
    r.max_age = Some(5);
    assert_eq!(
        step(&r, Some(&s), true, NOTHING_YET),
        Next::Fail(ErrorCode::LoginRequired)
    );
    r.max_age = None;
    r.acr_values = vec![acr(3)];
    // Voluntary: go on at the session's level, saying so.
    assert_eq!(
        step(&r, Some(&s), true, NOTHING_YET),
        Next::Issue { acr: acr(2) }
    );
    r.claims = Some(ClaimsRequest {
        acr: Some(AcrClaim {
            essential: true,
            values: vec![acr(3)],
        }),
        ..ClaimsRequest::default()
    });
    assert_eq!(
        step(&r, Some(&s), true, NOTHING_YET),
        Next::Fail(ErrorCode::LoginRequired)
    );
}

#[test]
fn max_age_sends_an_old_session_to_sign_in_again() {
    let mut r = request();
    r.max_age = Some(300);
    assert_eq!(
        step(&r, Some(&session(2, 300)), true, NOTHING_YET),
        Next::Issue { acr: acr(2) }
    );
    assert_eq!(
        step(&r, Some(&session(2, 301)), true, NOTHING_YET),
        Next::SignIn(SignInReason::MaxAge)
    );
    r.max_age = Some(0);
    let signed_in = Progress {
        signed_in: true,
        consented: false,
    };
    assert_eq!(
        step(&r, Some(&session(2, 1)), true, signed_in),
        Next::Issue { acr: acr(2) }
    );
}

#[test]
fn a_level_below_the_one_asked_steps_up_once() {
    let mut r = request();
    r.acr_values = vec![acr(4), acr(3)];
    let low = session(2, 0);
    assert_eq!(
        step(&r, Some(&low), true, NOTHING_YET),
        Next::SignIn(SignInReason::StepUp {
            minimum: Level::THREE,
            preferred: Level::FOUR
        })
    );
    let signed_in = Progress {
        signed_in: true,
        consented: false,
    };
    // The step-up reached level 3: the acr asked that it meets.
    assert_eq!(
        step(&r, Some(&session(3, 0)), true, signed_in),
        Next::Issue { acr: acr(3) }
    );
    // It did not: a voluntary request goes on, reporting the level reached.
    assert_eq!(
        step(&r, Some(&low), true, signed_in),
        Next::Issue { acr: acr(2) }
    );
    r.claims = Some(ClaimsRequest {
        acr: Some(AcrClaim {
            essential: true,
            values: vec![acr(3)],
        }),
        ..ClaimsRequest::default()
    });
    assert_eq!(
        step(&r, Some(&low), true, signed_in),
        Next::Fail(ErrorCode::UnmetAuthenticationRequirements)
    );
    r.claims = Some(ClaimsRequest {
        acr: Some(AcrClaim {
            essential: true,
            values: vec!["urn:unknown".into()],
        }),
        ..ClaimsRequest::default()
    });
    assert_eq!(
        step(&r, Some(&low), true, NOTHING_YET),
        Next::Fail(ErrorCode::UnmetAuthenticationRequirements)
    );
}

proptest! {
    #[test]
    fn a_code_is_never_issued_above_the_session_nor_silently_with_interaction_needed(
        none in any::<bool>(), login in any::<bool>(), consent in any::<bool>(),
        level in 1u8..=4, age in 0i64..1_000, max_age in proptest::option::of(0u64..1_000),
        asked in proptest::collection::vec(1u8..=4, 0..3), essential in any::<bool>(),
        covers in any::<bool>(), signed_in in any::<bool>(), consented in any::<bool>(),
        has_session in any::<bool>(),
    ) {
        let mut r = request();
        r.prompt = Prompt { none, login: login && !none, consent: consent && !none };
        r.max_age = max_age;
        r.claims = Some(ClaimsRequest {
            acr: Some(AcrClaim { essential, values: asked.iter().map(|n| acr(*n)).collect() }),
            ..ClaimsRequest::default()
        });
        let s = session(level, age);
        let progress = Progress { signed_in, consented };
        let next = step(&r, has_session.then_some(&s), covers, progress);
        match next {
            Next::Issue { acr: reported } => {
                prop_assert!(has_session);
                let reported = AcrMapping::default().level_of(&reported).unwrap();
                prop_assert!(reported.get() <= level);
                prop_assert!(covers || consented);
            }
            Next::SignIn(_) | Next::Consent => prop_assert!(!none),
            Next::Fail(_) => {}
        }
    }
}
