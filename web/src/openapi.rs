//! The OpenAPI 3.1 document, generated from the handlers' annotations (utoipa), and a browsable
//! reference page rendered on the server from the same document (no JavaScript, no CDN).
//!
//! Each feature contributes its own `#[derive(OpenApi)]` struct; [`document`] merges them, so a
//! route without an annotation is a route missing from here (a test compares against the router).

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::OpenApi;

use crate::pages::Page;
use crate::problem::Error;

/// The OpenAPI document, rendered once at start.
#[derive(Debug, Clone)]
pub struct OpenApiDocument(pub web::Bytes);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tell Us Once broker",
        description = "Federated sign-in, purpose-bound consent, signed attribute release, change relay \
                       and a verifiable audit log for government services.",
        license(name = "Apache-2.0")
    ),
    paths(
        super::health::healthz,
        super::health::readyz,
        super::health::metrics,
        super::discovery::jwks,
        super::discovery::openid_configuration,
        super::discovery::oauth_authorization_server,
        openapi_json,
        api_reference,
        crate::lang::switch,
        crate::assets::asset,
        crate::assets::favicon,
        crate::home::home,
    ),
    components(schemas(super::problem::Problem)),
    tags(
        (name = "operations", description = "Health, readiness and metrics"),
        (name = "discovery", description = "Provider metadata and signing keys"),
        (name = "pages", description = "Server-rendered pages for citizens and officers"),
    )
)]
struct FoundationApi;

/// The whole API document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = FoundationApi::openapi();
    for part in crate::app::api_parts() {
        doc.merge(part);
    }
    doc
}

/// The published document: the annotations, completed with what every operation of its kind
/// answers (`contract`).
pub fn published(doc: &utoipa::openapi::OpenApi) -> Result<String, serde_json::Error> {
    let mut value = serde_json::to_value(doc)?;
    crate::contract::complete(&mut value);
    serde_json::to_string(&value)
}

/// This document, as JSON.
#[utoipa::path(tag = "discovery", responses((status = 200, description = "OpenAPI 3.1 document", body = Object)))]
#[get("/openapi.json")]
pub async fn openapi_json(document: web::Data<OpenApiDocument>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.0.clone())
}

#[derive(Serialize)]
struct Operation {
    method: String,
    path: String,
    anchor: String,
    summary: String,
    description: String,
    tag: String,
    parameters: Vec<Parameter>,
    request_body: Option<String>,
    responses: Vec<Response>,
}

#[derive(Serialize)]
struct Parameter {
    name: String,
    location: String,
    required: bool,
    description: String,
}

#[derive(Serialize)]
struct Response {
    status: String,
    description: String,
    content_types: Vec<String>,
}

#[derive(Serialize)]
struct Reference {
    operations: Vec<Operation>,
    schemas: Vec<(String, String)>,
}

fn text(v: &serde_json::Value, key: &str) -> String {
    v.get(key)
        .and_then(|s| s.as_str())
        .unwrap_or_default()
        .to_owned()
}

fn reference(doc: &serde_json::Value) -> Reference {
    let mut operations = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(|p| p.as_object()) {
        for (path, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (method, op) in item {
                let parameters = op
                    .get("parameters")
                    .and_then(|p| p.as_array())
                    .map(|ps| {
                        ps.iter()
                            .map(|p| Parameter {
                                name: text(p, "name"),
                                location: text(p, "in"),
                                required: p
                                    .get("required")
                                    .and_then(|r| r.as_bool())
                                    .unwrap_or(false),
                                description: text(p, "description"),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let request_body = op.get("requestBody").map(|b| {
                    b.get("content")
                        .and_then(|c| c.as_object())
                        .map(|c| c.keys().cloned().collect::<Vec<_>>().join(", "))
                        .unwrap_or_default()
                });
                let responses = op
                    .get("responses")
                    .and_then(|r| r.as_object())
                    .map(|rs| {
                        rs.iter()
                            .map(|(status, r)| Response {
                                status: status.clone(),
                                description: text(r, "description"),
                                content_types: r
                                    .get("content")
                                    .and_then(|c| c.as_object())
                                    .map(|c| c.keys().cloned().collect())
                                    .unwrap_or_default(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                operations.push(Operation {
                    anchor: format!("{method}-{path}").replace(['/', '{', '}', '.'], "-"),
                    method: method.to_uppercase(),
                    path: path.clone(),
                    summary: text(op, "summary"),
                    description: text(op, "description"),
                    tag: op
                        .get("tags")
                        .and_then(|t| t.get(0))
                        .and_then(|t| t.as_str())
                        .unwrap_or("other")
                        .to_owned(),
                    parameters,
                    request_body,
                    responses,
                });
            }
        }
    }
    operations.sort_by(|a, b| (&a.tag, &a.path, &a.method).cmp(&(&b.tag, &b.path, &b.method)));
    let schemas = doc
        .pointer("/components/schemas")
        .and_then(|s| s.as_object())
        .map(|s| {
            s.iter()
                .map(|(name, schema)| {
                    (
                        name.clone(),
                        serde_json::to_string_pretty(schema).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Reference {
        operations,
        schemas,
    }
}

/// A browsable API reference page, generated from `/openapi.json`.
#[utoipa::path(tag = "discovery", responses((status = 200, description = "HTML API reference", content_type = "text/html")))]
#[get("/docs/api")]
pub async fn api_reference(
    page: Page,
    document: web::Data<OpenApiDocument>,
) -> Result<HttpResponse, Error> {
    let doc: serde_json::Value = serde_json::from_slice(&document.0)
        .map_err(|e| services::Error::Internal(format!("openapi document: {e}")))?;
    page.render("api_reference.html", &reference(&doc))
}
