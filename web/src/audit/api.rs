//! The audit API: `GET /api/v1/audit/records` (filters, cursor pages), `GET
//! /api/v1/audit/records/{id}/proof` (an inclusion proof against a signed checkpoint) and `GET
//! /api/v1/audit/checkpoints` (public: sizes, roots and signatures reveal nothing about anyone).
//!
//! Access control is a type: a handler takes [`Reader`], which exists only for a privacy
//! officer's session, a department client whose token carries `audit:read`, or a citizen's
//! session — and a citizen's reader only ever reaches that citizen's own records. Every officer
//! and machine query is itself appended to the log before it is answered.

use services::Error as ServiceError;
use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, HttpResponse, get, web};
use audit::{Action, Actor, ActorKind, Outcome};
use serde::{Deserialize, Serialize};

use crate::problem::Error;
use crate::session::{MaybeSession, Role};
use services::audit_log::AuditLog;
use services::audit_log::Records;
use services::audit_log::query::{
    self, CheckpointView, Filter, FilterParams, InclusionProof, RecordView,
};
use services::oauth::{BearerError, scope};

/// Who reads the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    /// A configured privacy officer (sees everything; every query is recorded).
    Officer { officer_id: String },
    /// A department client with `audit:read` (a privacy office's system; like an officer).
    Machine {
        client_id: String,
        department_id: String,
    },
    /// A signed-in citizen: their own records only.
    Citizen { citizen_id: String },
}

impl Reader {
    /// Whether this reader may see a record about `citizen`: officers and `audit:read` clients
    /// any, a citizen only their own.
    pub fn may_see(&self, citizen: Option<&str>) -> bool {
        match self {
            Reader::Citizen { citizen_id } => citizen == Some(citizen_id.as_str()),
            Reader::Officer { .. } | Reader::Machine { .. } => true,
        }
    }

    /// The audit record of this reader's query, or `None` for a citizen reading their own.
    pub fn query_record(&self, action: Action, filter: Option<&Filter>) -> Option<audit::Record> {
        let actor = match self {
            Reader::Officer { officer_id } => Actor::new(ActorKind::Officer, officer_id),
            Reader::Machine { department_id, .. } => {
                Actor::new(ActorKind::Department, department_id)
            }
            Reader::Citizen { .. } => return None,
        };
        let mut record = AuditLog::record(action, Outcome::Ok, actor);
        if let Reader::Machine {
            client_id,
            department_id,
        } = self
        {
            record.client_id = Some(client_id.clone());
            record.department_id = Some(department_id.clone());
        }
        if let Some(f) = filter {
            record.detail = f.describe();
        }
        Some(record)
    }
}

impl FromRequest for Reader {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        let session = MaybeSession::from_request(&req, payload);
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<Records>>()
                .cloned()
                .ok_or_else(|| {
                    ServiceError::Internal("the audit records are not registered".into())
                })?;
            if req
                .headers()
                .contains_key(actix_web::http::header::AUTHORIZATION)
            {
                // Refusals of an identified caller (a scope not held included) are audited.
                let caller = crate::oauth::authorize(&req, scope::AUDIT_READ).await?;
                return Ok(Reader::Machine {
                    client_id: caller.client_id,
                    department_id: caller.department.id,
                });
            }
            match session.await?.0 {
                Some(s) if s.role == Role::Officer => {
                    match services::signin::complete::officer_of(&state.db, &s).await? {
                        Some(officer_id) => Ok(Reader::Officer { officer_id }),
                        None => Err(BearerError::Missing.into()),
                    }
                }
                Some(s) => match s.citizen_id {
                    Some(citizen_id) => Ok(Reader::Citizen { citizen_id }),
                    None => Err(BearerError::Missing.into()),
                },
                None => Err(BearerError::Missing.into()),
            }
        })
    }
}

/// A page of records.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordPage {
    /// Newest first.
    pub records: Vec<RecordView>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Search the audit log (privacy officers, `audit:read` clients; a citizen sees only their own).
#[utoipa::path(
    tag = "audit",
    params(FilterParams),
    responses(
        (status = 200, description = "Matching records, newest first", body = RecordPage),
        (status = 400, description = "A bad filter or cursor (`audit_invalid_filter`, `audit_invalid_cursor`)", body = crate::problem::Problem),
        (status = 401, description = "No officer session, citizen session or bearer token", body = crate::problem::Problem),
        (status = 403, description = "The token lacks `audit:read`", body = crate::problem::Problem),
    )
)]
#[get("/api/v1/audit/records")]
pub async fn records(
    state: web::Data<Records>,
    reader: Reader,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    // Parsed only once the reader is known: authorization before parsing.
    let params = web::Query::<FilterParams>::from_query(req.query_string()).map_err(|e| {
        let text = e.to_string();
        services::InputError::MalformedQuery(
            text.lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect(),
        )
    })?;
    let mut filter = params.filter()?;
    let limit = params.limit()?;
    let cursor = params.cursor()?;
    if let Reader::Citizen { citizen_id } = &reader {
        if filter.citizen_id.as_ref().is_some_and(|c| c != citizen_id) {
            return Ok(HttpResponse::Ok().json(RecordPage {
                records: Vec::new(),
                next_cursor: None,
            }));
        }
        filter.citizen_id = Some(citizen_id.clone());
    }
    let (rows, next_cursor) = query::newest_first(&state.db, &filter, cursor, limit).await?;
    if let Some(mut record) = reader.query_record(Action::OfficerSearch, Some(&filter)) {
        record
            .detail
            .insert("results".into(), rows.len().to_string());
        state.audit.append(record).await?;
    }
    Ok(HttpResponse::Ok().json(RecordPage {
        records: rows.iter().map(RecordView::of).collect(),
        next_cursor,
    }))
}

/// A record with its inclusion proof.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProofResponse {
    pub record: RecordView,
    pub proof: InclusionProof,
}

/// The record `id` and its RFC 9162 inclusion proof against a signed checkpoint (one is signed
/// on the spot when none covers the record yet).
pub async fn proof_of(state: &Records, reader: &Reader, id: &str) -> Result<ProofResponse, Error> {
    if id.is_empty() || id.len() > 64 {
        return Err(ServiceError::NotFound.into());
    }
    let Some(row) = query::by_id(&state.db, id).await? else {
        // Queued, not integrated yet: "pending" (to a reader who may see it), else not found.
        return match state.audit.queued_record(id).await? {
            Some(queued) if reader.may_see(queued.citizen_id.as_deref()) => {
                Err(ServiceError::AuditPending.into())
            }
            _ => Err(ServiceError::NotFound.into()),
        };
    };
    if let Reader::Citizen { citizen_id } = reader
        && row.citizen_id.as_ref() != Some(citizen_id)
    {
        // Another citizen's record is, to this reader, no record at all.
        return Err(ServiceError::NotFound.into());
    }
    let mut found = match query::latest_checkpoint(&state.db).await? {
        Some(cp) => query::inclusion(&state.db, &row, &cp).await?,
        None => None,
    };
    if found.is_none() {
        state.audit.checkpoint_now().await?;
        if let Some(cp) = query::latest_checkpoint(&state.db).await? {
            found = query::inclusion(&state.db, &row, &cp).await?;
        }
    }
    let found =
        found.ok_or_else(|| ServiceError::Internal("no checkpoint covers the record".into()))?;
    if let Some(mut record) = reader.query_record(Action::OfficerView, None) {
        record.detail.insert("record".into(), row.id.clone());
        state.audit.append(record).await?;
    }
    Ok(ProofResponse {
        record: RecordView::of(&row),
        proof: found,
    })
}

/// One record and its inclusion proof against a signed checkpoint.
#[utoipa::path(
    tag = "audit",
    params(("id" = String, Path, description = "The record id (a release's `txn`)")),
    responses(
        (status = 200, description = "The record and its proof", body = ProofResponse),
        (status = 401, description = "No session or bearer token", body = crate::problem::Problem),
        (status = 403, description = "The token lacks `audit:read`", body = crate::problem::Problem),
        (status = 404, description = "No such record (or not the signed-in citizen's)", body = crate::problem::Problem),
        (status = 503, description = "`audit_record_pending`: the record is queued and its proof is ready within seconds (`Retry-After`)", body = crate::problem::Problem),
    )
)]
#[get("/api/v1/audit/records/{id}/proof")]
pub async fn proof(
    state: web::Data<Records>,
    reader: Reader,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let answer = proof_of(&state, &reader, &id).await?;
    Ok(HttpResponse::Ok().json(answer))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CheckpointParams {
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9]{0,19}$")]
    pub cursor: Option<String>,
    /// Checkpoints per page (1 to 500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// A page of checkpoints.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckpointPage {
    /// Newest first.
    pub checkpoints: Vec<CheckpointView>,
    pub next_cursor: Option<String>,
}

/// The signed checkpoints, newest first. Public: anyone holding a proof checks it against one.
#[utoipa::path(
    tag = "audit",
    params(CheckpointParams),
    responses(
        (status = 200, description = "Signed checkpoints, newest first", body = CheckpointPage),
        (status = 400, description = "A bad cursor or limit", body = crate::problem::Problem),
    )
)]
#[get("/api/v1/audit/checkpoints")]
pub async fn checkpoints(
    state: web::Data<Records>,
    params: web::Query<CheckpointParams>,
) -> Result<HttpResponse, Error> {
    let as_filter = FilterParams {
        cursor: params.cursor.clone(),
        limit: params.limit,
        ..FilterParams::default()
    };
    let (rows, next_cursor) =
        query::checkpoints(&state.db, as_filter.cursor()?, as_filter.limit()?).await?;
    Ok(HttpResponse::Ok().json(CheckpointPage {
        checkpoints: rows.iter().map(CheckpointView::of).collect(),
        next_cursor,
    }))
}

/// The newest checkpoint as a C2SP `tlog-checkpoint` signed note (origin, tree size, base64
/// root hash, then the note key's signature line): what witnesses cosign and what anyone can
/// keep to compare later. 404 before the first checkpoint.
#[utoipa::path(
    tag = "audit",
    responses(
        (status = 200, description = "The newest checkpoint, a C2SP signed note", content_type = "text/plain", body = String),
        (status = 404, description = "No checkpoint signed yet", body = crate::problem::Problem),
    )
)]
#[get("/api/v1/audit/checkpoint")]
pub async fn checkpoint_note(state: web::Data<Records>) -> Result<HttpResponse, Error> {
    let Some(latest) = query::latest_checkpoint(&state.db).await? else {
        return Err(ServiceError::NotFound.into());
    };
    let note = state.notes.note(&latest)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .body(note.to_bytes()))
}

/// Every key that signed for this broker: the published ones (as in `/jwks.json`) and those past
/// their grace period, kept so that old checkpoints and consent receipts still verify. Never use
/// this set to accept tokens. Public, like the checkpoints.
#[utoipa::path(
    tag = "audit",
    responses((status = 200, description = "JSON Web Key Set: published keys first, then archived ones", body = crate::discovery::JwkSet))
)]
#[get("/api/v1/audit/keys")]
pub async fn signing_keys(state: web::Data<Records>) -> HttpResponse {
    let mut keys = state.keys.published();
    keys.extend(state.keys.archived());
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(crate::discovery::JwkSet { keys })
}
