//! Pairwise subject identifiers (OpenID Connect Core §8.1): what a department sees instead of the
//! citizen id. `base64url(HMAC-SHA-256(secret, sector ‖ 0x00 ‖ citizen id))`: stable per (sector,
//! citizen), unlinkable across sectors without the broker's secret.
//!
//! The broker remembers each pairwise id it hands out, so a department's id maps back to the
//! citizen by lookup; an id for another sector is simply not found.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, Set};

use super::entities::pairwise_subject;
use crate::jose::b64;
use store::now_ms;

pub fn compute(secret: &[u8], sector_identifier: &str, citizen_id: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(sector_identifier.as_bytes());
    ctx.update(&[0]);
    ctx.update(citizen_id.as_bytes());
    b64(ctx.sign().as_ref())
}

/// The citizen's pairwise id for a sector, remembered for reverse lookup.
pub async fn subject_for<C: ConnectionTrait>(
    conn: &C,
    secret: &[u8],
    sector_identifier: &str,
    citizen_id: &str,
) -> Result<String, DbErr> {
    let subject = compute(secret, sector_identifier, citizen_id);
    let row = pairwise_subject::ActiveModel {
        sector_identifier: Set(sector_identifier.to_owned()),
        subject: Set(subject.clone()),
        citizen_id: Set(citizen_id.to_owned()),
        created_at: Set(now_ms()),
    };
    let insert = pairwise_subject::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                pairwise_subject::Column::SectorIdentifier,
                pairwise_subject::Column::Subject,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec(conn)
        .await;
    match insert {
        Ok(_) | Err(DbErr::RecordNotInserted) => Ok(subject),
        Err(e) => Err(e),
    }
}

/// The citizen behind a pairwise id in a sector, if the broker ever issued it there.
pub async fn citizen_for<C: ConnectionTrait>(
    conn: &C,
    sector_identifier: &str,
    subject: &str,
) -> Result<Option<String>, DbErr> {
    pairwise_subject::Entity::find()
        .select_only()
        .column(pairwise_subject::Column::CitizenId)
        .filter(pairwise_subject::Column::SectorIdentifier.eq(sector_identifier))
        .filter(pairwise_subject::Column::Subject.eq(subject))
        .into_tuple::<String>()
        .one(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_per_sector_and_different_across_sectors() {
        let s = b"secret-secret-secret-secret-1234";
        let a1 = compute(s, "https://revenue.example", "c1");
        assert_eq!(a1, compute(s, "https://revenue.example", "c1"));
        assert_ne!(a1, compute(s, "https://passport.example", "c1"));
        assert_ne!(a1, compute(s, "https://revenue.example", "c2"));
        assert_ne!(
            a1,
            compute(
                b"another-secret-another-secret-12",
                "https://revenue.example",
                "c1"
            )
        );
        // No ambiguity from concatenation: ("ab", "c") and ("a", "bc") differ.
        assert_ne!(compute(s, "ab", "c"), compute(s, "a", "bc"));
        assert_eq!(a1.len(), 43, "256-bit base64url without padding");
    }
}
