//! The `broker` binary's library: the command line, the layered configuration, wiring (`serve`:
//! every service built once, the web application over them, the background work), the operator
//! commands and the demo. End-to-end tests use it to read configuration and data directories the
//! way the binary does.
//!
//! **Owns:** reading the configuration file and environment, and handing each area its part.
//! **Never:** holds a rule of the domain (that is `services`) or a handler (that is `web`); never
//! logs, returns or puts in an error an attribute value, a token or a secret.

pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod serve;
pub mod telemetry;
