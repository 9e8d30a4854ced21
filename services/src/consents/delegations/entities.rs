//! The table owned by `consents::delegations`.

pub mod event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "delegation_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub delegation_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        pub kind: String,
        pub delegator_id: String,
        pub delegate_id: Option<String>,
        pub invitation_hash: Option<String>,
        pub event: Json,
        #[sea_orm(column_type = "Text", nullable)]
        pub receipt: Option<String>,
        pub time_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
