//! Tables owned by `citizens`.

pub mod citizen {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "citizens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub status: String,
        pub created_at: i64,
        pub deceased_at: Option<i64>,
        pub erased_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod citizen_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "citizen_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub citizen_id: String,
        pub master_key_id: String,
        pub wrapped_key: Vec<u8>,
        pub created_at: i64,
        pub wrapped_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod attribute_value {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "attribute_values")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub citizen_id: String,
        pub attribute: String,
        pub version: i32,
        pub nonce: Vec<u8>,
        pub ciphertext: Vec<u8>,
        pub source_kind: String,
        pub source_id: String,
        pub method: String,
        pub loa: i16,
        pub verified: bool,
        pub recorded_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod pairwise_subject {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pairwise_subjects")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub sector_identifier: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub subject: String,
        pub citizen_id: String,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
