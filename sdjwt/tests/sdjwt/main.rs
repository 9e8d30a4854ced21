//! The crate's integration tests, one binary: RFC 9901's own examples, round trips in the shape
//! the broker releases, every tampering refused, and property tests that parsing never panics.

// Fixtures and checkers outside `#[test]` functions are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fuzz;
mod rfc;
mod round_trip;
mod support;
mod tamper;
