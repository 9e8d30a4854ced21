//! The consent ledger on the web: the department API (`api`: requests, their state, receipt
//! verification) and the citizen's pages (`pages`, `requests`, with the view models in `view`).
//! Every change goes through `services::consents::ledger`.

pub mod api;
pub mod pages;
pub mod requests;
pub mod view;
#[cfg(test)]
mod web_tests;
