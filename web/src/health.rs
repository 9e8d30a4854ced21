//! Liveness, readiness and metrics endpoints for operators.

use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;

use crate::problem::Error;
use sea_orm::DatabaseConnection;
use services::Error as ServiceError;
use services::metrics::Metrics;
use store::{self, SchemaStatus};

/// How long readiness waits for the database before calling it unreachable.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Status {
    /// `ok` (alive) or `ready`.
    pub status: &'static str,
}

/// The process is alive.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "The process is alive", body = Status))
)]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// The database is reachable and its schema matches this binary.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = Status),
        (status = 503, description = "Database unreachable or schema not current", body = crate::problem::Problem,
         content_type = "application/problem+json")
    )
)]
#[get("/readyz")]
pub async fn readyz(db: web::Data<DatabaseConnection>) -> Result<HttpResponse, Error> {
    let check = async {
        store::ping(&db)
            .await
            .map_err(|_| ServiceError::NotReady("database unreachable"))?;
        match store::schema_status(&db).await {
            Ok(SchemaStatus::Current) => Ok(()),
            Ok(SchemaStatus::Pending(_)) => {
                Err(ServiceError::NotReady("database migrations pending"))
            }
            Ok(SchemaStatus::Newer(_)) => Err(ServiceError::NotReady(
                "database schema newer than this binary",
            )),
            Err(_) => Err(ServiceError::NotReady("database unreachable")),
        }
    };
    match tokio::time::timeout(READY_TIMEOUT, check).await {
        Ok(Ok(())) => Ok(HttpResponse::Ok().json(Status { status: "ready" })),
        Ok(Err(e)) => Err(Error::from(e)),
        Err(_) => Err(ServiceError::NotReady("database unreachable").into()),
    }
}

/// Prometheus text exposition.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain; version=0.0.4"))
)]
#[get("/metrics")]
pub async fn metrics(
    metrics: web::Data<Metrics>,
    db: web::Data<DatabaseConnection>,
) -> HttpResponse {
    let body = metrics.render(store::pool_gauges(&db));
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body)
}
