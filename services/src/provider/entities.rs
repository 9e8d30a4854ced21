//! Tables owned by `provider`.

pub mod request {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "provider_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub client_id: String,
        pub request: String,
        pub expires_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod interaction {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "provider_interactions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id_hash: String,
        pub client_id: String,
        pub request: String,
        pub sign_in_sent_at: Option<i64>,
        pub consented_at: Option<i64>,
        pub created_at: i64,
        pub expires_at: i64,
        pub ended_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod grant {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "provider_grants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub client_id: String,
        pub department_id: String,
        pub citizen_id: String,
        pub request: String,
        pub consent_id: Option<String>,
        pub acr: String,
        pub auth_time: i64,
        pub sid: String,
        pub session_hash: String,
        pub code_hash: String,
        pub code_expires_at: i64,
        pub code_used_at: Option<i64>,
        pub dpop_jkt: Option<String>,
        pub refresh_hash: Option<String>,
        pub previous_refresh_hash: Option<String>,
        pub refresh_expires_at: Option<i64>,
        pub created_at: i64,
        pub revoked_at: Option<i64>,
        pub revoked_reason: Option<String>,
        pub logged_out_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod dpop_proof {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "dpop_proofs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub replay_key: String,
        pub expires_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
