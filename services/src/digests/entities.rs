//! Tables owned by `digests`.

pub mod digest_preference {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "digest_preferences")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub citizen_id: String,
        pub frequency: String,
        pub lang: String,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod digest_pass {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "digest_passes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub period: String,
        pub frequency: String,
        pub from_seq: i64,
        pub up_to_seq: i64,
        pub started_at: i64,
        pub completed_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod digest {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "digests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub citizen_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub period: String,
        pub id: String,
        pub from_seq: i64,
        pub to_seq: i64,
        pub status: String,
        pub attempts: i32,
        pub next_attempt_at: i64,
        pub claimed_at: Option<i64>,
        pub sent_at: Option<i64>,
        pub last_error: Option<String>,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
