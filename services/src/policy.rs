//! `[catalogue]`: where the attribute, purpose and department catalogues and the Cedar policies
//! come from, and loading them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogueConfig {
    /// A directory with `attributes.toml`, `purposes.toml` and `departments.toml`; the built-in
    /// catalogue when unset.
    pub dir: Option<PathBuf>,
    /// A directory with the Cedar schema and policies; the built-in policies when unset.
    pub policy_dir: Option<PathBuf>,
}

/// Loads the catalogues and policies named by `config` (the built-in ones by default).
pub fn load(config: &CatalogueConfig) -> Result<policies::PolicyEngine, policies::PolicyError> {
    policies::PolicyEngine::load(policies::PolicySource {
        catalogue_dir: config.dir.as_deref(),
        policy_dir: config.policy_dir.as_deref(),
    })
}
