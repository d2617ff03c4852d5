//! Devices that logged in to an account (their cookie lets the owner past the account's
//! log-in limit), and rate-limit keys of any length on PostgreSQL.
use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LoginDevices::Table)
                    // SHA-256 of the cookie's token: a database leak reveals no usable cookie.
                    .col(char_len(LoginDevices::IdHash, 64).primary_key())
                    .col(big_integer(LoginDevices::UserId))
                    .col(timestamp_with_time_zone(LoginDevices::CreatedAt))
                    .col(timestamp_with_time_zone(LoginDevices::LastUsedAt))
                    .col(timestamp_with_time_zone(LoginDevices::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(LoginDevices::Table, LoginDevices::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("login_devices_user")
                    .table(LoginDevices::Table)
                    .col(LoginDevices::UserId)
                    .to_owned(),
            )
            .await?;
        // SQLite never enforced the old varchar(200); PostgreSQL refused longer keys.
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .alter_table(
                    Table::alter()
                        .table(RateLimits::Table)
                        .modify_column(ColumnDef::new(RateLimits::Key).text().not_null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            // Counters are short-lived; the ones that no longer fit are dropped.
            manager
                .get_connection()
                .execute_unprepared("DELETE FROM rate_limits WHERE length(key) > 200")
                .await?;
            manager
                .alter_table(
                    Table::alter()
                        .table(RateLimits::Table)
                        .modify_column(ColumnDef::new(RateLimits::Key).string_len(200).not_null())
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(LoginDevices::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum LoginDevices {
    Table,
    IdHash,
    UserId,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum RateLimits {
    Table,
    Key,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
