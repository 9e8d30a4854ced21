//! The Tell Us Once broker: the `broker` binary and the library it is built from (also used by the
//! end-to-end tests).
//!
//! This crate owns everything that touches the outside world: configuration, storage, HTTP
//! (actix-web, which no other crate may depend on), pages, OpenID Connect, tokens, keys and the
//! background workers. Domain rules live in `consent`, `policies`, `audit` and `adapters`.
//!
//! It must never log, return or put in an error an attribute value, a token or a secret.

pub mod audit_log;
pub mod citizens;
pub mod cli;
pub mod config;
pub mod consents;
pub mod demo;
pub mod departments;
pub mod error;
pub mod home;
pub mod http;
pub mod jose;
pub mod keys;
pub mod oauth;
pub mod relay;
pub mod release;
pub mod server;
pub mod signin;
pub mod store;
pub mod telemetry;
pub mod vault;
pub mod web;
