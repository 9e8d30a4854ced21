//! The broker as an OpenID Provider at the FAPI 2.0 Security Profile (issue 14), end to end:
//! a department's web application built on openid-client signs a citizen in through the consent
//! screen in a real browser (`provider/openid_client.rs`), the attack catalogue sends what a
//! hostile application would (`provider/attacks.rs`, which lists every case), and `broker demo`'s
//! sample department application fills its form through the broker (`provider/demo.rs`).
//! `provider/kit.rs` holds the hand-built client the first two use.

mod attacks;
mod demo;
mod kit;
mod openid_client;
