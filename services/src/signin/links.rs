//! Identity links: which citizen an upstream identity (issuer, sub) signs in as.
//!
//! INVARIANT: a link is only ever created for the identity that just signed in: on a first sign-in
//! (with a new citizen, in one transaction) or, for a second provider, when the same browser
//! session proved the citizen first. Never on a matching email, name or birthdate.
//!
//! INVARIANT: a citizen keeps at least one link; linking and unlinking are audited in the same
//! transaction as the change.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};

use super::entities::identity_link;
use super::error::SignInError;
use crate::audit_log::{Action, Actor, ActorKind, AuditLog, Outcome};
use crate::error::Error;
use store::now_ms;

pub use identity_link::Model as Link;

pub async fn find<C: ConnectionTrait>(
    conn: &C,
    issuer: &str,
    subject: &str,
) -> Result<Option<Link>, sea_orm::DbErr> {
    identity_link::Entity::find()
        .filter(identity_link::Column::Issuer.eq(issuer))
        .filter(identity_link::Column::Subject.eq(subject))
        .one(conn)
        .await
}

/// A citizen's links, oldest first.
pub async fn of_citizen<C: ConnectionTrait>(
    conn: &C,
    citizen_id: &str,
) -> Result<Vec<Link>, sea_orm::DbErr> {
    identity_link::Entity::find()
        .filter(identity_link::Column::CitizenId.eq(citizen_id))
        .order_by_asc(identity_link::Column::CreatedAt)
        .all(conn)
        .await
}

/// Creates a link (inside the caller's transaction) and its audit record.
pub async fn create<C: ConnectionTrait>(
    conn: &C,
    audit: &AuditLog,
    citizen_id: &str,
    provider_id: &str,
    issuer: &str,
    subject: &str,
    loa: u8,
) -> Result<Link, Error> {
    let now = now_ms();
    let link = identity_link::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        citizen_id: Set(citizen_id.to_owned()),
        provider_id: Set(provider_id.to_owned()),
        issuer: Set(issuer.to_owned()),
        subject: Set(subject.to_owned()),
        created_at: Set(now),
        last_signin_at: Set(now),
    }
    .insert(conn)
    .await?;
    let mut record = AuditLog::record(
        Action::IdentityLinked,
        Outcome::Ok,
        Actor::new(ActorKind::Citizen, citizen_id),
    );
    record.citizen_id = Some(citizen_id.to_owned());
    record
        .detail
        .insert("provider".into(), provider_id.to_owned());
    record.detail.insert("link".into(), link.id.clone());
    record.detail.insert("loa".into(), loa.to_string());
    audit.append_in(conn, record).await?;
    Ok(link)
}

pub async fn touch<C: ConnectionTrait>(conn: &C, link: &Link) -> Result<(), sea_orm::DbErr> {
    identity_link::Entity::update_many()
        .col_expr(
            identity_link::Column::LastSigninAt,
            sea_orm::sea_query::Expr::value(now_ms()),
        )
        .filter(identity_link::Column::Id.eq(link.id.clone()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Removes one of a citizen's links, keeping at least one, and never the one the current session
/// signed in with. Returns the removed link.
pub async fn unlink(
    db: &DatabaseConnection,
    audit: &AuditLog,
    citizen_id: &str,
    link_id: &str,
    session_provider: Option<&str>,
) -> Result<Link, Error> {
    let txn = db.begin().await?;
    let link = identity_link::Entity::find_by_id(link_id.to_owned())
        .one(&txn)
        .await?
        .filter(|l| l.citizen_id == citizen_id)
        .ok_or_else(|| SignInError::LinkNotFound(link_id.to_owned()))?;
    if session_provider == Some(link.provider_id.as_str()) {
        return Err(SignInError::LinkInUse.into());
    }
    let count = identity_link::Entity::find()
        .filter(identity_link::Column::CitizenId.eq(citizen_id))
        .count(&txn)
        .await?;
    if count <= 1 {
        return Err(SignInError::LastLink.into());
    }
    let deleted = identity_link::Entity::delete_many()
        .filter(identity_link::Column::Id.eq(link.id.clone()))
        .filter(identity_link::Column::CitizenId.eq(citizen_id))
        .exec(&txn)
        .await?;
    if deleted.rows_affected != 1 {
        return Err(SignInError::LinkNotFound(link_id.to_owned()).into());
    }
    let mut record = AuditLog::record(
        Action::IdentityUnlinked,
        Outcome::Ok,
        Actor::new(ActorKind::Citizen, citizen_id),
    );
    record.citizen_id = Some(citizen_id.to_owned());
    record
        .detail
        .insert("provider".into(), link.provider_id.clone());
    record.detail.insert("link".into(), link.id.clone());
    audit.append_in(&txn, record).await?;
    txn.commit().await?;
    Ok(link)
}

/// Ends the citizen's sessions that signed in through the unlinked provider (`web::session` keeps
/// its entity private, so this is a plain update on its table).
pub async fn end_sessions_through(
    db: &DatabaseConnection,
    citizen_id: &str,
    provider_id: &str,
) -> Result<(), sea_orm::DbErr> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let stmt = Query::update()
        .table(Alias::new("sessions"))
        .value(Alias::new("ended_at"), now_ms())
        .and_where(Expr::col(Alias::new("citizen_id")).eq(citizen_id))
        .and_where(Expr::col(Alias::new("provider_id")).eq(provider_id))
        .and_where(Expr::col(Alias::new("ended_at")).is_null())
        .to_owned();
    db.execute(&stmt).await?;
    Ok(())
}
