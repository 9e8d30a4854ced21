//! The broker's HTTP face: actix-web handlers, server-rendered pages (templates and messages
//! embedded in the binary, English and French on every page, usable without JavaScript),
//! sessions and CSRF as types, the OpenAPI document, and problem responses.
//!
//! **Owns:** routes, request parsing, rendering, cookies, and turning an error's class into an
//! HTTP status (`problem`: the one place that does).
//! **Never:** holds a rule of the domain or writes a table (it calls `services`), chooses a
//! public error code (`services::error` does), or logs an attribute value, a token or a secret.
//! It is the only crate besides the `broker` binary that knows actix-web.

pub mod app;
pub mod assets;
pub mod audit;
pub mod body;
pub mod consents;
pub mod contract;
pub mod csrf;
pub mod delegation;
pub mod discovery;
pub mod health;
pub mod home;
pub mod i18n;
pub mod lang;
pub mod methods;
pub mod oauth;
pub mod observe;
pub mod openapi;
pub mod pages;
pub mod problem;
pub mod provider;
pub mod relay;
pub mod release;
pub mod session;
pub mod settings;
pub mod signin;
pub mod takeout;
#[cfg(test)]
pub(crate) mod testing;

pub use app::{Site, StartError, Web, app};
pub use problem::Error;
pub use settings::ServerConfig;

/// Everything embedded by `build.rs`.
pub mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}
