//! The keys license keys are signed with, kept in the database so that every instance signs
//! with the same one. The unique generation lets instances starting (or rotating) at the same
//! moment agree on one newest key.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LicenseSigningKeys::Table)
                    .col(string_len(LicenseSigningKeys::Kid, 64).primary_key())
                    .col(big_integer_uniq(LicenseSigningKeys::Generation))
                    .col(string_len(LicenseSigningKeys::Algorithm, 16))
                    .col(blob(LicenseSigningKeys::PublicKey))
                    // Null once the key is retired: it never signs again.
                    .col(blob_null(LicenseSigningKeys::PrivateKey))
                    .col(boolean(LicenseSigningKeys::PrivateKeyEncrypted))
                    .col(timestamp_with_time_zone(LicenseSigningKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(LicenseSigningKeys::RetiredAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LicenseSigningKeys::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum LicenseSigningKeys {
    Table,
    Kid,
    Generation,
    Algorithm,
    PublicKey,
    PrivateKey,
    PrivateKeyEncrypted,
    CreatedAt,
    RetiredAt,
}
