//! Builds adapters from departments' configs.
//!
//! Adding an adapter is one file and one registration: write `src/<name>.rs` (declared in
//! `lib.rs`) with a `KIND` and a `build(&mut Settings, &HttpClient) -> Result<Adapter,
//! AdapterError>`, then add one line to `ADAPTERS` in this file. Nothing else in the crate or the
//! broker names a kind.

use std::sync::Arc;

use crate::config::{AdapterConfig, Settings};
use crate::http::{ClientOptions, HttpClient};
use crate::pull::PullSource;
use crate::{AdapterError, DeliveryAdapter, file_drop, pull, push};

type Build = fn(&mut Settings<'_>, &HttpClient) -> Result<Adapter, AdapterError>;

/// Every adapter kind, by the `kind` its config carries.
///
/// INVARIANT: kinds are unique; [`Registry::kinds`] lists them in this order.
const ADAPTERS: &[(&str, Build)] = &[
    (push::KIND, push::build),
    (file_drop::KIND, file_drop::build),
    (pull::KIND, pull::build),
];

/// What a config builds: something that delivers events to the department, or something that
/// fetches values from it.
#[derive(Debug, Clone)]
pub enum Adapter {
    Delivery(Arc<dyn DeliveryAdapter>),
    Source(Arc<PullSource>),
}

impl Adapter {
    pub(crate) fn delivery(adapter: impl DeliveryAdapter + 'static) -> Self {
        Self::Delivery(Arc::new(adapter))
    }

    pub(crate) fn source(source: PullSource) -> Self {
        Self::Source(Arc::new(source))
    }

    /// The registry kind it was built from.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Delivery(adapter) => adapter.kind(),
            Self::Source(_) => pull::KIND,
        }
    }
}

/// Builds adapters that share one HTTP client. Build one per process and keep it.
#[derive(Debug, Clone)]
pub struct Registry {
    http: HttpClient,
}

impl Registry {
    pub fn new(options: &ClientOptions) -> Result<Self, AdapterError> {
        Ok(Self::with_client(HttpClient::new(options)?))
    }

    pub fn with_client(http: HttpClient) -> Self {
        Self { http }
    }

    /// The registered kinds, for help texts and validation messages.
    pub fn kinds() -> impl Iterator<Item = &'static str> {
        ADAPTERS.iter().map(|(kind, _)| *kind)
    }

    /// Checks `config` and builds its adapter. Errors name the offending field and never repeat
    /// a value.
    pub fn build(&self, config: &AdapterConfig) -> Result<Adapter, AdapterError> {
        let Some((kind, build)) = ADAPTERS.iter().find(|(kind, _)| *kind == config.kind) else {
            return Err(AdapterError::UnknownKind {
                kind: config.kind.chars().take(64).collect(),
                expected: Self::kinds()
                    .map(|kind| format!("`{kind}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let mut settings = Settings::new(kind, &config.settings);
        let adapter = build(&mut settings, &self.http)?;
        settings.finish()?;
        Ok(adapter)
    }

    /// Builds the adapter the relay delivers through; a pull config is an error.
    pub fn delivery_adapter(
        &self,
        config: &AdapterConfig,
    ) -> Result<Arc<dyn DeliveryAdapter>, AdapterError> {
        match self.build(config)? {
            Adapter::Delivery(adapter) => Ok(adapter),
            Adapter::Source(_) => Err(AdapterError::NotADeliveryAdapter { kind: pull::KIND }),
        }
    }

    /// Builds the pull source the broker fetches from; any other config is an error.
    pub fn pull_source(&self, config: &AdapterConfig) -> Result<Arc<PullSource>, AdapterError> {
        match self.build(config)? {
            Adapter::Source(source) => Ok(source),
            Adapter::Delivery(adapter) => Err(AdapterError::NotAPullSource {
                kind: adapter.kind(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::DeliverySchedule;

    fn registry() -> Registry {
        Registry::new(&ClientOptions {
            use_system_proxy: false,
            ..ClientOptions::default()
        })
        .unwrap()
    }

    fn build(config: Value) -> Result<Adapter, AdapterError> {
        registry().build(&AdapterConfig::from_json(config).unwrap())
    }

    fn error(config: Value) -> String {
        build(config).unwrap_err().to_string()
    }

    #[test]
    fn kinds_are_unique() {
        let mut kinds: Vec<_> = Registry::kinds().collect();
        assert_eq!(kinds, ["push", "file-drop", "pull"]);
        kinds.dedup();
        assert_eq!(kinds.len(), ADAPTERS.len());
    }

    #[test]
    fn each_kind_builds_its_adapter() {
        let push = build(
            json!({"kind": "push", "endpoint": "http://127.0.0.1:9000/events",
            "timeout_ms": 5000, "authorization": "s3cret"}),
        )
        .unwrap();
        let Adapter::Delivery(push) = push else {
            panic!("push is a delivery adapter")
        };
        assert_eq!(push.kind(), "push");
        assert_eq!(push.schedule(), DeliverySchedule::Immediate);

        let drop = build(
            json!({"kind": "file-drop", "directory": "/var/lib/tuo/drop",
            "batch_interval_secs": 86400, "window_offset_secs": 7200}),
        )
        .unwrap();
        let Adapter::Delivery(drop) = drop else {
            panic!("file drop is a delivery adapter")
        };
        assert_eq!(drop.kind(), "file-drop");
        assert_eq!(
            drop.schedule(),
            DeliverySchedule::Windowed {
                interval: std::time::Duration::from_secs(86_400),
                offset: std::time::Duration::from_secs(7_200),
            }
        );

        let pull =
            build(json!({"kind": "pull", "base_url": "https://vitals.example/tuo"})).unwrap();
        let Adapter::Source(pull) = pull else {
            panic!("pull is a source")
        };
        assert_eq!(pull.poll_interval(), std::time::Duration::from_secs(300));
        assert_eq!(
            pull.loa(),
            3,
            "values from a registry are recorded at LoA 3 by default"
        );
        let Adapter::Source(pull) =
            build(json!({"kind": "pull", "base_url": "https://vitals.example/tuo", "loa": 4}))
                .unwrap()
        else {
            panic!("pull is a source")
        };
        assert_eq!(pull.loa(), 4);
    }

    #[test]
    fn an_unknown_kind_lists_the_known_ones() {
        assert_eq!(
            error(json!({"kind": "carrier-pigeon"})),
            "unknown adapter kind `carrier-pigeon`; expected one of `push`, `file-drop`, `pull`"
        );
    }

    #[test]
    fn bad_push_configs_name_the_field() {
        let missing = error(json!({"kind": "push"}));
        assert_eq!(missing, "missing `endpoint` in the `push` adapter settings");
        let bad_url = error(json!({"kind": "push", "endpoint": "not a url"}));
        assert!(bad_url.contains("`endpoint`"), "{bad_url}");
        let timeout =
            error(json!({"kind": "push", "endpoint": "https://d.example/e", "timeout_ms": 0}));
        assert!(timeout.contains("`timeout_ms`"), "{timeout}");
        let slots = error(
            json!({"kind": "push", "endpoint": "https://d.example/e", "max_concurrency": 1000}),
        );
        assert!(slots.contains("`max_concurrency`"), "{slots}");
        let typo = error(json!({"kind": "push", "endpoint": "https://d.example/e", "timeout": 5}));
        assert_eq!(typo, "unknown setting `timeout` for the `push` adapter");
    }

    #[test]
    fn a_bad_secret_is_named_but_never_shown() {
        let message = error(json!({"kind": "push", "endpoint": "https://d.example/e",
            "authorization": "Bearer top-secret-value"}));
        assert!(message.contains("`authorization`"), "{message}");
        assert!(!message.contains("top-secret-value"), "{message}");
    }

    #[test]
    fn bad_file_drop_configs_name_the_field() {
        let relative = error(json!({"kind": "file-drop", "directory": "drop/health"}));
        assert!(
            relative.contains("`directory`") && relative.contains("absolute"),
            "{relative}"
        );
        let missing = error(json!({"kind": "file-drop"}));
        assert_eq!(
            missing,
            "missing `directory` in the `file-drop` adapter settings"
        );
        let interval = error(
            json!({"kind": "file-drop", "directory": "/d", "batch_interval_secs": "nightly"}),
        );
        assert!(interval.contains("`batch_interval_secs`") && !interval.contains("nightly"));
        let offset = error(json!({"kind": "file-drop", "directory": "/d",
            "batch_interval_secs": 3600, "window_offset_secs": 3600}));
        assert!(offset.contains("`window_offset_secs`"), "{offset}");
    }

    #[test]
    fn bad_pull_configs_name_the_field() {
        let query = error(json!({"kind": "pull", "base_url": "https://d.example/api?x=1"}));
        assert!(query.contains("`base_url`"), "{query}");
        let plain = error(json!({"kind": "pull", "base_url": "http://d.example/api"}));
        assert!(
            plain.contains("`base_url`") && plain.contains("https"),
            "{plain}"
        );
        let size = error(
            json!({"kind": "pull", "base_url": "https://d.example/api", "max_response_bytes": 10}),
        );
        assert!(size.contains("`max_response_bytes`"), "{size}");
        let loa = error(json!({"kind": "pull", "base_url": "https://d.example/api", "loa": 5}));
        assert_eq!(
            loa,
            "invalid `loa` in the `pull` adapter settings: must be a whole number from 1 to 4"
        );
    }

    #[test]
    fn delivery_and_source_are_not_interchangeable() {
        let registry = registry();
        let pull =
            AdapterConfig::from_json(json!({"kind": "pull", "base_url": "https://d.example/api"}))
                .unwrap();
        let push =
            AdapterConfig::from_json(json!({"kind": "push", "endpoint": "https://d.example/e"}))
                .unwrap();
        assert_eq!(
            registry.delivery_adapter(&pull).unwrap_err().to_string(),
            "the `pull` adapter does not deliver events"
        );
        assert_eq!(
            registry.pull_source(&push).unwrap_err().to_string(),
            "the `push` adapter is not a pull source"
        );
        assert!(registry.delivery_adapter(&push).is_ok());
        assert!(registry.pull_source(&pull).is_ok());
    }
}
