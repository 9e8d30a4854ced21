//! The expiry sweep: a background task that appends `expired` to every active consent whose
//! expiry has passed, with an audit record. Releases do not wait for it (they judge a consent by
//! `effective_state`, which is expired from the first millisecond past the expiry); the sweep makes
//! the ledger and the audit log say so, and lets the relay tell departments.
//!
//! Candidates come from the receipts table (one row per grant, `expires_at` indexed), minus the
//! consents that already have a terminal event, so a sweep reads only what is due. Several broker
//! instances may sweep at once: the `(consent_id, seq)` key lets exactly one record each expiry.

use std::time::Duration;

use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::Ledger;
use super::entities::{event as event_row, receipt as receipt_row};
use crate::Shutdown;
use crate::error::Error;
use store::now_ms;

/// Who the sweep's events and audit records name.
pub const SWEEP_ACTOR: &str = "consent-expiry";

/// Most consents expired in one pass; the next pass takes the rest.
const BATCH: u64 = 500;

/// Records every expiry due at `now`; returns how many were recorded.
pub async fn sweep(state: &Ledger, now: i64) -> Result<usize, Error> {
    let ended = Query::select()
        .column(event_row::Column::ConsentId)
        .from(event_row::Entity)
        .and_where(event_row::Column::Kind.is_in(["revoked", "expired"]))
        .to_owned();
    let due: Vec<String> = receipt_row::Entity::find()
        .select_only()
        .column(receipt_row::Column::ConsentId)
        .filter(receipt_row::Column::ExpiresAt.lte(now))
        .filter(receipt_row::Column::ConsentId.not_in_subquery(ended))
        .order_by_asc(receipt_row::Column::ExpiresAt)
        .limit(BATCH)
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut recorded = 0;
    for id in due {
        let Some(consent) = super::load(&state.db, &id)
            .await
            .map_err(|e| Error::from(super::LedgerError::Store(e)))?
        else {
            continue;
        };
        if super::ledger::expire(state, consent, now).await? {
            recorded += 1;
        }
    }
    Ok(recorded)
}

/// Runs [`sweep`] every `consent.expiry_sweep_secs` until shutdown.
pub async fn run(state: Ledger, mut stop: Shutdown) {
    let every = Duration::from_secs(state.settings.expiry_sweep_secs.max(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                match sweep(&state, now_ms()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(expired = n, "recorded consent expiries"),
                    Err(e) => tracing::warn!(error = %e, "consent expiry sweep failed"),
                }
            }
            _ = stop.changed() => break,
        }
    }
}
