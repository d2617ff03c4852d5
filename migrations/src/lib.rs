//! Schema migrations, applied at start-up and by `bazaar migrate`.
//! Each issue that needs tables adds a new migration; published ones are never edited.
pub use sea_orm_migration::prelude::*;

mod m0001_catalog;
mod m0002_sessions;
mod m0003_rate_limits;
mod m0004_accounts;
mod m0005_uploads;
mod m0006_upload_demo_flag;
mod m0007_login_devices;
mod m0008_upload_quotas_and_frozen_versions;
mod m0009_recovery_and_actors;
mod m0010_profiles;
mod m0011_org_invitations;
mod m0012_licensing;
mod m0013_license_signing_keys;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_catalog::Migration),
            Box::new(m0002_sessions::Migration),
            Box::new(m0003_rate_limits::Migration),
            Box::new(m0004_accounts::Migration),
            Box::new(m0005_uploads::Migration),
            Box::new(m0006_upload_demo_flag::Migration),
            Box::new(m0007_login_devices::Migration),
            Box::new(m0008_upload_quotas_and_frozen_versions::Migration),
            Box::new(m0009_recovery_and_actors::Migration),
            Box::new(m0010_profiles::Migration),
            Box::new(m0011_org_invitations::Migration),
            Box::new(m0012_licensing::Migration),
            Box::new(m0013_license_signing_keys::Migration),
        ]
    }
}
