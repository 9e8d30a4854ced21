//! HTTP plumbing shared by every route: problem responses, request ids and metrics, health,
//! discovery and the API reference.

pub mod discovery;
pub mod health;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod problem;
