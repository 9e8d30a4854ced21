//! Tables owned by `audit_log`.

pub mod record {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_records")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        pub id: String,
        pub entry: Vec<u8>,
        pub leaf_hash: Vec<u8>,
        pub time_ms: i64,
        pub action: String,
        pub outcome: String,
        pub citizen_id: Option<String>,
        pub department_id: Option<String>,
        pub purpose: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod node {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_nodes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub level: i16,
        #[sea_orm(primary_key, auto_increment = false)]
        pub idx: i64,
        pub hash: Vec<u8>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod head {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_head")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i16,
        pub tree_size: i64,
        pub root_hash: Vec<u8>,
        pub frontier: Vec<u8>,
        pub checkpoint_size: i64,
        pub checkpoint_ms: i64,
        pub locked_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod checkpoint {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_checkpoints")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tree_size: i64,
        pub root_hash: Vec<u8>,
        pub time_ms: i64,
        pub jws: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod queue {
    use sea_orm::entity::prelude::*;

    /// A record waiting to be sequenced and integrated (PostgreSQL: see `integrate`).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_queue")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub qid: i64,
        pub id: String,
        /// The canonical encoding with `seq` 0.
        pub entry: Vec<u8>,
        pub queued_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod integrator {
    use sea_orm::entity::prelude::*;

    /// The one lease that says which broker instance integrates the queue.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_integrator")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i16,
        pub owner: String,
        pub lease_until: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod cosignature {
    use sea_orm::entity::prelude::*;

    /// A witness's cosignature of the checkpoint of `tree_size` and `root_hash`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_cosignatures")]
    pub struct Model {
        /// The configured witness's name.
        #[sea_orm(primary_key, auto_increment = false)]
        pub witness: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub tree_size: i64,
        pub root_hash: Vec<u8>,
        /// The C2SP signature line (`— <name> <base64>`), timestamp included.
        pub signature: String,
        /// The cosignature's own timestamp (POSIX seconds).
        pub cosigned_at: i64,
        pub received_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
