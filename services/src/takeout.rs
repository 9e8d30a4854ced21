//! The citizen's takeout (issue 15 §2): one signed bundle holding everything the broker keeps
//! about a citizen — their facts (every version, values included: it is their own data) with
//! provenance and assurance, every consent with its signed receipt, every audit record about them
//! with its inclusion proof and the signed checkpoint it leads to, and the public keys that
//! signed all of it. The bundle is a compact JWS (ES256, the broker's signing key, `typ`
//! [`TAKEOUT_TYP`]) whose payload is plain JSON ([`Bundle`]); [`verify`] checks one offline, and
//! docs/takeout.md says how to do it with any JOSE library.
//!
//! **Owns:** nothing stored. It reads through the owners' public functions only: `citizens`
//! (facts), `consents` (the ledger and receipts), `audit_log` (records, proofs, checkpoints).
//! **Never:** writes anything but the export's own audit record (`citizen-export`), logs a value,
//! or puts one in an error.
//!
//! INVARIANT: the export is in the log before the bundle exists, and the bundle proves it: the
//! `citizen-export` record is appended (and integrated) first, then a checkpoint covering it is
//! signed, then every record about the citizen up to that checkpoint is read with its proof.

pub mod verify;

use std::sync::Arc;
use std::time::Duration;

use audit::{Action, Actor, ActorKind, Outcome};
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};

use crate::audit_log::query::{self, CheckpointView, Filter, RecordView};
use crate::audit_log::{AuditError, AuditLog};
use crate::citizens::{self, CitizenError, Provenance};
use crate::consents::{self, ConsentStoreError, receipts};
use crate::keys::{Jwk, SignError, SigningKeys};
use crate::vault::Vault;
use store::now_ms;

/// The JWS `typ` of a takeout.
pub const TAKEOUT_TYP: &str = "takeout+jwt";
/// The payload's `type` member.
pub const BUNDLE_TYPE: &str = "takeout";
/// The payload's format version.
pub const BUNDLE_VERSION: u64 = 1;

/// How long an export waits for its own audit record to be integrated (queued write path).
const INTEGRATION_WAIT: Duration = Duration::from_secs(10);
/// Audit records read per query.
const RECORD_BATCH: u64 = 500;

/// The takeout service: what it reads through, and the key it signs with.
#[derive(Debug, Clone)]
pub struct Takeout {
    pub db: DatabaseConnection,
    pub vault: Arc<Vault>,
    pub keys: Arc<SigningKeys>,
    pub audit: AuditLog,
    /// The broker's issuer identifier (the bundle's `iss`).
    pub issuer: Arc<str>,
}

#[derive(Debug, thiserror::Error)]
pub enum TakeoutError {
    #[error(transparent)]
    Citizen(#[from] CitizenError),
    #[error(transparent)]
    Consents(#[from] ConsentStoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("cannot sign the takeout: {0}")]
    Sign(#[from] SignError),
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// The export's own record still waits in the audit queue: ask again shortly.
    #[error("the export's audit record is not integrated yet")]
    Pending,
    #[error("no signed checkpoint covers the export's audit record")]
    NoCheckpoint,
}

/// A signed takeout, ready to download.
#[derive(Debug, Clone)]
pub struct Export {
    /// The compact JWS.
    pub jws: String,
    /// A file name for it (`takeout-<date>.jws`).
    pub file_name: String,
    /// The id of the `citizen-export` audit record.
    pub record_id: String,
}

/// The signed payload (field by field in docs/takeout.md).
#[derive(Debug, Clone, Serialize)]
pub struct Bundle {
    /// The broker's issuer identifier.
    pub iss: String,
    /// The citizen's internal id (the `citizen_id` of their audit records).
    pub sub: String,
    /// When the bundle was signed, seconds since the epoch.
    pub iat: i64,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub v: u64,
    /// The `citizen-export` record of this very export (it is among `audit.records`).
    pub export_record: String,
    pub facts: Vec<FactHistory>,
    pub consents: Vec<ConsentEntry>,
    pub audit: AuditPart,
    /// Every key that ever signed for this broker: published ones (current first), then archived
    /// ones (checkpoints and receipts outlive keys).
    pub jwks: JwkSet,
}

/// One attribute: every version, newest (current) first.
#[derive(Debug, Clone, Serialize)]
pub struct FactHistory {
    pub attribute: String,
    pub versions: Vec<FactVersion>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FactVersion {
    pub version: i32,
    pub value: serde_json::Value,
    pub provenance: Provenance,
}

/// One consent: its identity, state and every event (as the ledger replays it), its state now,
/// and the receipt signed when it was granted.
#[derive(Debug, Clone, Serialize)]
pub struct ConsentEntry {
    #[serde(flatten)]
    pub consent: consent::Consent,
    /// `requested`, `active`, `refused`, `revoked` or `expired`, at the time of the export.
    pub effective_state: String,
    pub receipt: Option<ReceiptEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReceiptEntry {
    pub id: String,
    /// Compact JWS, `typ` `consent-receipt+jwt`, signed by the broker.
    pub jws: String,
    pub kid: String,
    pub language: String,
    /// The level of assurance the citizen was identified at when they gave it.
    pub loa: i16,
}

/// The audit records about the citizen, oldest first, each with its inclusion proof, and the
/// signed checkpoints the proofs lead to.
#[derive(Debug, Clone, Serialize)]
pub struct AuditPart {
    pub records: Vec<ProvenRecord>,
    pub checkpoints: Vec<CheckpointView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProvenRecord {
    pub record: RecordView,
    pub proof: ProofEntry,
}

/// An RFC 9162 inclusion proof against the checkpoint of `tree_size` in `audit.checkpoints`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProofEntry {
    pub leaf_index: u64,
    pub tree_size: u64,
    /// Sibling hashes from the leaf up, hex.
    pub path: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

impl Takeout {
    /// Records the export in the audit log, then builds and signs the citizen's bundle.
    pub async fn export(&self, citizen_id: &str) -> Result<Export, TakeoutError> {
        let mut record = AuditLog::record(
            Action::CitizenExport,
            Outcome::Ok,
            Actor::new(ActorKind::Citizen, citizen_id),
        );
        record.citizen_id = Some(citizen_id.to_owned());
        let appended = self.audit.append(record).await?;
        self.integrated(&appended.id).await?;
        self.audit.checkpoint_now().await?;
        let checkpoint = query::latest_checkpoint(&self.db)
            .await?
            .ok_or(TakeoutError::NoCheckpoint)?;
        let records = self.records(citizen_id, &checkpoint).await?;
        if !records.iter().any(|r| r.record.id == appended.id) {
            return Err(TakeoutError::NoCheckpoint);
        }
        let now = now_ms();
        let bundle = Bundle {
            iss: self.issuer.to_string(),
            sub: citizen_id.to_owned(),
            iat: now.div_euclid(1000),
            kind: BUNDLE_TYPE,
            v: BUNDLE_VERSION,
            export_record: appended.id.clone(),
            facts: self.facts(citizen_id).await?,
            consents: self.consents(citizen_id, now).await?,
            audit: AuditPart {
                records,
                checkpoints: vec![CheckpointView::of(&checkpoint)],
            },
            jwks: JwkSet {
                keys: self
                    .keys
                    .published()
                    .into_iter()
                    .chain(self.keys.archived())
                    .collect(),
            },
        };
        let jws = self.keys.sign(Some(TAKEOUT_TYP), &bundle)?;
        let date = query::rfc3339(now).get(..10).unwrap_or("").to_owned();
        Ok(Export {
            jws,
            file_name: format!("takeout-{date}.jws"),
            record_id: appended.id,
        })
    }

    /// Waits until record `id` left the audit queue (at once on the direct write path). The
    /// integrator was woken by the append; this only waits for it.
    async fn integrated(&self, id: &str) -> Result<(), TakeoutError> {
        let deadline = tokio::time::Instant::now() + INTEGRATION_WAIT;
        while self.audit.queued_record(id).await?.is_some() {
            if tokio::time::Instant::now() >= deadline {
                return Err(TakeoutError::Pending);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    async fn facts(&self, citizen_id: &str) -> Result<Vec<FactHistory>, TakeoutError> {
        let current = citizens::current_facts(&self.db, &self.vault, citizen_id, None).await?;
        let mut out = Vec::with_capacity(current.len());
        for fact in current {
            let versions = citizens::history(&self.db, &self.vault, citizen_id, &fact.attribute)
                .await?
                .into_iter()
                .map(|f| FactVersion {
                    version: f.version,
                    value: f.value,
                    provenance: f.provenance,
                })
                .collect();
            out.push(FactHistory {
                attribute: fact.attribute,
                versions,
            });
        }
        Ok(out)
    }

    async fn consents(
        &self,
        citizen_id: &str,
        now: i64,
    ) -> Result<Vec<ConsentEntry>, TakeoutError> {
        let mut out = Vec::new();
        for consent in consents::for_citizen(&self.db, citizen_id).await? {
            let receipt = receipts::for_consent(&self.db, &consent.id().to_string())
                .await?
                .map(|r| ReceiptEntry {
                    id: r.id,
                    jws: r.jws,
                    kid: r.kid,
                    language: r.language,
                    loa: r.loa,
                });
            out.push(ConsentEntry {
                effective_state: consent.effective_state(now).as_str().to_owned(),
                consent,
                receipt,
            });
        }
        Ok(out)
    }

    /// Every record about the citizen that `checkpoint` covers, oldest first, with its proof.
    async fn records(
        &self,
        citizen_id: &str,
        checkpoint: &crate::audit_log::entities::checkpoint::Model,
    ) -> Result<Vec<ProvenRecord>, TakeoutError> {
        let filter = Filter {
            citizen_id: Some(citizen_id.to_owned()),
            ..Filter::default()
        };
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let rows = query::oldest_first(&self.db, &filter, after, RECORD_BATCH).await?;
            let Some(last) = rows.last() else { break };
            after = Some(last.seq);
            for row in rows {
                // Records after the checkpoint came after the export: the next takeout has them.
                let Some(proof) = query::inclusion(&self.db, &row, checkpoint).await? else {
                    return Ok(out);
                };
                out.push(ProvenRecord {
                    record: RecordView::of(&row),
                    proof: ProofEntry {
                        leaf_index: proof.leaf_index,
                        tree_size: proof.checkpoint.tree_size,
                        path: proof.path,
                    },
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
