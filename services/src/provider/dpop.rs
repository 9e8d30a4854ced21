//! DPoP proofs at the provider's endpoints (RFC 9449): verified by `fapi::dpop`, then their
//! replay key remembered until the proof would be stale anyway, so a proof is accepted once on
//! any instance.

use fapi::dpop::{DpopPolicy, DpopRequest, VerifiedProof};
use sea_orm::sea_query::OnConflict;
use sea_orm::{DbErr, EntityTrait, Set};

use super::entities::dpop_proof;
use super::{Provider, ProviderError};
use crate::error::Error;
use fapi::ErrorCode;

/// Verifies the `DPoP` header values of a request to `url` with `method` (with `access_token`
/// at a resource) and spends the proof.
pub async fn verify(
    provider: &Provider,
    headers: &[&str],
    method: &str,
    url: &str,
    access_token: Option<&str>,
) -> Result<VerifiedProof, Error> {
    let now = store::now_ms() / 1000;
    let request = DpopRequest {
        method,
        uri: url,
        access_token,
        nonces: None,
    };
    let proof = fapi::dpop::verify_header(headers, &request, &DpopPolicy::default(), now)
        .map_err(ProviderError::from)?;
    if !remember(&provider.oauth.db, &proof).await? {
        return Err(ProviderError::new(
            ErrorCode::InvalidDpopProof,
            "the DPoP proof was already used",
        )
        .into());
    }
    Ok(proof)
}

/// Stores the proof's replay key; false when it was already there.
async fn remember(db: &sea_orm::DatabaseConnection, proof: &VerifiedProof) -> Result<bool, DbErr> {
    let row = dpop_proof::ActiveModel {
        replay_key: Set(proof.replay_key.clone()),
        expires_at: Set(proof.remember_until),
    };
    let inserted = dpop_proof::Entity::insert(row)
        .on_conflict(
            OnConflict::column(dpop_proof::Column::ReplayKey)
                .do_nothing()
                .to_owned(),
        )
        .exec(db)
        .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(DbErr::RecordNotInserted) => Ok(false),
        Err(e) => Err(e),
    }
}
