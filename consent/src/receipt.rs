//! Consent receipt claims after the Kantara Initiative Consent Receipt Specification v1.1 (the
//! basis of ISO/IEC TS 27560). The field mapping is documented on [`ReceiptClaims`]. The broker
//! signs the claims as a JWS; this module only assembles them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Consent, ConsentError, Mode};

mod time;

pub use time::rfc3339_utc;

/// The receipt format version.
pub const RECEIPT_VERSION: &str = "KI-CR-v1.1.0";
/// The receipt's jurisdiction.
pub const JURISDICTION: &str = "CA";
/// The consent type: express consent given by the citizen.
pub const CONSENT_TYPE: &str = "EXPRESSED";

/// Consent receipt claims, after the Kantara Initiative Consent Receipt Specification v1.1 (the
/// basis of ISO/IEC TS 27560), adapted to a broker between citizens and departments.
///
/// The broker signs these claims as a JWS; [`ReceiptClaims::build`] only assembles them.
///
/// | Kantara CR v1.1 field | here |
/// |---|---|
/// | `version` | `"KI-CR-v1.1.0"` |
/// | `jurisdiction` | `"CA"` |
/// | `consentTimestamp` | the grant's time, in seconds since the epoch (the spec's unit) |
/// | `collectionMethod` | caller-supplied sentence: how the citizen expressed consent |
/// | `consentReceiptID` | caller-supplied unique id of this receipt |
/// | `publicKey` | omitted: the JWS header identifies the broker's key (`kid`) |
/// | `language` | the language the citizen saw (`en` or `fr`) |
/// | `piiPrincipalId` | the citizen as the **recipient's** pairwise subject id, so the receipt cannot join records across departments; never the internal citizen id |
/// | `piiControllers[]` | one entry: the broker operator (`piiController` name, `onBehalf` false, `contact`, `address`, `email`, `phone`, `piiControllerUrl`) |
/// | `policyUrl` | the broker's privacy notice |
/// | `services[].service` | the purpose in plain language |
/// | `services[].purposes[].purpose` | the purpose in plain language |
/// | `…purposeCategory` | the purpose's category, one element |
/// | `…consentType` | `"EXPRESSED"` (express consent, the term of Canadian privacy law) |
/// | `…piiCategory` | the granted attribute names |
/// | `…primaryPurpose` | `true`: the purpose is the reason the data is shared |
/// | `…termination` | the expiry, RFC 3339 UTC; the consent ends earlier if withdrawn |
/// | `…thirdPartyDisclosure`, `…thirdPartyName` | `true`, the recipient department's name |
/// | `sensitive`, `spiCat` | whether any granted attribute is sensitive, and which |
///
/// Our additions, in snake case so they never collide with a future Kantara field: `consent_id`,
/// `mode`, `legal_basis`, `recipient` (id and name), `expires_at` (seconds, the same instant as
/// `termination`) and `withdrawal` (where and how to withdraw).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptClaims {
    /// Always [`RECEIPT_VERSION`].
    pub version: String,
    /// Always [`JURISDICTION`].
    pub jurisdiction: String,
    /// When consent was given, in seconds since the epoch.
    #[serde(rename = "consentTimestamp")]
    pub consent_timestamp: i64,
    /// How consent was collected.
    #[serde(rename = "collectionMethod")]
    pub collection_method: String,
    /// This receipt's unique id.
    #[serde(rename = "consentReceiptID")]
    pub consent_receipt_id: String,
    /// Not used: the signing key is named in the JWS header.
    #[serde(rename = "publicKey", default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// The language of the consent notice (`en` or `fr`).
    pub language: String,
    /// The citizen, as the recipient's pairwise subject id.
    #[serde(rename = "piiPrincipalId")]
    pub pii_principal_id: String,
    /// The controller: the broker's operator.
    #[serde(rename = "piiControllers")]
    pub pii_controllers: Vec<PiiController>,
    /// The privacy notice.
    #[serde(rename = "policyUrl")]
    pub policy_url: String,
    /// One service: the sharing this consent allows.
    pub services: Vec<ReceiptService>,
    /// Whether any granted attribute is sensitive.
    pub sensitive: bool,
    /// The sensitive attributes among those granted.
    #[serde(rename = "spiCat")]
    pub spi_cat: Vec<String>,
    /// The consent's id in the broker.
    pub consent_id: Uuid,
    /// Once or ongoing.
    pub mode: Mode,
    /// The legal basis of the purpose (a statute citation).
    pub legal_basis: String,
    /// The department receiving the attributes.
    pub recipient: Recipient,
    /// The expiry, in seconds since the epoch.
    pub expires_at: i64,
    /// Where and how to withdraw.
    pub withdrawal: Withdrawal,
}

/// A Kantara `piiControllers` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PiiController {
    /// The controller's name.
    #[serde(rename = "piiController")]
    pub name: String,
    /// Whether it acts on behalf of another controller.
    #[serde(rename = "onBehalf")]
    pub on_behalf: bool,
    /// A contact (an office or a role).
    pub contact: String,
    /// The postal address.
    pub address: PostalAddress,
    /// The contact email.
    pub email: String,
    /// The contact telephone number, if published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The controller's web site.
    #[serde(rename = "piiControllerUrl")]
    pub url: String,
}

/// The controller's postal address (schema.org `PostalAddress` names, as Kantara uses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostalAddress {
    /// Street and number.
    #[serde(rename = "streetAddress")]
    pub street_address: String,
    /// City.
    #[serde(rename = "addressLocality")]
    pub locality: String,
    /// Province or territory.
    #[serde(rename = "addressRegion")]
    pub region: String,
    /// Postal code.
    #[serde(rename = "postalCode")]
    pub postal_code: String,
    /// Country code.
    #[serde(rename = "addressCountry")]
    pub country: String,
}

/// A Kantara `services` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptService {
    /// The service, in plain language.
    pub service: String,
    /// Its purposes (one here).
    pub purposes: Vec<ReceiptPurpose>,
}

/// A Kantara `purposes` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptPurpose {
    /// The purpose, in plain language.
    pub purpose: String,
    /// The purpose's category.
    #[serde(rename = "purposeCategory")]
    pub purpose_category: Vec<String>,
    /// Always [`CONSENT_TYPE`].
    #[serde(rename = "consentType")]
    pub consent_type: String,
    /// The granted attribute names.
    #[serde(rename = "piiCategory")]
    pub pii_category: Vec<String>,
    /// Whether this is the primary purpose.
    #[serde(rename = "primaryPurpose")]
    pub primary_purpose: bool,
    /// When consent ends (RFC 3339, UTC).
    pub termination: String,
    /// Always true: the data goes to a department.
    #[serde(rename = "thirdPartyDisclosure")]
    pub third_party_disclosure: bool,
    /// The recipient department's name.
    #[serde(rename = "thirdPartyName")]
    pub third_party_name: String,
}

/// The recipient department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// The department's id.
    pub id: String,
    /// Its name, in the receipt's language.
    pub name: String,
}

/// Where and how to withdraw consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawal {
    /// The page where the citizen withdraws.
    pub url: String,
    /// One sentence on how, in the receipt's language.
    pub text: String,
}

/// What the caller knows and this crate does not: names, texts, the operator, the pairwise id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptFacts {
    /// The unique id of this receipt.
    pub receipt_id: String,
    /// The citizen's pairwise subject id **for the recipient department**.
    pub pii_principal_id: String,
    /// How consent was collected, for example "Web form on the broker, after sign-in at LoA 2".
    pub collection_method: String,
    /// `en` or `fr`.
    pub language: String,
    /// The broker's operator.
    pub controller: PiiController,
    /// The privacy notice.
    pub policy_url: String,
    /// The purpose in plain language, in `language`.
    pub purpose_text: String,
    /// The purpose's category.
    pub purpose_category: String,
    /// The purpose's legal basis.
    pub legal_basis: String,
    /// The recipient department's name, in `language`.
    pub recipient_name: String,
    /// The granted attributes that the catalogue marks sensitive.
    pub sensitive_attributes: Vec<String>,
    /// Where and how to withdraw.
    pub withdrawal: Withdrawal,
}

impl ReceiptClaims {
    /// Assembles the receipt of `consent`'s grant.
    ///
    /// # Errors
    /// [`ConsentError::NotGranted`] when the consent has never been granted.
    pub fn build(consent: &Consent, facts: ReceiptFacts) -> Result<Self, ConsentError> {
        let grant = consent.grant().ok_or(ConsentError::NotGranted {
            consent_id: consent.id(),
        })?;
        let granted: Vec<String> = grant.attributes.iter().cloned().collect();
        let spi_cat: Vec<String> = facts
            .sensitive_attributes
            .into_iter()
            .filter(|name| grant.attributes.contains(name))
            .collect();
        let purpose = ReceiptPurpose {
            purpose: facts.purpose_text.clone(),
            purpose_category: vec![facts.purpose_category],
            consent_type: CONSENT_TYPE.to_owned(),
            pii_category: granted,
            primary_purpose: true,
            termination: rfc3339_utc(grant.expires_at_ms),
            third_party_disclosure: true,
            third_party_name: facts.recipient_name.clone(),
        };
        Ok(Self {
            version: RECEIPT_VERSION.to_owned(),
            jurisdiction: JURISDICTION.to_owned(),
            consent_timestamp: grant.granted_at_ms.div_euclid(1000),
            collection_method: facts.collection_method,
            consent_receipt_id: facts.receipt_id,
            public_key: None,
            language: facts.language,
            pii_principal_id: facts.pii_principal_id,
            pii_controllers: vec![facts.controller],
            policy_url: facts.policy_url,
            services: vec![ReceiptService {
                service: facts.purpose_text,
                purposes: vec![purpose],
            }],
            sensitive: !spi_cat.is_empty(),
            spi_cat,
            consent_id: consent.id(),
            mode: consent.mode(),
            legal_basis: facts.legal_basis,
            recipient: Recipient {
                id: consent.department().to_owned(),
                name: facts.recipient_name,
            },
            expires_at: grant.expires_at_ms.div_euclid(1000),
            withdrawal: facts.withdrawal,
        })
    }
}

#[cfg(test)]
mod tests;
