//! Consent receipts: one per grant, a compact JWS (ES256, the broker's current key, `typ`
//! `consent-receipt+jwt`) over the Kantara / ISO/IEC TS 27560 claims that `consent::ReceiptClaims`
//! assembles, plus `iss` and `iat`. The receipt names the citizen by the **recipient's** pairwise
//! subject id, so it cannot be used to join records across departments.
//!
//! Receipts are stored, so the citizen can download theirs again, and so a presented receipt can be
//! checked: its signature against the published keys (current and previous), then that it is the
//! very receipt the ledger issued for that consent and that the consent's grant says the same.

use consent::{
    Consent, PiiController, PostalAddress, ReceiptClaims, ReceiptFacts, State, Withdrawal,
};
use policies::Sensitivity;
use sea_orm::{ConnectionTrait, EntityTrait, Set};
use serde::{Deserialize, Serialize};

use super::Ledger;
use super::entities::receipt as receipt_row;
use super::{ConsentStoreError, LedgerError};
use crate::citizens::pairwise;
use crate::error::Error;
use crate::keys::{SigningKeys, VerifyError};
use crate::lang::{Lang, interpolate};

/// The JWS `typ` of a receipt.
pub const RECEIPT_TYP: &str = "consent-receipt+jwt";

/// What is signed: the receipt claims with the issuer and the time of signing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReceipt {
    /// The broker's issuer identifier.
    pub iss: String,
    /// When the receipt was signed, seconds since the epoch.
    pub iat: i64,
    #[serde(flatten)]
    pub claims: ReceiptClaims,
    /// A consent a delegate gave in the citizen's name: who acted (RFC 8693 §4.1), as the
    /// recipient department's pairwise subject of the delegate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<ReceiptAct>,
}

/// `act` of a receipt: the delegate who gave the consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptAct {
    pub sub: String,
}

/// A stored receipt (a copy of its row: the row itself is written only by [`issue`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReceipt {
    pub id: String,
    pub consent_id: String,
    /// The signed receipt, a compact JWS.
    pub jws: String,
    /// The key that signed it.
    pub kid: String,
    pub language: String,
    /// The level of assurance the citizen was identified at when they gave the consent.
    pub loa: i16,
    pub granted_at: i64,
    pub expires_at: i64,
}

impl From<receipt_row::Model> for StoredReceipt {
    fn from(row: receipt_row::Model) -> Self {
        Self {
            id: row.id,
            consent_id: row.consent_id,
            jws: row.jws,
            kid: row.kid,
            language: row.language,
            loa: row.loa,
            granted_at: row.granted_at,
            expires_at: row.expires_at,
        }
    }
}

/// How the citizen gave consent, for the receipt's `collectionMethod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    /// On the citizen's own initiative, on the broker's pages.
    OwnInitiative,
    /// In answer to a department's request, on the broker's pages.
    AnswerToRequest,
    /// Outside the broker (on paper, or through a previous system), recorded by an import.
    Imported,
    /// On the broker's consent screen, while signing in to a department's web application
    /// (the broker as OpenID Provider).
    SignInConsentScreen,
}

impl Collection {
    /// How the audit record of the grant says it was given (`detail.initiated_by`).
    pub fn initiated_by(self) -> &'static str {
        match self {
            Self::OwnInitiative => "citizen",
            Self::AnswerToRequest => "department-request",
            Self::Imported => "import",
            Self::SignInConsentScreen => "department-sign-in",
        }
    }
}

/// The controller named in receipts, from `[consent.controller]`.
fn controller(state: &Ledger, lang: Lang) -> PiiController {
    let c = &state.settings.controller;
    let (name, contact) = match lang {
        Lang::En => (&c.name, &c.contact),
        Lang::Fr => (&c.name_fr, &c.contact_fr),
    };
    PiiController {
        name: name.clone(),
        on_behalf: false,
        contact: contact.clone(),
        address: PostalAddress {
            street_address: c.street_address.clone(),
            locality: c.locality.clone(),
            region: c.region.clone(),
            postal_code: c.postal_code.clone(),
            country: c.country.clone(),
        },
        email: c.email.clone(),
        phone: c.phone.clone(),
        url: c.url.clone().unwrap_or_else(|| state.issuer.to_string()),
    }
}

/// The privacy notice named in receipts.
pub fn policy_url(state: &Ledger) -> String {
    state
        .settings
        .policy_url
        .clone()
        .unwrap_or_else(|| format!("{}/", state.issuer))
}

/// The sector the department's pairwise ids are derived for: the registry's, else the catalogue's.
pub async fn sector_of<C: ConnectionTrait>(
    conn: &C,
    state: &Ledger,
    department: &str,
) -> Result<String, Error> {
    if let Some(d) = crate::departments::get(conn, department).await? {
        return Ok(d.sector_identifier);
    }
    state
        .policy
        .catalogue()
        .department(department)
        .map(|d| d.sector_identifier.clone())
        .ok_or_else(|| LedgerError::UnknownDepartment(department.to_owned()).into())
}

/// The receipt's own words, in the language it is issued in. They are part of a signed legal
/// record, so they live with the code that signs it rather than in the pages' message files.
struct ReceiptTexts {
    collection_own: &'static str,
    collection_request: &'static str,
    collection_imported: &'static str,
    collection_sign_in: &'static str,
    withdrawal: &'static str,
}

/// The receipt's own sentences in `lang` (`{loa}` not yet filled): what a page shows of a receipt
/// comes from here, not from the pages' messages.
pub fn receipt_texts(lang: Lang) -> [&'static str; 5] {
    let t = texts(lang);
    [
        t.collection_own,
        t.collection_request,
        t.collection_imported,
        t.collection_sign_in,
        t.withdrawal,
    ]
}

fn texts(lang: Lang) -> ReceiptTexts {
    match lang {
        Lang::En => ReceiptTexts {
            collection_own: "Given by the citizen on their own initiative, on the Tell Us Once web pages, after signing in at level of assurance {loa}.",
            collection_request: "Given by the citizen in answer to the department's request, on the Tell Us Once web pages, after signing in at level of assurance {loa}.",
            collection_imported: "Given by the citizen outside the Tell Us Once web pages (on paper or through an earlier system), identified at level of assurance {loa}, and recorded in Tell Us Once afterwards.",
            collection_sign_in: "Given by the citizen on the Tell Us Once consent screen while signing in to the department's online service, after signing in at level of assurance {loa}.",
            withdrawal: "Sign in to Tell Us Once, open My consents, choose this consent and select Withdraw this consent. Withdrawal takes effect at once.",
        },
        Lang::Fr => ReceiptTexts {
            collection_own: "Donné par la personne de sa propre initiative, sur les pages Web Une fois suffit, après une connexion au niveau d'assurance {loa}.",
            collection_request: "Donné par la personne en réponse à la demande du ministère ou organisme, sur les pages Web Une fois suffit, après une connexion au niveau d'assurance {loa}.",
            collection_imported: "Donné par la personne hors des pages Web Une fois suffit (sur papier ou par un système antérieur), identifiée au niveau d'assurance {loa}, puis inscrit dans Une fois suffit.",
            collection_sign_in: "Donné par la personne sur l'écran de consentement d'Une fois suffit en se connectant au service en ligne du ministère ou organisme, après une connexion au niveau d'assurance {loa}.",
            withdrawal: "Connectez-vous à Une fois suffit, ouvrez Mes consentements, choisissez ce consentement puis sélectionnez Retirer ce consentement. Le retrait prend effet immédiatement.",
        },
    }
}

/// Signs and stores the receipt of `consent`'s grant, inside the caller's transaction.
pub async fn issue<C: ConnectionTrait>(
    conn: &C,
    state: &Ledger,
    consent: &Consent,
    lang: Lang,
    loa: u8,
    how: Collection,
) -> Result<StoredReceipt, Error> {
    let grant = consent
        .grant()
        .ok_or(LedgerError::Store(ConsentStoreError::Rule(
            consent::ConsentError::NotGranted {
                consent_id: consent.id(),
            },
        )))?;
    let catalogue = state.policy.catalogue();
    let department = catalogue
        .department(consent.department())
        .ok_or_else(|| LedgerError::UnknownDepartment(consent.department().to_owned()))?;
    let purpose = catalogue
        .purpose(consent.purpose())
        .ok_or_else(|| LedgerError::UnknownPurpose(consent.purpose().to_owned()))?;
    let sector = sector_of(conn, state, consent.department()).await?;
    let subject = pairwise::subject_for(
        conn,
        &state.secrets.pairwise,
        &sector,
        &consent.citizen().to_string(),
    )
    .await?;
    let words = texts(lang);
    let collection = match how {
        Collection::OwnInitiative => words.collection_own,
        Collection::AnswerToRequest => words.collection_request,
        Collection::Imported => words.collection_imported,
        Collection::SignInConsentScreen => words.collection_sign_in,
    };
    let receipt_id = uuid::Uuid::now_v7().to_string();
    let (purpose_text, legal_basis, recipient_name) = match lang {
        Lang::En => (&purpose.text_en, &purpose.legal_basis, &department.name_en),
        Lang::Fr => (
            &purpose.text_fr,
            &purpose.legal_basis_fr,
            &department.name_fr,
        ),
    };
    let facts = ReceiptFacts {
        receipt_id: receipt_id.clone(),
        pii_principal_id: subject,
        collection_method: interpolate(collection, &[("loa", loa.to_string())]),
        language: lang.code().to_owned(),
        controller: controller(state, lang),
        policy_url: policy_url(state),
        purpose_text: purpose_text.clone(),
        purpose_category: purpose.category.clone(),
        legal_basis: legal_basis.clone(),
        recipient_name: recipient_name.clone(),
        sensitive_attributes: catalogue
            .attributes()
            .iter()
            .filter(|a| a.sensitivity == Sensitivity::High)
            .map(|a| a.name.clone())
            .collect(),
        withdrawal: Withdrawal {
            url: format!("{}/me/consents/{}", state.issuer, consent.id()),
            text: words.withdrawal.to_owned(),
        },
    };
    let claims = ReceiptClaims::build(consent, facts)
        .map_err(|e| Error::from(LedgerError::Store(ConsentStoreError::Rule(e))))?;
    let act = super::granted_by_delegate(consent).map(|delegate| ReceiptAct {
        sub: pairwise::compute(&state.secrets.pairwise, &sector, &delegate),
    });
    let signed = SignedReceipt {
        iss: state.issuer.to_string(),
        iat: store::now_ms().div_euclid(1000),
        claims,
        act,
    };
    let jws = state.keys.sign(Some(RECEIPT_TYP), &signed)?;
    let row = StoredReceipt {
        id: receipt_id,
        consent_id: consent.id().to_string(),
        jws,
        kid: state.keys.current_kid(),
        language: lang.code().to_owned(),
        loa: i16::from(loa),
        granted_at: grant.granted_at_ms,
        expires_at: grant.expires_at_ms,
    };
    receipt_row::Entity::insert(receipt_row::ActiveModel {
        id: Set(row.id.clone()),
        consent_id: Set(row.consent_id.clone()),
        jws: Set(row.jws.clone()),
        kid: Set(row.kid.clone()),
        language: Set(row.language.clone()),
        loa: Set(row.loa),
        granted_at: Set(row.granted_at),
        expires_at: Set(row.expires_at),
    })
    .exec(conn)
    .await?;
    Ok(row)
}

/// The receipt of a consent's grant, if it has one.
pub async fn for_consent<C: ConnectionTrait>(
    conn: &C,
    consent_id: &str,
) -> Result<Option<StoredReceipt>, sea_orm::DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter};
    Ok(receipt_row::Entity::find()
        .filter(receipt_row::Column::ConsentId.eq(consent_id))
        .one(conn)
        .await?
        .map(StoredReceipt::from))
}

/// The claims of a receipt this broker issued (stored, so already verified once).
pub fn decode(jws: &str) -> Result<SignedReceipt, LedgerError> {
    let (_, payload, _) = crate::jose::split_compact(jws).ok_or(LedgerError::ReceiptMalformed)?;
    let bytes = crate::jose::b64_decode(payload).map_err(|_| LedgerError::ReceiptMalformed)?;
    serde_json::from_slice(&bytes).map_err(|_| LedgerError::ReceiptMalformed)
}

/// A receipt that verified: signed by one of the broker's published keys, and the very receipt the
/// ledger issued for a grant that says the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Verified {
    pub valid: bool,
    pub receipt_id: String,
    pub consent_id: String,
    /// The key that signed it (`kid`, published at `/jwks.json`).
    pub kid: String,
    /// The consent's state now: `active`, `revoked`, `expired`, …
    pub consent_state: String,
    pub department: String,
    pub purpose: String,
    pub attributes: Vec<String>,
    /// The grant's expiry (RFC 3339).
    pub expires_at: String,
}

/// Checks a presented receipt: signature (any key the broker signed with: receipts outlive
/// keys), then the ledger.
pub async fn verify<C: ConnectionTrait>(
    conn: &C,
    keys: &SigningKeys,
    jws: &str,
    now_ms: i64,
) -> Result<Verified, LedgerError> {
    let jws = jws.trim();
    let (header, payload) = keys.verify_historic(jws).map_err(|e| match e {
        VerifyError::Malformed => LedgerError::ReceiptMalformed,
        VerifyError::Algorithm | VerifyError::UnknownKey | VerifyError::Signature => {
            LedgerError::ReceiptSignature
        }
    })?;
    if header.get("typ").and_then(|t| t.as_str()) != Some(RECEIPT_TYP) {
        return Err(LedgerError::ReceiptMalformed);
    }
    let signed: SignedReceipt =
        serde_json::from_slice(&payload).map_err(|_| LedgerError::ReceiptMalformed)?;
    let claims = &signed.claims;
    let stored = receipt_row::Entity::find_by_id(claims.consent_receipt_id.clone())
        .one(conn)
        .await?
        .ok_or(LedgerError::ReceiptNotInLedger)?;
    if stored.jws != jws || stored.consent_id != claims.consent_id.to_string() {
        return Err(LedgerError::ReceiptNotInLedger);
    }
    let consent = super::load(conn, &stored.consent_id)
        .await?
        .ok_or(LedgerError::ReceiptNotInLedger)?;
    if !grant_matches(&consent, claims) {
        return Err(LedgerError::ReceiptNotInLedger);
    }
    let state: State = consent.effective_state(now_ms);
    Ok(Verified {
        valid: true,
        receipt_id: stored.id,
        consent_id: stored.consent_id,
        kid: header
            .get("kid")
            .and_then(|k| k.as_str())
            .unwrap_or_default()
            .to_owned(),
        consent_state: state.as_str().to_owned(),
        department: consent.department().to_owned(),
        purpose: consent.purpose().to_owned(),
        attributes: consent.attributes().map(str::to_owned).collect(),
        expires_at: consent
            .expires_at_ms()
            .map(consent::rfc3339_utc)
            .unwrap_or_default(),
    })
}

/// Whether the receipt says what the ledger's grant says.
fn grant_matches(consent: &Consent, claims: &ReceiptClaims) -> bool {
    let Some(grant) = consent.grant() else {
        return false;
    };
    let receipt_attributes: Vec<&str> = claims
        .services
        .iter()
        .flat_map(|s| s.purposes.iter())
        .flat_map(|p| p.pii_category.iter().map(String::as_str))
        .collect();
    let granted: Vec<&str> = grant.attributes.iter().map(String::as_str).collect();
    claims.consent_id == consent.id()
        && claims.recipient.id == consent.department()
        && claims.mode == consent.mode()
        && claims.expires_at == grant.expires_at_ms.div_euclid(1000)
        && claims.consent_timestamp == grant.granted_at_ms.div_euclid(1000)
        && receipt_attributes == granted
}

#[cfg(test)]
mod proptests;
