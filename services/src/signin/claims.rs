//! Claims a provider asserts at sign-in, turned into attribute values with provenance ("asserted by
//! provider X at level n, at time t"). A later sign-in records a new version; a value a department
//! verified at a higher level is kept, and the citizen is told which provider value was not taken.
//!
//! INVARIANT: values only go to `citizens` (encrypted); logs and errors name attributes, never values.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Map, Value};

use super::entities::claim_notice;
use crate::citizens::{self, AssertOutcome, CitizenError, Provenance, SourceKind};
use crate::vault::Vault;

/// The attributes sign-in fills, in the order shown to citizens.
pub const ATTRIBUTES: [&str; 7] = [
    "given_name",
    "family_name",
    "birthdate",
    "email",
    "phone_number",
    "address",
    "preferred_language",
];

const ADDRESS_FIELDS: [&str; 6] = [
    "formatted",
    "street_address",
    "locality",
    "region",
    "postal_code",
    "country",
];

/// A string claim, trimmed. Whether it is acceptable is the catalogue's rule, not this one's.
fn text(value: Option<&Value>) -> Option<Value> {
    let s = value?.as_str()?.trim();
    Some(Value::String(s.to_owned()))
}

/// A telephone number in E.164 as the catalogue wants it: the separators people and providers
/// write (`+1 819-555-0100`, `+1 (819) 555.0100`) are dropped; anything else is left to the check.
fn phone(value: Option<&Value>) -> Option<Value> {
    let s = value?.as_str()?.trim();
    let compact: String = s
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    Some(Value::String(compact))
}

fn address(value: Option<&Value>) -> Option<Value> {
    let object = value?.as_object()?;
    let mut out = Map::new();
    for field in ADDRESS_FIELDS {
        if let Some(v) = text(object.get(field)) {
            out.insert(field.to_owned(), v);
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

fn language(claims: &Map<String, Value>) -> Option<Value> {
    let raw = text(claims.get("preferred_language")).or_else(|| text(claims.get("locale")))?;
    let code = raw.as_str()?.to_ascii_lowercase();
    let primary = code.split(['-', '_']).next()?;
    matches!(primary, "en" | "fr").then(|| Value::String(primary.to_owned()))
}

/// The attribute values a set of claims asserts. Each claim is put in the catalogue's shape
/// (trimmed; the OpenID address members only; `locale` read as a language), then checked by the
/// catalogue's own validator — the one rule citizens' pages and departments' reports are held to
/// too. A claim that fails it is skipped (the provider's value is not taken), never stored.
pub fn attributes_from(
    catalogue: &policies::Catalogue,
    claims: &Map<String, Value>,
) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    for name in ATTRIBUTES {
        let value = match name {
            "address" => address(claims.get(name)),
            "phone_number" => phone(claims.get(name)),
            "preferred_language" => language(claims),
            _ => text(claims.get(name)),
        };
        if let Some(v) = value
            && catalogue.validate_value(name, &v).is_ok()
        {
            out.push((name, v));
        }
    }
    out
}

/// What happened to each asserted attribute.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// A new version was written.
    pub updated: Vec<String>,
    /// Kept the department-verified value.
    pub not_taken: Vec<String>,
}

/// Records each asserted attribute for `citizen_id` inside the caller's transaction.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    vault: &Vault,
    catalogue: &policies::Catalogue,
    citizen_id: &str,
    provider_id: &str,
    loa: u8,
    claims: &Map<String, Value>,
) -> Result<Recorded, CitizenError> {
    let now = store::now_ms();
    let provenance = Provenance {
        source_kind: SourceKind::Provider,
        source_id: provider_id.to_owned(),
        method: "asserted".to_owned(),
        loa,
        verified: false,
        recorded_at: now,
    };
    let mut recorded = Recorded::default();
    for (attribute, value) in attributes_from(catalogue, claims) {
        let outcome =
            citizens::record_asserted(conn, vault, citizen_id, attribute, &value, &provenance)
                .await?;
        let notice = match outcome {
            AssertOutcome::Recorded(_) => {
                recorded.updated.push(attribute.to_owned());
                None
            }
            AssertOutcome::Unchanged => None,
            AssertOutcome::KeptVerified { by, loa: kept_loa } => {
                let current = citizens::current_fact(conn, vault, citizen_id, attribute).await?;
                // The same value confirmed by the provider is nothing to tell.
                if current.is_some_and(|f| f.value == value) {
                    None
                } else {
                    recorded.not_taken.push(attribute.to_owned());
                    Some((by, kept_loa))
                }
            }
        };
        match notice {
            Some((by, kept_loa)) => {
                claim_notice::Entity::insert(claim_notice::ActiveModel {
                    citizen_id: Set(citizen_id.to_owned()),
                    attribute: Set(attribute.to_owned()),
                    provider_id: Set(provider_id.to_owned()),
                    provider_loa: Set(i16::from(loa)),
                    kept_source_id: Set(by),
                    kept_loa: Set(i16::from(kept_loa)),
                    noticed_at: Set(now),
                })
                .on_conflict(
                    OnConflict::columns([
                        claim_notice::Column::CitizenId,
                        claim_notice::Column::Attribute,
                        claim_notice::Column::ProviderId,
                    ])
                    .update_columns([
                        claim_notice::Column::ProviderLoa,
                        claim_notice::Column::KeptSourceId,
                        claim_notice::Column::KeptLoa,
                        claim_notice::Column::NoticedAt,
                    ])
                    .to_owned(),
                )
                .exec(conn)
                .await?;
            }
            None => {
                claim_notice::Entity::delete_many()
                    .filter(claim_notice::Column::CitizenId.eq(citizen_id))
                    .filter(claim_notice::Column::Attribute.eq(attribute))
                    .filter(claim_notice::Column::ProviderId.eq(provider_id))
                    .exec(conn)
                    .await?;
            }
        }
    }
    Ok(recorded)
}

/// The citizen's notices about provider values not taken.
pub async fn notices<C: ConnectionTrait>(
    conn: &C,
    citizen_id: &str,
) -> Result<Vec<claim_notice::Model>, sea_orm::DbErr> {
    claim_notice::Entity::find()
        .filter(claim_notice::Column::CitizenId.eq(citizen_id))
        .all(conn)
        .await
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn standard_claims_become_attributes_and_junk_is_skipped() {
        let claims = map(json!({
            "sub": "x",
            "given_name": "Alice",
            "family_name": "  Tremblay ",
            "birthdate": "1958-04-12",
            "email": "alice@example.org",
            "phone_number": "+1 819 555 0100",
            "address": {"street_address": "123 Rue Principale", "locality": "Gatineau", "region": "QC",
                "postal_code": "J8X 1A1", "country": "CA", "evil": "x"},
            "locale": "fr-CA",
            "nickname": "ignored",
        }));
        let catalogue = policies::Catalogue::embedded().unwrap();
        let attrs = attributes_from(&catalogue, &claims);
        let names: Vec<_> = attrs.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            vec![
                "given_name",
                "family_name",
                "birthdate",
                "email",
                "phone_number",
                "address",
                "preferred_language"
            ]
        );
        let get = |n: &str| attrs.iter().find(|(a, _)| *a == n).unwrap().1.clone();
        assert_eq!(get("family_name"), json!("Tremblay"));
        assert_eq!(
            get("address"),
            json!({"street_address": "123 Rue Principale", "locality": "Gatineau", "region": "QC",
                "postal_code": "J8X 1A1", "country": "CA"})
        );
        assert_eq!(get("preferred_language"), json!("fr"));

        let junk = map(json!({
            "given_name": "",
            "family_name": "x".repeat(600),
            "birthdate": "1958",
            "email": 42,
            "address": "not an object",
            "preferred_language": "de",
            "phone_number": "line\nbreak",
        }));
        assert!(attributes_from(&catalogue, &junk).is_empty());
        // The catalogue's rules, not looser ones: an address missing a member, a name longer than
        // the catalogue's 256 characters (sign-in used to take 512 bytes).
        let partial = map(json!({
            "address": {"street_address": "1 Rue", "locality": "Gatineau"},
            "given_name": "é".repeat(257),
        }));
        assert!(attributes_from(&catalogue, &partial).is_empty());
        for (name, value) in &attrs {
            catalogue.validate_value(name, value).unwrap();
        }
    }
}
