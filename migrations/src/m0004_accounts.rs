//! Accounts beyond log-in: organizations (rows of `users` with kind `org`, so users and
//! organizations share one namespace and models keep one owner column), memberships, API
//! tokens, single-use e-mailed tokens, the e-mail outbox and the audit log.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(string_len(Users::Kind, 8).default("user"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(timestamp_with_time_zone_null(Users::EmailVerifiedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .col(big_integer(Memberships::OrgId))
                    .col(big_integer(Memberships::UserId))
                    .col(string_len(Memberships::Role, 8))
                    .col(timestamp_with_time_zone(Memberships::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(Memberships::OrgId)
                            .col(Memberships::UserId),
                    )
                    .foreign_key(&mut cascade(Memberships::Table, Memberships::OrgId))
                    .foreign_key(&mut cascade(Memberships::Table, Memberships::UserId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "memberships_user",
            Memberships::Table,
            Memberships::UserId,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(big_integer(ApiTokens::Id).primary_key().auto_increment())
                    .col(big_integer(ApiTokens::UserId))
                    .col(string_len(ApiTokens::Name, 64))
                    // SHA-256 of the secret; the secret itself is shown once and never stored.
                    .col(char_len(ApiTokens::TokenHash, 64).unique_key())
                    .col(string_len(ApiTokens::Scope, 8))
                    .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                    .foreign_key(&mut cascade(ApiTokens::Table, ApiTokens::UserId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "api_tokens_user",
            ApiTokens::Table,
            ApiTokens::UserId,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(MailTokens::Table)
                    .col(char_len(MailTokens::TokenHash, 64).primary_key())
                    .col(big_integer(MailTokens::UserId))
                    .col(string_len(MailTokens::Purpose, 16))
                    .col(timestamp_with_time_zone(MailTokens::CreatedAt))
                    .col(timestamp_with_time_zone(MailTokens::ExpiresAt))
                    .foreign_key(&mut cascade(MailTokens::Table, MailTokens::UserId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "mail_tokens_user",
            MailTokens::Table,
            MailTokens::UserId,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .col(big_integer(Outbox::Id).primary_key().auto_increment())
                    .col(string_len(Outbox::Recipient, 254))
                    .col(string_len(Outbox::Subject, 200))
                    .col(text(Outbox::Body))
                    .col(timestamp_with_time_zone(Outbox::CreatedAt))
                    .col(timestamp_with_time_zone_null(Outbox::SentAt))
                    .col(text_null(Outbox::Error))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(big_integer(AuditLog::Id).primary_key().auto_increment())
                    .col(timestamp_with_time_zone(AuditLog::At))
                    // No foreign key: the record outlives the accounts it mentions.
                    .col(big_integer_null(AuditLog::ActorId))
                    .col(string_len(AuditLog::ActorName, 64))
                    .col(string_len(AuditLog::Action, 32))
                    .col(string_len(AuditLog::Subject, 200))
                    .col(string_len(AuditLog::Ip, 64))
                    .to_owned(),
            )
            .await?;
        index(manager, "audit_log_at", AuditLog::Table, AuditLog::At).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditLog::Table.into_iden(),
            Outbox::Table.into_iden(),
            MailTokens::Table.into_iden(),
            ApiTokens::Table.into_iden(),
            Memberships::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for column in [Users::EmailVerifiedAt, Users::Kind] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// A reference to `users.id` whose rows go when the user goes.
fn cascade(table: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    let table = table.into_iden();
    ForeignKey::create()
        .from(table, column)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    column: impl IntoIden,
) -> Result<(), DbErr> {
    manager
        .create_index(
            Index::create()
                .name(name)
                .table(table)
                .col(column)
                .to_owned(),
        )
        .await
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Kind,
    EmailVerifiedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    OrgId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    UserId,
    Name,
    TokenHash,
    Scope,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum MailTokens {
    Table,
    TokenHash,
    UserId,
    Purpose,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    Recipient,
    Subject,
    Body,
    CreatedAt,
    SentAt,
    Error,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    ActorId,
    ActorName,
    Action,
    Subject,
    Ip,
}
