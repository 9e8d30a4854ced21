//! Request bodies read by a handler itself, after it has authorized the caller: a department
//! API handler takes its body as a [`web::Payload`] (which extracts nothing) and parses it here,
//! so a caller without the right scope is refused before its body is looked at.

use actix_web::{HttpMessage, HttpRequest, web};
use serde::de::DeserializeOwned;
use services::InputError;

use crate::app::Site;
use crate::problem::Error;

/// Reads and parses a JSON body with the same limits and problem codes as `web::Json`
/// (`payload_too_large`, `unsupported_media_type`, `malformed_json`).
pub async fn json<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, Error> {
    let limit = req
        .app_data::<web::Data<Site>>()
        .map_or(256 * 1024, |site| site.max_body_bytes);
    let is_json = req.mime_type().ok().flatten().is_some_and(|m| {
        m.type_() == "application"
            && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"))
    });
    if !is_json {
        return Err(InputError::UnsupportedMediaType {
            expected: "application/json",
        }
        .into());
    }
    let bytes = match payload.to_bytes_limited(limit).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => return Err(InputError::MalformedJson("unreadable body".to_owned()).into()),
        Err(_) => return Err(InputError::TooLarge { limit }.into()),
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        InputError::MalformedJson(crate::problem::extractors::describe_serde(&e)).into()
    })
}

#[cfg(test)]
mod proptests;
