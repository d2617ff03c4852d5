//! Profiles: a picture (an object in storage, referred to by its key) and up to five links
//! (one per line) beside the display name and bio every account already has.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(ColumnDef::new(Users::AvatarKey).string_len(128).null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(ColumnDef::new(Users::Links).text().not_null().default(""))
                    .to_owned(),
            )
            .await?;
        // Pictures are served by key; the key must name a current picture.
        manager
            .create_index(
                Index::create()
                    .name("users_avatar_key")
                    .table(Users::Table)
                    .col(Users::AvatarKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("users_avatar_key")
                    .table(Users::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Users::AvatarKey, Users::Links] {
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

#[derive(DeriveIden)]
enum Users {
    Table,
    AvatarKey,
    Links,
}
