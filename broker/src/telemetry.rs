//! Structured logs with `tracing`: human-readable on a terminal, JSON otherwise (or when
//! `log_format = "json"`). Every request's span carries its request id, so every line logged while
//! handling a request names it.
//!
//! INVARIANT: nothing logged here or anywhere else contains an attribute value, a token or a
//! secret. Spans record ids, names and codes only.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::{Config, LogFormat};

/// Installs the process's log subscriber. Returns false when one is already installed (tests).
pub fn init(config: &Config) -> bool {
    // sqlx logs every statement at INFO; statements are not what an operator needs to see.
    let directives = format!(
        "{},sqlx=warn,sea_orm=warn,sea_orm_migration=warn",
        config.log_level
    );
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match config.log_format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::NONE);
    if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
            .is_ok()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
            .is_ok()
    }
}
