//! Test support for in-process tests of the application: every service over a fresh test
//! database, and the web wiring over them (`app(h.web.clone())`).

use services::testing::{ISSUER, TestServices};

use crate::{Site, Web};

pub(crate) struct TestWeb {
    pub services: TestServices,
    pub web: Web,
}

impl std::ops::Deref for TestWeb {
    type Target = services::Services;
    fn deref(&self) -> &services::Services {
        &self.services
    }
}

impl TestWeb {
    pub async fn new() -> Self {
        let services = TestServices::new().await;
        let site = Site::new(ISSUER, &crate::ServerConfig::default());
        let web = Web::new(&services, site).unwrap();
        Self { services, web }
    }
}
