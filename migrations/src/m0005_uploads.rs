//! Resumable uploads in progress, and soft deletion of listings.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Uploads::Table)
                    .col(char_len(Uploads::Id, 36).primary_key())
                    .col(big_integer(Uploads::VersionId))
                    .col(big_integer(Uploads::UserId))
                    .col(string_len(Uploads::Path, 255))
                    .col(big_integer(Uploads::Size))
                    .col(big_integer(Uploads::Received))
                    .col(char_len_null(Uploads::Sha256, 64))
                    .col(string_len(Uploads::ObjectKey, 255))
                    .col(boolean(Uploads::IsDemo).default(false))
                    .col(timestamp_with_time_zone(Uploads::CreatedAt))
                    .col(timestamp_with_time_zone(Uploads::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Uploads::Table, Uploads::VersionId)
                            .to(ModelVersions::Table, ModelVersions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uploads_version_path")
                    .table(Uploads::Table)
                    .col(Uploads::VersionId)
                    .col(Uploads::Path)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Models::Table)
                    .add_column(timestamp_with_time_zone_null(Models::DeletedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Models::Table)
                    .drop_column(Models::DeletedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Uploads::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Uploads {
    Table,
    Id,
    VersionId,
    UserId,
    Path,
    Size,
    Received,
    Sha256,
    ObjectKey,
    IsDemo,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ModelVersions {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Models {
    Table,
    DeletedAt,
}
