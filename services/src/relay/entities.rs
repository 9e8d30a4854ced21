//! Tables owned by `relay`.

pub mod change {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "relay_changes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub citizen_id: String,
        /// `update`, `move`, `name-change`, `death`, `consent-revoked`.
        pub kind: String,
        /// `[{"name": "address", "version": 3}, …]`: versions, never values.
        pub attributes: Json,
        pub source_kind: String,
        pub source_id: String,
        pub loa: i16,
        /// The audit record of the change.
        pub txn: String,
        /// For a `consent-revoked` change: how the consent ended (`revoked` or `expired`).
        pub ended: Option<String>,
        pub created_at: i64,
        /// The delegate who entered it for the citizen (the SETs' `act`), if one did.
        pub delegate_id: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod delivery {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "relay_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub seq: i64,
        /// The SET's `jti`.
        pub id: String,
        pub change_id: String,
        pub citizen_id: String,
        pub department_id: String,
        /// The event's short name (`move`, `consent-revoked`, …).
        pub event: String,
        pub purpose: Option<String>,
        pub consent_id: Option<String>,
        /// The attribute names this department receives.
        pub attributes: Json,
        /// `pending`, `delivered`, `failed` (dead letter) or `cancelled` (never sent: the
        /// consent ended, the department was disabled, the citizen erased, or policy refused it
        /// at sending time; `last_error` holds the reason code).
        pub status: String,
        pub attempts: i32,
        pub next_attempt_at: i64,
        pub lease_owner: Option<String>,
        pub lease_until: Option<i64>,
        /// A code and a short description, never a value.
        pub last_error: Option<String>,
        pub delivered_at: Option<i64>,
        pub created_at: i64,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
