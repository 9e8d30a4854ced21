//! What every operation of a kind answers, added to the document the handlers' annotations make,
//! so that the published OpenAPI document is the whole contract (a fuzzer holds the broker to it:
//! tests/e2e/contract.rs).
//!
//! Each handler documents what is particular to it (its successes, its own refusals and their
//! codes). Here, once for all: who may call an operation (its security requirement) and what the
//! layers around every handler answer — 401/403 from the bearer check, the redirect to sign-in
//! from the session check, 400 from the query and body parsers, 404 for an unknown path id, 503
//! with `Retry-After` while the database cannot be reached, 413
//! and 415 from the body reader — and the media types of every error: RFC 9457 problem JSON, or
//! the HTML error page when the request accepts `text/html` (a browser, `pages::html_errors`).

use serde_json::{Map, Value, json};

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// A department's access token holding this scope (`web::oauth::Caller`).
    Department(&'static str),
    /// A citizen's session (`tuo_session` cookie); without one, pages redirect to `/signin`.
    Citizen,
    /// A privacy officer's session; without one, to `/officer/signin`.
    Officer,
    /// The audit log's readers: a department's token with this scope, an officer's session, or a
    /// citizen's session for their own records (`web::audit::api::Reader`).
    AuditReader(&'static str),
}

/// The access rule of each operation. The extractors enforce it; this table states it in the
/// document, and the contract test fails when the two disagree (an operation refusing a caller
/// the document lets in, or the reverse).
pub fn access(method: &str, path: &str) -> Access {
    use services::oauth::scope;
    match (method, path) {
        ("get", "/api/v1/subjects/{sub}/attributes") => Access::Department(scope::ATTRIBUTES_READ),
        ("post", "/api/v1/subjects/{sub}/attributes") => {
            Access::Department(scope::ATTRIBUTES_WRITE)
        }
        (_, p) if p.starts_with("/api/v1/consent-requests") => {
            Access::Department(scope::CONSENT_REQUEST)
        }
        (_, p) if p.starts_with("/api/v1/audit/records") => Access::AuditReader(scope::AUDIT_READ),
        (_, p) if p.starts_with("/api/v1/delegations") => {
            Access::Department(scope::DELEGATIONS_WRITE)
        }
        (_, p) if p == "/me" || p.starts_with("/me/") => Access::Citizen,
        ("post", "/signout") => Access::Citizen,
        (_, "/officer" | "/officer/export" | "/officer/unusual") => Access::Officer,
        _ => Access::Public,
    }
}

const DEPARTMENT_TOKEN: &str = "department_token";
const SESSION: &str = "session";

/// Completes `doc` (the merged annotations, as JSON): security schemes and requirements, the
/// responses every operation of its kind can give, error media types.
pub fn complete(doc: &mut Value) {
    let schemes = json!({
        DEPARTMENT_TOKEN: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A department's access token from `POST /oauth2/token` (client credentials, authenticated by a `private_key_jwt` client assertion, RFC 7523), 5 minutes. The requirement of an operation names the scope it needs: `attributes:read`, `attributes:write`, `consent:request`, `audit:read` or `delegations:write`."
        },
        SESSION: {
            "type": "apiKey",
            "in": "cookie",
            "name": crate::session::SESSION_COOKIE,
            "description": "A browser session after signing in (a citizen's, or a privacy officer's for the console)."
        }
    });
    if let Some(components) = doc
        .as_object_mut()
        .map(|d| d.entry("components").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut)
    {
        components.insert("securitySchemes".into(), schemes);
        let schemas = components
            .entry("schemas")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        if let Some(schemas) = schemas {
            schemas.insert(
                "OAuthError".into(),
                json!({
                    "type": "object",
                    "description": "An RFC 6749 §5.2 error.",
                    "required": ["error"],
                    "properties": {
                        "error": { "type": "string", "enum": ["invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type", "invalid_scope", "unsupported_response_type", "request_not_supported", "invalid_dpop_proof", "invalid_token", "insufficient_scope", "use_dpop_nonce", "server_error", "temporarily_unavailable", "database_unavailable", "internal_error"] },
                        "error_description": { "type": "string" }
                    }
                }),
            );
        }
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    unique_operation_ids(paths);
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            if let Some(op) = op.as_object_mut() {
                complete_operation(method, path, op);
            }
        }
    }
}

fn complete_operation(method: &str, path: &str, op: &mut Map<String, Value>) {
    add_links(op);
    let access = access(method, path);
    let params: Vec<String> = op
        .get("parameters")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p.get("in").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let json_body = op
        .get("requestBody")
        .and_then(|b| b.get("content"))
        .and_then(Value::as_object)
        .is_some_and(|c| c.contains_key("application/json"));
    let has_body = op.contains_key("requestBody");
    // OAuth endpoints answer errors in RFC 6749 §5.2 terms, not as problem documents.
    let oauth = is_oauth(path);
    match access {
        Access::Department(scope) => {
            op.insert("security".into(), json!([{ DEPARTMENT_TOKEN: [scope] }]));
            add(
                op,
                "401",
                "No access token, or one that is expired, revoked or not for this broker (`invalid_token`)",
            );
            add(
                op,
                "403",
                "The token lacks the scope, or the department may not do this (`insufficient_scope`, or the operation's own codes)",
            );
        }
        Access::AuditReader(scope) => {
            op.insert(
                "security".into(),
                json!([{ DEPARTMENT_TOKEN: [scope] }, { SESSION: [] }]),
            );
            add(
                op,
                "401",
                "No access token or session, or one that is expired or revoked (`invalid_token`)",
            );
            add(
                op,
                "403",
                "The token lacks the scope (`insufficient_scope`), or a citizen asks for another's records",
            );
        }
        Access::Citizen | Access::Officer => {
            op.insert("security".into(), json!([{ SESSION: [] }]));
            add(
                op,
                "303",
                if access == Access::Officer {
                    "Not signed in as a privacy officer: to `/officer/signin`"
                } else {
                    "Not signed in: to `/signin`"
                },
            );
            if access == Access::Citizen {
                // Every citizen page: a form without its CSRF token, a page about one's own data
                // while acting for another (`acting_for_another`), or an act the delegation acted
                // under does not allow, or no longer (`delegation_not_live`, …).
                add(
                    op,
                    "403",
                    "Refused: a form's CSRF token is missing or wrong, or the citizen acts for another person and the page or the act is not allowed (`acting_for_another`, `delegation_not_live`, `delegation_power_missing`, …); nothing changed",
                );
            }
        }
        Access::Public => {
            op.insert("security".into(), json!([]));
        }
    }
    if params.iter().any(|p| p == "query") || has_body {
        add(
            op,
            "400",
            "A parameter or the body is malformed or out of range; nothing changed",
        );
    }
    if params.iter().any(|p| p == "path") {
        add(op, "404", "Nothing with this id (or not the caller's)");
    }
    if has_body {
        add(
            op,
            "413",
            "The body is larger than the broker accepts (`payload_too_large`)",
        );
    }
    if json_body {
        add(
            op,
            "415",
            "The body is not `application/json` (`unsupported_media_type`)",
        );
    }
    add(
        op,
        "503",
        "The broker's database cannot be reached now, or the broker is not ready (`database_unavailable`, `not_ready`): send the request again after `Retry-After` seconds",
    );
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(unavailable) = responses.get_mut("503").and_then(Value::as_object_mut) {
        unavailable.entry("headers").or_insert_with(|| {
            json!({ "Retry-After": { "description": "Seconds to wait before sending the request again", "schema": { "type": "integer", "minimum": 0 } } })
        });
    }
    for (status, response) in responses.iter_mut() {
        if !status.starts_with('4') && !status.starts_with('5') {
            continue;
        }
        let Some(response) = response.as_object_mut() else {
            continue;
        };
        let content = if oauth {
            json!({ "application/json": { "schema": { "$ref": "#/components/schemas/OAuthError" } } })
        } else {
            json!({
                crate::problem::PROBLEM_JSON: { "schema": { "$ref": "#/components/schemas/Problem" } },
                "text/html": { "schema": { "type": "string", "description": "The error page in the browser's language, when the request accepts `text/html`" } }
            })
        };
        response.insert("content".into(), content);
    }
}

/// OpenAPI links, so that a client or a fuzzer can chain calls: what one answer holds that
/// another operation takes. (A token's use is not a link: it travels in `Authorization`.)
/// (operationId, status, link name, target operationId, parameter, runtime expression)
#[rustfmt::skip]
const LINKS: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("create", "201", "status", "read", "id", "$response.body#/id"),
    ("records", "200", "proof", "proof", "id", "$response.body#/records/0/id"),
    ("records", "200", "next_page", "records", "cursor", "$response.body#/next_cursor"),
    ("checkpoints", "200", "next_page", "checkpoints", "cursor", "$response.body#/next_cursor"),
];

fn add_links(op: &mut Map<String, Value>) {
    let Some(id) = op
        .get("operationId")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return;
    };
    for (from, status, name, to, param, expression) in LINKS {
        if *from != id {
            continue;
        }
        if let Some(response) = op
            .get_mut("responses")
            .and_then(|r| r.get_mut(*status))
            .and_then(Value::as_object_mut)
        {
            let links = response.entry("links").or_insert_with(|| json!({}));
            if let Some(links) = links.as_object_mut() {
                links.insert(
                    (*name).to_owned(),
                    json!({ "operationId": to, "parameters": { *param: expression } }),
                );
            }
        }
    }
}

/// Makes every `operationId` unique, as OpenAPI requires (handlers in different areas share
/// names: `list`, `detail`): a shared one gets its path, `list` of `/me/consents` becoming
/// `list_me_consents`.
fn unique_operation_ids(paths: &mut Map<String, Value>) {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for item in paths.values() {
        for op in item.as_object().into_iter().flat_map(|i| i.values()) {
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                *seen.entry(id.to_owned()).or_default() += 1;
            }
        }
    }
    for (path, item) in paths.iter_mut() {
        for op in item
            .as_object_mut()
            .into_iter()
            .flat_map(|i| i.values_mut())
        {
            let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            if seen.get(id).copied().unwrap_or(0) > 1 {
                let words: Vec<&str> = path
                    .split('/')
                    .filter(|w| !w.is_empty() && !w.starts_with('{'))
                    .collect();
                let unique = format!("{id}_{}", words.join("_")).replace(['-', '.'], "_");
                op["operationId"] = Value::String(unique);
            }
        }
    }
}

/// The endpoints whose errors are OAuth's `{"error", "error_description"}`.
fn is_oauth(path: &str) -> bool {
    matches!(path, "/oauth2/token" | "/oauth2/par" | "/oauth2/userinfo")
}

/// Adds a response for `status` unless the handler documents it already.
fn add(op: &mut Map<String, Value>, status: &str, description: &str) {
    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    if let Some(responses) = responses {
        responses
            .entry(status)
            .or_insert_with(|| json!({ "description": description }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_states_who_may_call_it_and_every_error_is_a_problem() {
        let mut doc = serde_json::to_value(crate::openapi::document()).unwrap();
        complete(&mut doc);
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                assert!(op.get("security").is_some(), "{method} {path}");
                for (status, r) in op["responses"].as_object().unwrap() {
                    if status.starts_with('4') && !is_oauth(path) {
                        assert!(
                            r.pointer("/content/application~1problem+json").is_some(),
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
        assert_eq!(
            doc.pointer(
                "/paths/~1api~1v1~1subjects~1{sub}~1attributes/get/security/0/department_token/0"
            ),
            Some(&json!("attributes:read"))
        );
        assert!(
            doc.pointer("/paths/~1me~1consents/get/responses/303")
                .is_some()
        );
    }
}
