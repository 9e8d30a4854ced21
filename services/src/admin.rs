//! Operator actions that span areas, each in one transaction with everything that must stop with
//! it: erasing a citizen's data, and enabling or disabling a department. The command line calls
//! these (`broker citizens erase`, `broker departments disable|enable`); nothing else does.
//!
//! INVARIANT: once an erasure or a disabling commits, nothing queued for that citizen or that
//! department is sent: its pending deliveries are cancelled in the same transaction, each with a
//! `delivery-cancelled` audit record.

use audit::{Action, Actor, ActorKind, Outcome};
use sea_orm::{DatabaseConnection, TransactionTrait};

use crate::audit_log::AuditLog;
use crate::citizens::{self, Status};
use crate::error::Error;
use crate::relay::outbox::{self, CancelReason, Pending};

/// Why an operator action was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no citizen `{0}`")]
    UnknownCitizen(String),
    #[error("no department `{0}`")]
    UnknownDepartment(String),
    #[error(transparent)]
    Failed(#[from] Error),
}

impl From<sea_orm::DbErr> for AdminError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Failed(e.into())
    }
}

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erased {
    pub deliveries_cancelled: usize,
    /// Its `attribute-erased` audit record.
    pub txn: String,
}

/// Erases a citizen's data by crypto-erasure: the data key and pairwise mappings are destroyed
/// (their stored values become unreadable noise), every delivery still queued about them is
/// cancelled, and an `attribute-erased` audit record names `operator`. The audit records about the
/// citizen stay: they hold names and ids, never values. An unknown or already erased citizen is
/// refused and nothing changes.
pub async fn erase_citizen(
    db: &DatabaseConnection,
    log: &AuditLog,
    id: &str,
    operator: &str,
) -> Result<Erased, AdminError> {
    let known = citizens::get(db, id).await.map_err(relay_error)?;
    if known.is_none_or(|c| c.status == Status::Erased) {
        return Err(AdminError::UnknownCitizen(id.chars().take(64).collect()));
    }
    let txn = db.begin().await?;
    citizens::erase(&txn, id).await.map_err(relay_error)?;
    let cancelled = outbox::cancel(
        &txn,
        log,
        Pending::OfCitizen(id),
        CancelReason::CitizenErased,
    )
    .await?;
    let mut record = AuditLog::record(
        Action::AttributeErased,
        Outcome::Ok,
        Actor::new(ActorKind::Operator, operator),
    );
    record.citizen_id = Some(id.to_owned());
    record
        .detail
        .insert("deliveries_cancelled".into(), cancelled.to_string());
    let receipt = log.append_in(&txn, record).await.map_err(Error::from)?;
    txn.commit().await?;
    Ok(Erased {
        deliveries_cancelled: cancelled,
        txn: receipt.id,
    })
}

fn relay_error(e: citizens::CitizenError) -> AdminError {
    AdminError::Failed(crate::relay::RelayError::from(e).into())
}

/// Enables or disables a department, with its `admin-action` audit record naming `operator`, in
/// one transaction. Disabling also cancels every delivery still queued for it: a disabled
/// department receives nothing, and enabling it again does not send what was cancelled. Returns
/// how many deliveries were cancelled.
pub async fn set_department_active(
    db: &DatabaseConnection,
    log: &AuditLog,
    id: &str,
    active: bool,
    operator: Actor,
) -> Result<usize, AdminError> {
    let txn = db.begin().await?;
    if !crate::departments::set_active(&txn, id, active).await? {
        return Err(AdminError::UnknownDepartment(id.chars().take(64).collect()));
    }
    let cancelled = if active {
        0
    } else {
        outbox::cancel(
            &txn,
            log,
            Pending::ForDepartment(id),
            CancelReason::DepartmentDisabled,
        )
        .await?
    };
    let mut record = AuditLog::record(Action::AdminAction, Outcome::Ok, operator);
    record.department_id = Some(id.to_owned());
    let change = if active {
        "department-enabled"
    } else {
        "department-disabled"
    };
    record.detail.insert("change".into(), change.to_owned());
    if !active {
        record
            .detail
            .insert("deliveries_cancelled".into(), cancelled.to_string());
    }
    log.append_in(&txn, record).await.map_err(Error::from)?;
    txn.commit().await?;
    Ok(cancelled)
}
