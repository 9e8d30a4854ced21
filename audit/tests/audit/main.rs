//! Integration tests of the `audit` crate: one test binary, one module per concern.

// Fixtures and checkers outside `#[test]` functions are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod c2sp;
mod canonical;
mod note_props;
mod rfc9162;
mod support;
mod tamper;
mod vectors;
