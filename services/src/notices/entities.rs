//! Tables owned by `notices`.

pub mod notice_read {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "notice_reads")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub citizen_id: String,
        pub seen_seq: i64,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
