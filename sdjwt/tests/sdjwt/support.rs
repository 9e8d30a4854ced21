//! A small world: the broker's issuer key, a department's holder key, a release in the broker's
//! shape, and helpers to tamper with what the issuer signed while keeping a valid signature.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{
    RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaEncoding, RsaKeyPair, RsaPublicKeyComponents,
};
use sdjwt::{
    Credential, Es256Key, Issuer, IssuerCheck, Jwk, JwsHeader, KeyBinding, KeyBindingRequest,
    Signer, SignerError, TYP_SD_JWT,
};
use serde_json::{Map, Value, json};

/// "Now" for every test: 100 s after the release was issued.
pub const NOW: i64 = 1_767_225_700;
pub const AUDIENCE: &str = "https://contractor.example";
pub const NONCE: &str = "n-0S6_WzA2Mj";

pub struct World {
    pub issuer: Es256Key,
    pub issuer_keys: Vec<Jwk>,
    pub holder: Es256Key,
}

impl World {
    pub fn new() -> Self {
        let issuer = Es256Key::generate().unwrap();
        let issuer_keys = vec![issuer.public_jwk().clone()];
        Self {
            issuer,
            issuer_keys,
            holder: Es256Key::generate().unwrap(),
        }
    }

    pub fn check(&self) -> IssuerCheck<'_> {
        IssuerCheck::new(&self.issuer_keys, NOW)
    }

    /// Issues `claims` with `paths` disclosable, bound to the holder key.
    pub fn issue(&self, claims: &Value, paths: &[&str]) -> String {
        Issuer::new()
            .issue(claims, paths, Some(self.holder.public_jwk()), &self.issuer)
            .unwrap()
            .into_compact()
    }

    pub fn receive(&self, issued: &str) -> Credential {
        Credential::receive(issued, &self.check()).unwrap()
    }

    /// A key-bound presentation of `select`, for [`AUDIENCE`] and [`NONCE`], signed now.
    pub fn present(&self, issued: &str, select: &[&str]) -> String {
        self.receive(issued)
            .present_bound(select, &request(), &self.holder)
            .unwrap()
    }

    /// Re-signs the issuer JWT of `compact` after `edit` changed its payload: what a buggy or
    /// malicious issuer could produce, so the checks (not the signature) must catch it.
    pub fn resign(&self, compact: &str, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
        let (jwt, rest) = compact.split_once('~').unwrap();
        let mut payload = payload_of(jwt);
        edit(&mut payload);
        let jwt = self.sign_payload(&Value::Object(payload));
        format!("{jwt}~{rest}")
    }

    pub fn sign_payload(&self, payload: &Value) -> String {
        self.issuer
            .sign_jws(
                &JwsHeader { typ: TYP_SD_JWT },
                &serde_json::to_vec(payload).unwrap(),
            )
            .unwrap()
    }
}

pub fn request() -> KeyBindingRequest<'static> {
    KeyBindingRequest {
        audience: AUDIENCE,
        nonce: NONCE,
        issued_at: NOW,
    }
}

pub fn required() -> KeyBinding<'static> {
    KeyBinding::Required {
        audience: AUDIENCE,
        nonce: NONCE,
        max_age_secs: 300,
    }
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

pub fn payload_of(jwt: &str) -> Map<String, Value> {
    let segment = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&unb64(segment)).unwrap()
}

/// A disclosure as an issuer would write it.
pub fn disclosure(content: Value) -> String {
    b64(content.to_string())
}

/// Replaces the disclosures of a compact SD-JWT (keeps the issuer JWT, drops any KB-JWT).
pub fn with_disclosures(compact: &str, disclosures: &[&str]) -> String {
    let jwt = compact.split('~').next().unwrap();
    let mut out = format!("{jwt}~");
    for d in disclosures {
        out.push_str(d);
        out.push('~');
    }
    out
}

/// A release as the broker shapes it (docs/release.md): plain JWT claims, `verified_claims`
/// grouped by source, `withheld`.
pub fn release() -> Value {
    json!({
        "iss": "https://broker.example",
        "aud": "esd-pension-app",
        "sub": "pw-5c1f0e",
        "iat": 1_767_225_600,
        "exp": 1_767_225_900,
        "jti": "0197a0c2-jti",
        "purpose": "pension-enrolment",
        "consent_id": "0197a0c2-consent",
        "txn": "0197a0c2-txn",
        "verified_claims": [
            {
                "verification": {
                    "trust_framework": "pctf",
                    "assurance_level": "loa2",
                    "time": "2026-01-01T00:00:00Z",
                    "verification_process": "asserted",
                    "evidence": [{"type": "electronic_record",
                                  "record": {"type": "credential_provider",
                                             "source": {"name": "bank-sign-in-partner"}}}]
                },
                "claims": {
                    "given_name": "Alice",
                    "family_name": "Martin",
                    "address": {"street_address": "24 Sussex Dr", "locality": "Ottawa",
                                "postal_code": "K1M 1M4", "country": "CA"}
                }
            },
            {
                "verification": {
                    "trust_framework": "pctf",
                    "assurance_level": "loa3",
                    "time": "2025-06-01T00:00:00Z",
                    "verification_process": "register",
                    "evidence": [{"type": "electronic_record",
                                  "record": {"type": "department_register",
                                             "source": {"name": "vital-statistics"}}}]
                },
                "claims": {"birthdate": "1958-04-12"}
            }
        ],
        "withheld": [{"claim": "marital_status", "code": "consent_not_covering"}]
    })
}

/// Every claim and every verification member of every source: what the broker conceals.
pub const RELEASE_PATHS: [&str; 2] = [
    "/verified_claims/*/claims/*",
    "/verified_claims/*/verification/*",
];

/// Values that must never appear in an error message.
pub const SECRETS: [&str; 5] = ["Alice", "Martin", "1958", "Sussex", "K1M"];

/// A 2048-bit RSA key made for these tests only (`openssl genpkey`, PKCS#8): departments may
/// register RS256 and PS256 keys, and the broker may bind one as the holder key.
const TEST_RSA_PKCS8: [&str; 17] = [
    "MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQC+ETz6gWOE9hjV4x46lVtDJF1K4r9T3R7G1tnFcYgZHReo",
    "kpf0j83pj3nqZCP3AxMPPW4ihGTzvTRj2SoWmXzvUYvq41rvga/fHDd1zjCsYPPIeU637c5l3zn4T4TADDhjwk+k2mZLIgoB",
    "yy4J6/fqI5tGHxJvczM2GpU4AmJyvET5KDuLd0a3HzDQ4YCiXYmugnPWJUT7cpWLK0CR3bDKpLRGXPBzE68o9N5XFMlXexzd",
    "/ZwjhTeUmWWYOUhZJAJtiBXxG6XoKWrP3fCjwIunWVoviLeG0343LEBpx8Yw8TDZcRi5q+4pdibIVS5CIVVXq16g408xTWg3",
    "m5mbuidZAgMBAAECggEAJOY9V6fTfY52g124smhpI5eVehKb0Oj6juFKvXt9T9zXST2OfScG85tMcK4Y0l15L4n+Tfq0i6JV",
    "n7XbJzCMsfx7pLIXZyyfC3pTpQ4O4oRfB7JPT0N+gMYN39B2Rf+JWgqxAiD5X4g/95mtujTiuETJ4hrprhPoIw6Vnh5OZRYk",
    "TAzpueb41CodFKyIdoEAZQzD4/mdX99K2eRQMEyEvH8HbeDeNQHcv7owNm78CieGjMf991+zw/yg17Bqu8B67ZkZ4UjJJGFo",
    "o9qp3LYhgqiAY5DoAPCj9AN2dZWr0piR6N7uqI2bZ1zt+QNNDMy0IwHf/K1hpT23YjdXJ+3DNQKBgQD1mm8g3oKjBaX+aWvP",
    "wcnYpkJT7WKSkm2H/+fcf6hURnE5Uf8jm2Eqx0ctpWsperWb4aEHGplmvqwRGtfmKbKRvU84i51fad7J/6NV5Ow+bIIAfbmr",
    "ePE3dMrM1snZzj1njN4VdIUOb8XdOI6on+DG3oU9tREvzcFGLkcCOvpKlQKBgQDGHPg3k93AqMHfbQQJZbS03oRdcYFfjHQw",
    "mHGpZ5TJsh24qAhi5RDsTYn6LqSet75AU7MSIKpHrztv0TkSyS5A9KG5WPwlhbXBTtePr8YwB2rqCzLo03nNVpInboKyREgz",
    "fK0Eo3y4Mu3N85vN+weH55X9S+jaOglH5lsy0Ia8tQKBgQCWI10xy7Qych6CQvG8JGv+u8wqQCCVF1xL2h1kRsmhExrd/oko",
    "vDCPFRknB0tWJQRmEWz9yb3i+EZ5gl5e/jiCLScDmx2OGUsvUs4HkRT2KCDkqfbZoupai1P6God0VUZmSc/tb7hzFdLwJEXZ",
    "QTsIdzkeetTR00cGXv3bmDAvbQKBgQCX3MsU518b+QCsQQfQIEt2PgAfFQwD70l9ms29+u2d8tA/pWbQUCE50nJK+ggstlK7",
    "Qq3I3otI6fVY0Hu8f8TZ++wghSq7pJRfuw0YUrhMRtNY1v7OZJVApvTgDyFWf2sNNKv4G05WcIvDzNKJAb2TGx3pjY/QAJ7u",
    "o5ETEa/G5QKBgQClTHZ/NQd+/adAibLTVVsy9DchZgvU5KTDpwBTFXizptFABbrmS9GABNoCltjQq8GtrQZgjBOPn88ONGEt",
    "cD5NaTfGAVyn+BTwxEXGszUBesLJ7vA1At9fhcrkfWIxo8Kl8TIht7Sjt5JXq+zI5+F5DourpFZOGDvXGgeQafLJkg==",
];

pub struct RsaHolder {
    pair: RsaKeyPair,
    pss: bool,
}

impl RsaHolder {
    pub fn new(pss: bool) -> Self {
        let der = STANDARD.decode(TEST_RSA_PKCS8.concat()).unwrap();
        Self {
            pair: RsaKeyPair::from_pkcs8(&der).unwrap(),
            pss,
        }
    }

    pub fn public_jwk(&self) -> Jwk {
        let public = RsaPublicKeyComponents::<Vec<u8>>::from(self.pair.public());
        Jwk::from_json(&json!({
            "kty": "RSA",
            "n": b64(&public.n),
            "e": b64(&public.e),
            "alg": if self.pss { "PS256" } else { "RS256" },
        }))
        .unwrap()
    }
}

impl Signer for RsaHolder {
    fn sign_jws(&self, header: &JwsHeader<'_>, payload: &[u8]) -> Result<String, SignerError> {
        let alg = if self.pss { "PS256" } else { "RS256" };
        let header = json!({"alg": alg, "typ": header.typ}).to_string();
        let input = format!("{}.{}", b64(header), b64(payload));
        let mut signature = vec![0; self.pair.public().modulus_len()];
        let padding: &'static dyn RsaEncoding = if self.pss {
            &RSA_PSS_SHA256
        } else {
            &RSA_PKCS1_SHA256
        };
        self.pair
            .sign(
                padding,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "rsa signing failed")?;
        Ok(format!("{input}.{}", b64(signature)))
    }
}
