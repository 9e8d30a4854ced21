//! The consent part of `broker demo`: the pension office (Employment and Social Development) asks
//! the demo citizen for their date of birth and home address, to enrol them in the old-age pension.
//! The lead calls [`seed_requests`] once the demo sign-in has created the citizen.

use services::Error;
use services::consents::ledger::{self, RequestInput};
use services::consents::{Ledger, LedgerError};

/// The department that asks, and why.
pub const PENSION_OFFICE: &str = "employment-social-development";
pub const PENSION_PURPOSE: &str = "pension-enrolment";

/// Seeds the demo's department requests for `citizen_id`. Idempotent: a request already pending
/// (or a consent already active) for the same terms is left as it is. Returns the new request ids.
pub async fn seed_requests(state: &Ledger, citizen_id: &str) -> Result<Vec<String>, Error> {
    let department = services::departments::get(&state.db, PENSION_OFFICE)
        .await?
        .ok_or_else(|| LedgerError::UnknownDepartment(PENSION_OFFICE.to_owned()))?;
    // The pension office knows the citizen: the broker has given it her pairwise id (as a
    // department's sign-in would).
    let subject = services::citizens::pairwise::subject_for(
        &state.db,
        &state.secrets.pairwise,
        &department.sector_identifier,
        citizen_id,
    )
    .await?;
    let input = RequestInput {
        subject,
        attributes: vec!["birthdate".to_owned(), "address".to_owned()],
        purpose: PENSION_PURPOSE.to_owned(),
        mode: "ongoing".to_owned(),
        duration_days: Some(180),
        return_url: None,
    };
    match ledger::request(state, &department, "demo-seed", input).await {
        Ok(consent) => Ok(vec![consent.id().to_string()]),
        Err(Error::Consent(LedgerError::Duplicate)) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn the_demo_seeds_the_pension_office_request_once() {
        let h = services::testing::TestServices::new().await;
        let citizen = services::citizens::create(&h.db, &h.vault).await.unwrap();
        let ids = seed_requests(&h.ledger, &citizen).await.unwrap();
        assert_eq!(ids.len(), 1);
        assert!(
            seed_requests(&h.ledger, &citizen).await.unwrap().is_empty(),
            "idempotent"
        );
        let request = services::consents::load(&h.db, &ids[0])
            .await
            .unwrap()
            .unwrap();
        let asked: Vec<&String> = request.request().unwrap().attributes.iter().collect();
        assert_eq!(asked, ["address", "birthdate"]);
        assert_eq!(request.purpose(), PENSION_PURPOSE);
    }
}
