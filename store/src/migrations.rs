//! Every schema change, in order. Append-only: a released migration is never edited; a new change is
//! a new file. Each has a `down` that undoes exactly its `up` (tests run both on SQLite and
//! PostgreSQL).

use sea_orm_migration::prelude::*;

mod m20261126_000001_create_citizens;
mod m20261126_000002_create_citizen_keys;
mod m20261126_000003_create_attribute_values;
mod m20261126_000004_create_departments;
mod m20261126_000005_create_department_clients;
mod m20261126_000006_create_sessions;
mod m20261126_000007_create_pairwise_subjects;
mod m20261126_000008_create_client_assertion_jtis;
mod m20261126_000009_create_audit_records;
mod m20261126_000010_create_audit_nodes;
mod m20261126_000011_create_audit_head;
mod m20261126_000012_create_audit_checkpoints;
mod m20261126_000013_create_consents;
mod m20261126_000014_create_consent_events;
mod m20261126_000100_create_signin_requests;
mod m20261126_000101_create_identity_links;
mod m20261126_000102_create_signin_claim_notices;
mod m20261126_000103_create_officer_sessions;
mod m20261126_000200_create_consent_receipts;
mod m20261126_000500_create_relay_changes;
mod m20261126_000501_create_relay_deliveries;
mod m20261127_000201_index_consents_for_release;
mod m20261204_000100_add_relay_changes_ended;
mod m20261204_000101_index_relay_deliveries_by_consent;
mod m20261204_000102_index_relay_deliveries_by_citizen;
mod m20261204_000300_add_departments_pull_source;
mod m20261204_000301_create_relay_pull_sources;
mod m20261204_000700_create_audit_queue;
mod m20261204_000701_create_audit_integrator;
mod m20261204_000702_create_registry_version;
mod m20261205_000800_index_audit_records_by_seq;
mod m20261206_001000_create_provider_requests;
mod m20261206_001001_create_provider_interactions;
mod m20261206_001002_create_provider_grants;
mod m20261206_001003_create_dpop_proofs;
mod m20261206_001400_add_department_clients_redirect_uris;
mod m20261206_001401_add_department_clients_post_logout_redirect_uris;
mod m20261206_001402_add_department_clients_backchannel_logout_uri;
mod m20261206_001500_create_notice_reads;
mod m20261207_001500_create_audit_cosignatures;
mod m20261208_001600_create_digest_preferences;
mod m20261208_001601_create_digest_passes;
mod m20261208_001602_create_digests;
mod m20261209_001700_create_delegation_events;
mod m20261209_001701_add_sessions_acting_for;
mod m20261209_001702_add_relay_changes_delegate_id;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_citizens::Migration),
            Box::new(m20261126_000002_create_citizen_keys::Migration),
            Box::new(m20261126_000003_create_attribute_values::Migration),
            Box::new(m20261126_000004_create_departments::Migration),
            Box::new(m20261126_000005_create_department_clients::Migration),
            Box::new(m20261126_000006_create_sessions::Migration),
            Box::new(m20261126_000007_create_pairwise_subjects::Migration),
            Box::new(m20261126_000008_create_client_assertion_jtis::Migration),
            Box::new(m20261126_000009_create_audit_records::Migration),
            Box::new(m20261126_000010_create_audit_nodes::Migration),
            Box::new(m20261126_000011_create_audit_head::Migration),
            Box::new(m20261126_000012_create_audit_checkpoints::Migration),
            Box::new(m20261126_000013_create_consents::Migration),
            Box::new(m20261126_000014_create_consent_events::Migration),
            Box::new(m20261126_000100_create_signin_requests::Migration),
            Box::new(m20261126_000101_create_identity_links::Migration),
            Box::new(m20261126_000102_create_signin_claim_notices::Migration),
            Box::new(m20261126_000103_create_officer_sessions::Migration),
            Box::new(m20261126_000200_create_consent_receipts::Migration),
            Box::new(m20261126_000500_create_relay_changes::Migration),
            Box::new(m20261126_000501_create_relay_deliveries::Migration),
            // Added after the relay's: applied in this order.
            Box::new(m20261127_000201_index_consents_for_release::Migration),
            Box::new(m20261204_000100_add_relay_changes_ended::Migration),
            Box::new(m20261204_000101_index_relay_deliveries_by_consent::Migration),
            Box::new(m20261204_000102_index_relay_deliveries_by_citizen::Migration),
            Box::new(m20261204_000300_add_departments_pull_source::Migration),
            Box::new(m20261204_000301_create_relay_pull_sources::Migration),
            Box::new(m20261204_000700_create_audit_queue::Migration),
            Box::new(m20261204_000701_create_audit_integrator::Migration),
            Box::new(m20261204_000702_create_registry_version::Migration),
            Box::new(m20261205_000800_index_audit_records_by_seq::Migration),
            Box::new(m20261206_001000_create_provider_requests::Migration),
            Box::new(m20261206_001001_create_provider_interactions::Migration),
            Box::new(m20261206_001002_create_provider_grants::Migration),
            Box::new(m20261206_001003_create_dpop_proofs::Migration),
            Box::new(m20261206_001400_add_department_clients_redirect_uris::Migration),
            Box::new(m20261206_001401_add_department_clients_post_logout_redirect_uris::Migration),
            Box::new(m20261206_001402_add_department_clients_backchannel_logout_uri::Migration),
            Box::new(m20261206_001500_create_notice_reads::Migration),
            Box::new(m20261207_001500_create_audit_cosignatures::Migration),
            Box::new(m20261208_001600_create_digest_preferences::Migration),
            Box::new(m20261208_001601_create_digest_passes::Migration),
            Box::new(m20261208_001602_create_digests::Migration),
            Box::new(m20261209_001700_create_delegation_events::Migration),
            Box::new(m20261209_001701_add_sessions_acting_for::Migration),
            Box::new(m20261209_001702_add_relay_changes_delegate_id::Migration),
        ]
    }
}

/// Shorthand for the index names every migration writes.
pub(crate) fn index_name(table: &str, columns: &[&str]) -> String {
    format!("idx_{table}_{}", columns.join("_"))
}
