//! Methods the routes do not declare: `HEAD` is answered wherever `GET` is (RFC 9110 §9.3.2: the
//! same headers, no body), and a documented path asked with a method it does not have is 405 with
//! an `Allow` header naming those it has (RFC 9110 §15.5.6), not 404.
//!
//! The methods of a path come from the OpenAPI document, the public contract, so the two cannot
//! disagree; a path that is not in it (a page) keeps answering 404 to methods it does not have.

use std::collections::HashMap;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::problem::Error;

/// The `Allow` value of every documented path pattern.
#[derive(Debug, Clone, Default)]
pub struct Allowed(HashMap<String, HeaderValue>);

impl Allowed {
    /// From the OpenAPI document: each path's operations, with `HEAD` wherever `GET` is.
    pub fn from_document(doc: &utoipa::openapi::OpenApi) -> Self {
        let mut table = HashMap::new();
        for (path, item) in &doc.paths.paths {
            let mut methods = Vec::new();
            let has = |op: &Option<utoipa::openapi::path::Operation>| op.is_some();
            if has(&item.get) {
                methods.extend(["GET", "HEAD"]);
            }
            for (op, name) in [
                (&item.post, "POST"),
                (&item.put, "PUT"),
                (&item.patch, "PATCH"),
                (&item.delete, "DELETE"),
                (&item.options, "OPTIONS"),
            ] {
                if has(op) {
                    methods.push(name);
                }
            }
            if let Ok(value) = HeaderValue::from_str(&methods.join(", ")) {
                table.insert(path.clone(), value);
            }
        }
        Self(table)
    }

    /// The `Allow` value of a route pattern, if the document has the path.
    pub fn of(&self, pattern: &str) -> Option<&HeaderValue> {
        self.0.get(pattern)
    }
}

/// Routes `HEAD` as `GET`. The HTTP/1 codec knows the request was `HEAD`: it sends the headers GET
/// would have sent (the length included) and no body.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    next.call(req).await
}

/// What no route matched: 405 with `Allow` for a documented path, else 404.
pub async fn unmatched(
    req: HttpRequest,
    allowed: web::Data<Allowed>,
) -> Result<HttpResponse, Error> {
    if let Some(allow) = req.match_pattern().and_then(|p| allowed.of(&p).cloned()) {
        let mut res = Error::from(services::Error::MethodNotAllowed).error_response();
        res.headers_mut().insert(header::ALLOW, allow);
        return Ok(res);
    }
    Err(services::Error::NotFound.into())
}
