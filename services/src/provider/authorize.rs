//! The authorization endpoint and the citizen's way through it: `GET /oauth2/authorize` redeems
//! the pushed request once and opens an interaction; each visit to the interaction asks
//! `fapi::interaction::next_step` what comes next — sign in (or sign in again, or step up),
//! the consent screen, or the answer to the department (a code, or an error), always with `iss`
//! (RFC 9207).
//!
//! Errors before the pushed request is in hand are shown to the citizen, never redirected: the
//! redirect URI is trusted only once the stored request is.

use consent::Mode;
use fapi::ErrorCode;
use fapi::acr::Level;
use fapi::interaction::{Next, Progress, SignInReason};
use fapi::par::AuthorizationRequest;
use fapi::par::request_uri::{AuthorizeEntry, PushedRequest};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use super::entities::{grant, interaction, request};
use super::push::{asked_attributes, consent_mode};
use super::{Provider, ProviderError, hash, random_token, session_id};
use crate::consents::LedgerError;
use crate::consents::ledger::{self, Citizen, SignInTerms};
use crate::error::Error;
use crate::lang::Lang;
use crate::sessions::{Role, Session};
use store::now_ms;

/// Where the citizen's browser goes next.
#[derive(Debug)]
pub enum Step {
    /// To the department's redirect URI, with the answer (a code, or an error) in the query.
    Answer(String),
    /// To sign in, coming back to `next`; at a provider of at least `minimum` when stepping up.
    SignIn {
        next: String,
        minimum: Option<u8>,
        /// The department's `login_hint`, passed on to the credential provider.
        login_hint: Option<String>,
    },
    /// The consent screen.
    Consent(Box<ConsentScreen>),
}

/// What the consent screen shows: who asks, why, under which law, for what, and where each
/// value came from (never the values themselves).
#[derive(Debug, Clone)]
pub struct ConsentScreen {
    pub department_id: String,
    pub department_en: String,
    pub department_fr: String,
    /// No purpose: the department asks for no attribute, only to know it is the same citizen.
    pub purpose: Option<ScreenPurpose>,
    pub mode: Mode,
    /// How long the consent lasts if given.
    pub duration_days: i64,
    pub attributes: Vec<ScreenAttribute>,
}

#[derive(Debug, Clone)]
pub struct ScreenPurpose {
    pub code: String,
    pub text_en: String,
    pub text_fr: String,
    pub legal_basis_en: String,
    pub legal_basis_fr: String,
    pub illustrative: bool,
}

#[derive(Debug, Clone)]
pub struct ScreenAttribute {
    pub name: String,
    pub label_en: String,
    pub label_fr: String,
    pub essential: bool,
    /// Where the value held came from; `None`: the broker holds none (nothing will be given).
    pub source: Option<ScreenSource>,
}

#[derive(Debug, Clone)]
pub struct ScreenSource {
    /// `provider`, `department` or `citizen`.
    pub kind: &'static str,
    /// The provider's or department's id, or `citizen`.
    pub id: String,
    pub loa: u8,
}

/// The page's path for an interaction.
pub fn interaction_path(id: &str) -> String {
    format!("/oauth2/interaction/{id}")
}

fn expired() -> Error {
    ProviderError::new(
        ErrorCode::InvalidRequest,
        "this sign-in has expired or is already complete; start again from the department's site",
    )
    .into()
}

/// `GET /oauth2/authorize?client_id=…&request_uri=…`: redeems the pushed request (once) and
/// opens the interaction; returns its id (the page's path segment).
pub async fn begin(provider: &Provider, query: &str) -> Result<String, Error> {
    let entry = AuthorizeEntry::parse(query).map_err(ProviderError::from)?;
    let stored = take_pushed(provider, &entry.storage_key()).await?;
    let now = now_ms();
    let request = entry
        .redeem(stored, now / 1000)
        .map_err(ProviderError::from)?;
    registered(provider, &request).await?;
    let id = random_token()?;
    let stored = serde_json::to_string(&request)
        .map_err(|e| Error::Internal(format!("cannot store an interaction: {e}")))?;
    interaction::ActiveModel {
        id_hash: Set(hash(&id)),
        client_id: Set(request.client_id.clone()),
        request: Set(stored),
        sign_in_sent_at: Set(None),
        consented_at: Set(None),
        created_at: Set(now),
        expires_at: Set(now + provider.settings.interaction_ttl_secs * 1000),
        ended_at: Set(None),
    }
    .insert(&provider.oauth.db)
    .await?;
    Ok(id)
}

/// Takes the pushed request out of storage: read, then delete, and only the caller whose delete
/// removed the row has it (single use, RFC 9126 §4), on any instance.
async fn take_pushed(provider: &Provider, key: &str) -> Result<Option<PushedRequest>, Error> {
    let db = &provider.oauth.db;
    let Some(row) = request::Entity::find_by_id(key.to_owned()).one(db).await? else {
        return Ok(None);
    };
    let deleted = request::Entity::delete_by_id(key.to_owned())
        .exec(db)
        .await?
        .rows_affected;
    if deleted != 1 {
        return Ok(None);
    }
    serde_json::from_str(&row.request)
        .map(Some)
        .map_err(|_| Error::Internal("a stored pushed request does not read".into()))
}

/// The client still exists, its department is active and the redirect URI is still registered.
async fn registered(
    provider: &Provider,
    request: &AuthorizationRequest,
) -> Result<(crate::departments::Client, crate::departments::Department), Error> {
    let found = provider
        .oauth
        .registry
        .client_with_department(&provider.oauth.db, &request.client_id)
        .await?;
    match found {
        Some((client, Some(department)))
            if department.active && client.redirect_uris.contains(&request.redirect_uri) =>
        {
            Ok((client, department))
        }
        _ => Err(ProviderError::new(
            ErrorCode::UnauthorizedClient,
            "the department's application is no longer registered for this",
        )
        .into()),
    }
}

/// A live interaction and its request.
async fn load(
    provider: &Provider,
    id: &str,
) -> Result<(interaction::Model, AuthorizationRequest), Error> {
    if id.len() != 43 {
        return Err(expired());
    }
    let row = interaction::Entity::find_by_id(hash(id))
        .one(&provider.oauth.db)
        .await?
        .filter(|r| r.ended_at.is_none() && r.expires_at > now_ms())
        .ok_or_else(expired)?;
    let request = serde_json::from_str(&row.request)
        .map_err(|_| Error::Internal("a stored interaction does not read".into()))?;
    Ok((row, request))
}

/// Ends the interaction; false when another request ended it first.
async fn end(provider: &Provider, row: &interaction::Model) -> Result<bool, Error> {
    let ended = interaction::Entity::update_many()
        .col_expr(interaction::Column::EndedAt, Expr::value(now_ms()))
        .filter(interaction::Column::IdHash.eq(row.id_hash.clone()))
        .filter(interaction::Column::EndedAt.is_null())
        .exec(&provider.oauth.db)
        .await?;
    Ok(ended.rows_affected == 1)
}

/// The signed-in citizen, if the session is one.
fn citizen_of(session: Option<&Session>) -> Option<(&Session, &str)> {
    let s = session?;
    if s.role != Role::Citizen {
        return None;
    }
    s.citizen_id.as_deref().map(|c| (s, c))
}

/// What the department asked, in the ledger's terms.
fn terms<'a>(
    request: &'a AuthorizationRequest,
    department: &'a str,
    attributes: &'a [String],
) -> Option<SignInTerms<'a>> {
    Some(SignInTerms {
        department,
        client_id: &request.client_id,
        purpose: request.purpose.as_deref()?,
        mode: consent_mode(request.consent_mode),
        attributes,
    })
}

/// The interaction's next step for the browser holding `session`.
pub async fn step(provider: &Provider, id: &str, session: Option<&Session>) -> Result<Step, Error> {
    let (row, request) = load(provider, id).await?;
    let (client, department) = match registered(provider, &request).await {
        Ok(found) => found,
        Err(e) => {
            end(provider, &row).await?;
            return Err(e);
        }
    };
    let now = now_ms();
    let mut citizen = citizen_of(session);
    if let Some((_, citizen_id)) = citizen
        && !is_named(provider, &request, &department, citizen_id)
    {
        // The department named someone else (`id_token_hint`, `claims.sub`): this session is
        // not theirs to use.
        citizen = None;
    }
    let asked = request
        .claims
        .as_ref()
        .map(asked_attributes)
        .unwrap_or_default();
    let terms = terms(&request, &department.id, &asked);
    let covering = match (citizen, &terms) {
        (Some((_, citizen_id)), Some(terms)) if !asked.is_empty() => {
            ledger::covering_sign_in(&provider.ledger, citizen_id, terms, now).await?
        }
        _ => None,
    };
    let consent_covers = asked.is_empty() || covering.is_some();
    let fsession = citizen.and_then(|(s, _)| {
        Level::new(s.loa).map(|level| fapi::interaction::Session {
            level,
            authenticated_at: s.created_at / 1000,
        })
    });
    let progress = Progress {
        signed_in: match (row.sign_in_sent_at, citizen) {
            (Some(sent), Some((s, _))) => s.created_at >= sent,
            _ => false,
        },
        consented: row.consented_at.is_some(),
    };
    let next = fapi::interaction::next_step(
        &request,
        &provider.acr,
        fsession.as_ref(),
        consent_covers,
        progress,
        now / 1000,
    );
    match next {
        Next::SignIn(reason) => {
            interaction::Entity::update_many()
                .col_expr(interaction::Column::SignInSentAt, Expr::value(now))
                .filter(interaction::Column::IdHash.eq(row.id_hash.clone()))
                .exec(&provider.oauth.db)
                .await?;
            let minimum = match reason {
                SignInReason::StepUp { minimum, .. } => Some(minimum.get()),
                _ => None,
            };
            Ok(Step::SignIn {
                next: interaction_path(id),
                minimum,
                login_hint: request.login_hint.clone(),
            })
        }
        Next::Consent => Ok(Step::Consent(Box::new(
            screen(
                provider,
                &request,
                &department,
                &asked,
                citizen.map(|(_, c)| c),
            )
            .await?,
        ))),
        Next::Issue { acr } => {
            let Some((session, citizen_id)) = citizen else {
                return Err(Error::Internal("a code without a session".into()));
            };
            // The consent read above (after any approval in this interaction) is the one the
            // code rests on.
            let consent_id = covering.as_ref().map(|c| c.id().to_string());
            if !asked.is_empty() && consent_id.is_none() {
                return Err(Error::Internal(
                    "a code without the consent it needs".into(),
                ));
            }
            if !end(provider, &row).await? {
                return Err(expired());
            }
            let code = random_token()?;
            let stored = serde_json::to_string(&request)
                .map_err(|e| Error::Internal(format!("cannot store a grant: {e}")))?;
            grant::ActiveModel {
                id: Set(uuid::Uuid::now_v7().to_string()),
                client_id: Set(client.client_id.clone()),
                department_id: Set(department.id.clone()),
                citizen_id: Set(citizen_id.to_owned()),
                request: Set(stored),
                consent_id: Set(consent_id),
                acr: Set(acr),
                auth_time: Set(session.created_at / 1000),
                sid: Set(session_id(&session.id_hash, &client.client_id)),
                session_hash: Set(session.id_hash.clone()),
                code_hash: Set(hash(&code)),
                code_expires_at: Set(now + provider.settings.code_ttl_secs * 1000),
                code_used_at: Set(None),
                dpop_jkt: Set(None),
                refresh_hash: Set(None),
                previous_refresh_hash: Set(None),
                refresh_expires_at: Set(None),
                created_at: Set(now),
                revoked_at: Set(None),
                revoked_reason: Set(None),
                logged_out_at: Set(None),
            }
            .insert(&provider.oauth.db)
            .await?;
            tracing::info!(client_id = %client.client_id, "authorization code issued");
            Ok(Step::Answer(answer(
                provider,
                &request,
                &[("code", code.as_str())],
            )?))
        }
        Next::Fail(code) => {
            end(provider, &row).await?;
            Ok(Step::Answer(error_answer(provider, &request, code)?))
        }
    }
}

/// The citizen answered the consent screen.
pub async fn decide(
    provider: &Provider,
    id: &str,
    session: &Session,
    approve: bool,
    lang: Lang,
) -> Result<Step, Error> {
    let (row, request) = load(provider, id).await?;
    let Some((_, citizen_id)) = citizen_of(Some(session)) else {
        return step(provider, id, Some(session)).await;
    };
    let (_, department) = registered(provider, &request).await?;
    let asked = request
        .claims
        .as_ref()
        .map(asked_attributes)
        .unwrap_or_default();
    let terms = terms(&request, &department.id, &asked);
    if !approve {
        if let Some(terms) = &terms
            && !asked.is_empty()
        {
            ledger::refused_at_sign_in(&provider.ledger, citizen_id, terms).await?;
        }
        if !end(provider, &row).await? {
            return Err(expired());
        }
        return Ok(Step::Answer(error_answer(
            provider,
            &request,
            ErrorCode::AccessDenied,
        )?));
    }
    if let Some(terms) = &terms
        && !asked.is_empty()
    {
        let citizen = Citizen {
            id: citizen_id,
            loa: session.loa,
            lang,
        };
        match ledger::grant_at_sign_in(&provider.ledger, &citizen, terms).await {
            // `prompt=consent` over a consent already held: it stands, confirmed.
            Ok(_) | Err(Error::Consent(LedgerError::Duplicate)) => {}
            Err(e) => return Err(e),
        }
    }
    interaction::Entity::update_many()
        .col_expr(interaction::Column::ConsentedAt, Expr::value(now_ms()))
        .filter(interaction::Column::IdHash.eq(row.id_hash.clone()))
        .exec(&provider.oauth.db)
        .await?;
    step(provider, id, Some(session)).await
}

/// Whether the session's citizen is the one the request names, if it names one
/// (`id_token_hint`, `claims.sub`: OIDC Core §3.1.2.1, §5.5.1).
fn is_named(
    provider: &Provider,
    request: &AuthorizationRequest,
    department: &crate::departments::Department,
    citizen_id: &str,
) -> bool {
    let subject = crate::citizens::pairwise::compute(
        &provider.secrets.pairwise,
        &department.sector_identifier,
        citizen_id,
    );
    let hinted = request
        .id_token_hint
        .as_deref()
        .map(|hint| super::logout::hint_subject(provider, hint, &request.client_id));
    if let Some(hinted) = hinted
        && hinted.as_deref() != Some(subject.as_str())
    {
        return false;
    }
    match request.claims.as_ref().and_then(|c| c.sub.as_deref()) {
        Some(sub) => sub == subject,
        None => true,
    }
}

/// The consent screen's content.
async fn screen(
    provider: &Provider,
    request: &AuthorizationRequest,
    department: &crate::departments::Department,
    asked: &[String],
    citizen_id: Option<&str>,
) -> Result<ConsentScreen, Error> {
    let catalogue = provider.release.policy.catalogue();
    let purpose = request.purpose.as_deref().and_then(|code| {
        catalogue.purpose(code).map(|p| ScreenPurpose {
            code: p.code.clone(),
            text_en: p.text_en.clone(),
            text_fr: p.text_fr.clone(),
            legal_basis_en: p.legal_basis.clone(),
            legal_basis_fr: p.legal_basis_fr.clone(),
            illustrative: p.illustrative,
        })
    });
    let names: Vec<&str> = asked.iter().map(String::as_str).collect();
    let facts = match citizen_id {
        Some(citizen_id) if !names.is_empty() => crate::citizens::current_facts(
            &provider.oauth.db,
            &provider.release.vault,
            citizen_id,
            Some(&names),
        )
        .await
        .map_err(Error::from)?,
        _ => Vec::new(),
    };
    let essential: Vec<String> = request
        .claims
        .as_ref()
        .map(|c| {
            c.asked()
                .into_iter()
                .filter(|a| a.essential)
                .map(|a| a.name)
                .collect()
        })
        .unwrap_or_default();
    let attributes = asked
        .iter()
        .map(|name| {
            let def = catalogue.attribute(name);
            ScreenAttribute {
                name: name.clone(),
                label_en: def.map_or_else(|| name.clone(), |d| d.label_en.clone()),
                label_fr: def.map_or_else(|| name.clone(), |d| d.label_fr.clone()),
                essential: essential.contains(name),
                // Only where each value came from: the values stay out of the page.
                source: facts
                    .iter()
                    .find(|f| &f.attribute == name)
                    .map(|f| ScreenSource {
                        kind: f.provenance.source_kind.as_str(),
                        id: f.provenance.source_id.clone(),
                        loa: f.provenance.loa,
                    }),
            }
        })
        .collect();
    let rules = provider.ledger.settings.rules().map_err(Error::Internal)?;
    Ok(ConsentScreen {
        department_id: department.id.clone(),
        department_en: department.name_en.clone(),
        department_fr: department.name_fr.clone(),
        purpose,
        mode: consent_mode(request.consent_mode),
        duration_days: rules.default_ms() / consent::DAY_MS,
        attributes,
    })
}

/// The department's redirect URI with `params`, `state` and `iss` (RFC 9207) added.
fn answer(
    provider: &Provider,
    request: &AuthorizationRequest,
    params: &[(&str, &str)],
) -> Result<String, Error> {
    let mut url = url::Url::parse(&request.redirect_uri)
        .map_err(|_| Error::Internal("a stored redirect uri does not parse".into()))?;
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
        if let Some(state) = &request.state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", provider.issuer());
    }
    Ok(url.to_string())
}

fn error_answer(
    provider: &Provider,
    request: &AuthorizationRequest,
    code: ErrorCode,
) -> Result<String, Error> {
    answer(
        provider,
        request,
        &[
            ("error", code.as_str()),
            ("error_description", code.description()),
        ],
    )
}
