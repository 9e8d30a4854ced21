//! The operator's commands beyond serving: `broker departments`, `broker deliveries`,
//! `broker audit`, `broker witness`, `broker citizens`, `broker consent verify-receipt` and `broker verify-bundle`. Each loads what it needs
//! from the configuration, does one job through `services`, and prints a line per result.

pub mod audit;
pub mod citizens;
pub mod consent;
pub mod deliveries;
pub mod departments;
pub mod takeout;
pub mod witness;
