//! The delegation part of `broker demo` (issue 16): Alice lets Bob act for her. Bob's citizen
//! is linked to his identity at the development bank (persona `bob`), and the delegation is
//! made through the consent ledger exactly as the pages make it: Alice offers it (its one-time
//! invitation code), Bob accepts it. Bob then signs in, chooses "acting for Alice", updates her
//! address, and both see it: the banner on Bob's pages, the act on Alice's activity page.

use sea_orm::TransactionTrait;
use services::consents::delegations::{self, Offeror, TermsInput};

use super::Seeding;
use crate::cli::CliError;

/// Bob's subject at the development bank provider (persona `bob`).
pub const BOB_BANK_SUBJECT: &str = "BANK-BOB-2002";

fn other(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::Other(format!("demo: {what}: {e}"))
}

/// Bob's citizen id: the one his bank identity is linked to, else a new citizen linked to it.
async fn bob(state: &Seeding) -> Result<Option<String>, CliError> {
    let Some(bank) = state
        .config
        .providers
        .iter()
        .find(|p| p.id == crate::demo::signin::BANK)
    else {
        return Ok(None);
    };
    if let Some(link) =
        services::signin::links::find(&state.db, &bank.issuer, BOB_BANK_SUBJECT).await?
    {
        return Ok(Some(link.citizen_id));
    }
    let id = services::citizens::create(&state.db, &state.vault).await?;
    let txn = state.db.begin().await?;
    services::signin::links::create(
        &txn,
        &state.audit,
        &id,
        &bank.id,
        &bank.issuer,
        BOB_BANK_SUBJECT,
        2,
    )
    .await
    .map_err(|e| other("Bob's identity link", e))?;
    txn.commit().await?;
    Ok(Some(id))
}

/// Alice delegates to Bob (seeing and changing her address, for a year), unless a live
/// delegation from her to him exists already (a restart on the same data directory).
pub async fn seed(state: &Seeding, alice: &str) -> Result<bool, CliError> {
    let Some(bob) = bob(state).await? else {
        return Ok(false);
    };
    let live = delegations::live_to(&state.ledger, &bob)
        .await
        .map_err(|e| other("Bob's delegations", e))?;
    if live.iter().any(|d| d.delegator().to_string() == alice) {
        return Ok(true);
    }
    let offered = delegations::offer(
        &state.ledger,
        Offeror::Citizen(alice),
        TermsInput {
            powers: vec!["change_facts".to_owned()],
            purposes: vec!["benefit-eligibility".to_owned()],
            attributes: vec!["address".to_owned()],
            duration_days: 365,
            valid_until_ms: None,
            may_delegate: false,
            label: "Alice Tremblay".to_owned(),
        },
    )
    .await
    .map_err(|e| other("Alice's delegation", e))?;
    delegations::accept(&state.ledger, &bob, &offered.invitation)
        .await
        .map_err(|e| other("Bob's acceptance", e))?;
    Ok(true)
}

/// The demo's lines about delegation.
pub fn describe(base: &str, seeded: bool) -> Vec<String> {
    if !seeded {
        return Vec::new();
    }
    vec![
        format!(
            "  Act for Alice       sign in as Bob (bank), then {base}/me/acting-for: \"Act for Alice Tremblay\""
        ),
        format!(
            "                      update her address at {base}/me/update (the banner shows it); she sees it in {base}/me/activity"
        ),
        format!("  Delegations         {base}/me/delegations  (offer one, accept one, end one)"),
    ]
}
