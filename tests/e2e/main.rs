//! End-to-end tests: one test binary, one module per capability. Each test starts the real
//! `broker` binary on a fresh database (SQLite or PostgreSQL, per `TUO_TEST_DATABASE`) and talks to
//! it over HTTP like a department, a citizen's browser or an operator would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
mod consents;
mod contract;
mod delegation;
mod foundation;
mod oauth;
mod provider;
mod relay;
mod release;
mod signin;
mod soak;
