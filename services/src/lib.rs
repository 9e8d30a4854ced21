//! The broker's use cases, free of HTTP: the consent ledger, a release decision and its audit, the
//! relay (outbox, delivery worker, pull sources), the audit log's write and read sides, citizen
//! sign-in and identity links, browser sessions, the department registry, keys and the vault.
//!
//! **Owns:** every table (each behind one module: `citizens`, `departments`, `consents`, `relay`,
//! `audit_log`, `signin`, `sessions`, `oauth`) and the rules that change them; the public error
//! codes (`error`: one module decides every code and its class).
//! **Never:** depends on actix-web or renders a page (that is `web`), reads the configuration
//! file (the `broker` binary does, and hands each service its settings), or logs, returns or puts
//! in an error an attribute value, a token or a secret.
//!
//! Each service is a small value holding exactly what it uses (a database handle, the policy
//! engine, keys, its settings), cheap to clone, built once by the binary: [`consents::Ledger`],
//! [`relay::Relay`], [`release::Release`], [`oauth::OAuth`], [`signin::SignIn`],
//! [`sessions::Sessions`], [`audit_log::AuditLog`], [`takeout::Takeout`].

pub mod admin;
pub mod assembly;
pub mod audit_log;
pub mod citizens;
pub mod consents;
pub mod departments;
pub mod digests;
pub mod error;
pub mod jose;
pub mod keys;
pub mod lang;
pub mod metrics;
pub mod notices;
pub mod oauth;
pub mod policy;
pub mod provider;
pub mod relay;
pub mod release;
pub mod secret;
pub mod sessions;
pub mod signin;
pub mod takeout;
pub mod testing;
pub mod vault;

pub use assembly::{Defaults, Services, Setup};
pub use error::{Error, ErrorClass, InputError, PublicError};

/// Work that runs beside the HTTP server until shutdown is signalled (`true`).
pub type Shutdown = tokio::sync::watch::Receiver<bool>;
