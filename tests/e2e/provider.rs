//! The broker as an OpenID Provider at the FAPI 2.0 Security Profile (issue 14), end to end:
//! a department's web application built on openid-client signs a citizen in through the consent
//! screen in a real browser (`provider/openid_client.rs`), and the attack catalogue sends what a
//! hostile application would (`provider/attacks.rs`, which lists every case). `provider/kit.rs`
//! holds the hand-built client both use.

mod attacks;
mod kit;
mod openid_client;
