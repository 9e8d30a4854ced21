//! Citizen and officer sign-in through real OpenID providers (oidc-provider as `provider.mjs`),
//! the attack catalogue against deliberately broken ones (`hostile-provider.mjs`), the pages in a
//! real browser with axe-core, and `broker demo` with its development providers.

mod attacks;
mod browser;
mod demo;
mod flows;
