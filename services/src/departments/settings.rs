//! `[departments]`: the registry file applied at every start.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DepartmentsConfig {
    /// A registry file (TOML) applied at every start after the catalogue: departments beyond
    /// the catalogue, clients with their keys and scopes, delivery settings. See
    /// docs/departments.md. (Not `…_file`: a `BROKER_…_FILE` variable names a secret file.)
    pub registry_path: Option<PathBuf>,
}
