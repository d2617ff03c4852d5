//! At most one live e-mailed link per account and purpose (asking again replaces the earlier
//! link, in one statement the database guards), and the audit log says in what capacity its
//! actor acted (user, admin, visitor, CLI, system).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // Only the newest link of each kind stays usable.
        db.execute_unprepared(
            "DELETE FROM mail_tokens WHERE EXISTS (SELECT 1 FROM mail_tokens AS newer \
             WHERE newer.user_id = mail_tokens.user_id AND newer.purpose = mail_tokens.purpose \
             AND (newer.created_at > mail_tokens.created_at OR (newer.created_at = \
             mail_tokens.created_at AND newer.token_hash > mail_tokens.token_hash)))",
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("mail_tokens_user_purpose")
                    .table(MailTokens::Table)
                    .col(MailTokens::UserId)
                    .col(MailTokens::Purpose)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditLog::Table)
                    .add_column(
                        ColumnDef::new(AuditLog::ActorKind)
                            .string_len(16)
                            .not_null()
                            .default("user"),
                    )
                    .to_owned(),
            )
            .await?;
        // Earlier rows: the CLI wrote "operator"/"cli", failed log-ins had no account, and
        // purges were an admin's.
        for update in [
            "UPDATE audit_log SET actor_kind = 'cli' WHERE actor_id IS NULL AND ip = 'cli'",
            "UPDATE audit_log SET actor_kind = 'visitor' WHERE actor_id IS NULL AND ip <> 'cli'",
            "UPDATE audit_log SET actor_kind = 'admin' WHERE action = 'listing_purge'",
        ] {
            db.execute_unprepared(update).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AuditLog::Table)
                    .drop_column(AuditLog::ActorKind)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("mail_tokens_user_purpose")
                    .table(MailTokens::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum MailTokens {
    Table,
    UserId,
    Purpose,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    ActorKind,
}
