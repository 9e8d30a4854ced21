//! The OpenID Provider on the web (the rules are `services::provider`): `POST /oauth2/par`, the
//! authorization endpoint and the citizen's interaction pages (sign-in, the consent screen),
//! userinfo, and RP-initiated logout. The token endpoint's sign-in grants are dispatched from
//! `crate::oauth::token`.
//!
//! Machine endpoints answer in OAuth terms (`{"error", "error_description"}`, `problem`); the
//! pages a citizen sees answer with a page in their language, never a redirect to a client that
//! is not yet trusted.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Serialize;

use services::PublicError;
use services::provider::Provider;
use services::provider::authorize::{self as flow, ConsentScreen, Step};
use services::provider::logout::{self, LogoutQuery};

use crate::Site;
use crate::csrf::Form;
use crate::pages::Page;
use crate::problem::Error;
use crate::session::{self, CitizenSession, MaybeSession};

/// The OpenAPI part of the provider's machine endpoints.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(par, userinfo_get, userinfo_post),
    components(schemas(ParRequest)),
    tags((name = "openid provider", description = "Departments' web applications sign citizens in (FAPI 2.0)"))
)]
pub struct Api;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(par)
        .service(authorize)
        .service(interaction)
        .service(answer)
        .service(userinfo_get)
        .service(userinfo_post)
        .service(end_session);
}

/// The values of every `DPoP` header (each one counted: two headers are refused).
pub fn dpop_headers(req: &HttpRequest) -> Vec<&str> {
    req.headers()
        .get_all("DPoP")
        .map(|v| v.to_str().unwrap_or("\u{0}"))
        .collect()
}

/// A pushed authorization request (RFC 9126 §2.1). Documentation only: the body is read by
/// `fapi::par`, which refuses repeated parameters and every value the profile does not allow.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ParRequest {
    #[schema(pattern = "^urn:ietf:params:oauth:client-assertion-type:jwt-bearer$")]
    client_assertion_type: String,
    /// A JWT signed with one of the client's registered keys (ES256, PS256 or EdDSA): `iss` =
    /// `sub` = the client id, `aud` the broker's issuer, `exp` at most 5 minutes ahead, a
    /// fresh `jti`.
    #[schema(pattern = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")]
    client_assertion: String,
    client_id: String,
    #[schema(pattern = "^code$")]
    response_type: String,
    /// One of the client's registered redirect URIs, exactly.
    redirect_uri: String,
    /// `openid`, and `offline_access` for an ongoing consent.
    #[schema(pattern = "^openid( offline_access)?$")]
    scope: String,
    /// BASE64URL(SHA-256(code_verifier)) (RFC 7636).
    #[schema(pattern = "^[A-Za-z0-9_-]{43}$")]
    code_challenge: String,
    #[schema(pattern = "^S256$")]
    code_challenge_method: String,
    /// A purpose code of the catalogue (required when attributes are asked).
    #[schema(required = false, pattern = "^[a-z0-9-]{1,64}$")]
    purpose: String,
    /// The `claims` parameter (OIDC Core §5.5) with `verified_claims` (OpenID Connect for
    /// Identity Assurance), as JSON text.
    #[schema(required = false)]
    claims: String,
    #[schema(required = false)]
    state: String,
    #[schema(required = false)]
    nonce: String,
}

/// Pushes an authorization request (RFC 9126), authenticated with `private_key_jwt`.
#[utoipa::path(
    tag = "openid provider",
    request_body(content = ParRequest, content_type = "application/x-www-form-urlencoded", description = "The authorization request's parameters (RFC 6749 §4.1.1, OIDC Core §3.1.2.1; also `prompt`, `max_age`, `acr_values`, `login_hint`, `id_token_hint`, `ui_locales`, `dpop_jkt`) and the client assertion"),
    params(("DPoP" = Option<String>, Header, description = "A DPoP proof: binds the code to its key")),
    responses(
        (status = 201, description = "`{request_uri, expires_in}`", body = Object),
        (status = 400, description = "RFC 6749 error: invalid_request, invalid_scope, unsupported_response_type, request_not_supported, invalid_dpop_proof, unauthorized_client"),
        (status = 401, description = "RFC 6749 error: invalid_client")
    )
)]
#[post("/oauth2/par")]
pub async fn par(
    provider: web::Data<Provider>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let pushed = services::provider::push::push(&provider, &body, &dpop_headers(&req)).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(pushed))
}

#[derive(Serialize)]
struct ErrorPage {
    code: &'static str,
    status: u16,
}

/// A refusal before the department is trusted: a page for the citizen, in their language.
fn error_page(page: &Page, e: Error) -> Result<HttpResponse, Error> {
    let (status, code) = e.classify();
    if status.is_server_error() {
        return Err(e);
    }
    page.render_status(
        status,
        "provider/error.html",
        &ErrorPage {
            code,
            status: status.as_u16(),
        },
    )
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", location))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

/// The authorization endpoint: only `client_id` and a pushed `request_uri`.
#[get("/oauth2/authorize")]
pub async fn authorize(
    provider: web::Data<Provider>,
    req: HttpRequest,
    page: Page,
) -> Result<HttpResponse, Error> {
    match flow::begin(&provider, req.query_string()).await {
        Ok(id) => Ok(see_other(&flow::interaction_path(&id))),
        Err(e) => error_page(&page, e.into()),
    }
}

#[derive(Serialize)]
struct ConsentPage {
    id: String,
    department: String,
    purpose: Option<PurposeView>,
    ongoing: bool,
    duration_days: i64,
    attributes: Vec<AttributeView>,
}

#[derive(Serialize)]
struct PurposeView {
    text: String,
    legal_basis: String,
    illustrative: bool,
}

#[derive(Serialize)]
struct AttributeView {
    label: String,
    essential: bool,
    /// The message naming the kind of source (`provider.consent.source_provider`, …), or
    /// absent (nothing held).
    source_key: Option<&'static str>,
    source: Option<String>,
    loa: Option<u8>,
}

/// Each attribute's source by name in the page's language (a sign-in partner's or department's
/// name; its id only when neither is known any more).
async fn source_names(
    provider: &Provider,
    signin: &services::signin::SignIn,
    lang: services::lang::Lang,
    screen: &ConsentScreen,
) -> Vec<Option<String>> {
    let mut names = Vec::with_capacity(screen.attributes.len());
    for a in &screen.attributes {
        let Some(source) = &a.source else {
            names.push(None);
            continue;
        };
        let name = match source.kind {
            "provider" => signin
                .providers
                .get(&source.id)
                .map(|p| p.config.name(lang).to_owned())
                .ok(),
            "department" => provider
                .oauth
                .registry
                .department(&provider.oauth.db, &source.id)
                .await
                .ok()
                .flatten()
                .map(|d| match lang {
                    services::lang::Lang::En => d.name_en,
                    services::lang::Lang::Fr => d.name_fr,
                }),
            _ => None,
        };
        names.push(Some(name.unwrap_or_else(|| source.id.clone())));
    }
    names
}

fn consent_page(
    page: &Page,
    id: &str,
    screen: &ConsentScreen,
    sources: &[Option<String>],
) -> ConsentPage {
    let fr = page.lang == services::lang::Lang::Fr;
    let pick = |en: &str, fr_text: &str| if fr { fr_text } else { en }.to_owned();
    ConsentPage {
        id: id.to_owned(),
        department: pick(&screen.department_en, &screen.department_fr),
        purpose: screen.purpose.as_ref().map(|p| PurposeView {
            text: pick(&p.text_en, &p.text_fr),
            legal_basis: pick(&p.legal_basis_en, &p.legal_basis_fr),
            illustrative: p.illustrative,
        }),
        ongoing: screen.mode == consent::Mode::Ongoing,
        duration_days: screen.duration_days,
        attributes: screen
            .attributes
            .iter()
            .enumerate()
            .map(|(i, a)| AttributeView {
                label: pick(&a.label_en, &a.label_fr),
                essential: a.essential,
                source_key: a.source.as_ref().map(|s| match s.kind {
                    "provider" => "provider.consent.source_provider",
                    "department" => "provider.consent.source_department",
                    _ => "provider.consent.source_citizen",
                }),
                source: sources.get(i).cloned().flatten(),
                loa: a.source.as_ref().map(|s| s.loa),
            })
            .collect(),
    }
}

/// Acts on the interaction's next step.
async fn respond(
    provider: &Provider,
    signin: &services::signin::SignIn,
    page: &Page,
    id: &str,
    step: Step,
) -> Result<HttpResponse, Error> {
    match step {
        Step::Answer(location) => Ok(see_other(&location)),
        Step::SignIn {
            next,
            minimum,
            login_hint,
        } => {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("next", &next);
            if let Some(level) = minimum {
                query.append_pair("loa", &level.to_string());
            }
            if let Some(hint) = &login_hint {
                query.append_pair("login_hint", hint);
            }
            Ok(see_other(&format!("/signin?{}", query.finish())))
        }
        Step::Consent(screen) => {
            let sources = source_names(provider, signin, page.lang, &screen).await;
            let mut response = page.render(
                "provider/consent.html",
                &consent_page(page, id, &screen, &sources),
            )?;
            response.headers_mut().insert(
                actix_web::http::header::CACHE_CONTROL,
                actix_web::http::header::HeaderValue::from_static("no-store"),
            );
            Ok(response)
        }
    }
}

/// The citizen's way through one authorization request: sign in, consent, then back to the
/// department.
#[get("/oauth2/interaction/{id}")]
pub async fn interaction(
    provider: web::Data<Provider>,
    signin: web::Data<services::signin::SignIn>,
    session: MaybeSession,
    page: Page,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    match flow::step(&provider, &id, session.0.as_ref()).await {
        Ok(step) => respond(&provider, &signin, &page, &id, step).await,
        Err(e) => error_page(&page, e.into()),
    }
}

/// The consent screen's answer: `decision=approve` or `decision=refuse`.
#[post("/oauth2/interaction/{id}")]
pub async fn answer(
    provider: web::Data<Provider>,
    signin: web::Data<services::signin::SignIn>,
    form: Form<CitizenSession>,
    page: Page,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let approve = match form.fields.get("decision") {
        Some("approve") => true,
        Some("refuse") => false,
        _ => {
            return error_page(
                &page,
                services::Error::from(services::InputError::MalformedForm(
                    "`decision` must be `approve` or `refuse`".into(),
                ))
                .into(),
            );
        }
    };
    match flow::decide(&provider, &id, &form.who.session, approve, page.lang).await {
        Ok(step) => respond(&provider, &signin, &page, &id, step).await,
        Err(e) => error_page(&page, e.into()),
    }
}

async fn userinfo(
    provider: &Provider,
    req: &HttpRequest,
    method: &str,
) -> Result<HttpResponse, Error> {
    let claims = services::provider::userinfo::userinfo(
        provider,
        crate::oauth::authorization(req),
        &dpop_headers(req),
        method,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(claims))
}

/// The signed-in citizen's claims for the department (OIDC Core §5.3), as `verified_claims`.
#[utoipa::path(
    tag = "openid provider",
    params(
        ("Authorization" = String, Header, description = "`DPoP <access token>`"),
        ("DPoP" = String, Header, description = "A DPoP proof with `ath`")
    ),
    responses(
        (status = 200, description = "`sub` and `verified_claims`", body = Object),
        (status = 401, description = "invalid_token or invalid_dpop_proof, with a `WWW-Authenticate: DPoP` challenge")
    )
)]
#[get("/oauth2/userinfo")]
pub async fn userinfo_get(
    provider: web::Data<Provider>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    userinfo(&provider, &req, "GET").await
}

/// As `GET`.
#[utoipa::path(
    tag = "openid provider",
    params(
        ("Authorization" = String, Header, description = "`DPoP <access token>`"),
        ("DPoP" = String, Header, description = "A DPoP proof with `ath`")
    ),
    responses(
        (status = 200, description = "`sub` and `verified_claims`", body = Object),
        (status = 401, description = "invalid_token or invalid_dpop_proof, with a `WWW-Authenticate: DPoP` challenge")
    )
)]
#[post("/oauth2/userinfo")]
pub async fn userinfo_post(
    provider: web::Data<Provider>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    userinfo(&provider, &req, "POST").await
}

/// RP-initiated logout: ends the citizen's broker session, tells every department application
/// signed in from it (back-channel), and returns to the department's registered
/// `post_logout_redirect_uri`, or to the broker's signed-out page.
#[get("/oauth2/logout")]
pub async fn end_session(
    provider: web::Data<Provider>,
    signin: web::Data<services::signin::SignIn>,
    site: web::Data<Site>,
    session: MaybeSession,
    query: web::Query<LogoutQuery>,
) -> Result<HttpResponse, Error> {
    let target = logout::rp_initiated(&provider, &query).await?;
    let mut response = HttpResponse::SeeOther();
    if let Some(s) = &session.0 {
        let done = format!("{}/signout/done", provider.issuer());
        services::signin::complete::sign_out(&signin, s, &done).await?;
        ended(&provider, s).await;
        response.cookie(session::removal_cookie(&site));
    }
    Ok(response
        .insert_header((
            "Location",
            target.unwrap_or_else(|| "/signout/done".to_owned()),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

/// Tells the departments a session ended; a failure is logged, never in the way of signing out.
pub async fn ended(provider: &Provider, session: &services::sessions::Session) {
    if let Err(e) = logout::session_ended(provider, session).await {
        tracing::warn!(code = e.code(), error = %e, "back-channel logout failed");
    }
}
