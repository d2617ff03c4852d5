//! The catalog's core: users, models, their versions and files, and license offers.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_auto(Users::Id).big_integer())
                    .col(string_len(Users::Username, 64))
                    // NFKC + lowercase form of `username`: uniqueness is case-insensitive.
                    .col(string_len_uniq(Users::UsernameKey, 64))
                    .col(string_len_null(Users::Email, 254))
                    .col(string_len(Users::DisplayName, 100))
                    .col(text(Users::Bio).default(""))
                    .col(string_null(Users::PasswordHash))
                    .col(boolean(Users::IsPublisher).default(false))
                    .col(boolean(Users::IsAdmin).default(false))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Models::Table)
                    .col(pk_auto(Models::Id).big_integer())
                    .col(big_integer(Models::OwnerId))
                    .col(string_len(Models::Slug, 96))
                    .col(string_len(Models::Name, 120))
                    .col(string_len(Models::Summary, 300).default(""))
                    .col(string_len(Models::Task, 64))
                    .col(json(Models::Tags))
                    .col(text(Models::Card))
                    .col(boolean(Models::IsPublished).default(false))
                    .col(big_integer(Models::Downloads).default(0))
                    .col(timestamp_with_time_zone(Models::CreatedAt))
                    .col(timestamp_with_time_zone(Models::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Models::Table, Models::OwnerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("models_owner_slug")
                    .table(Models::Table)
                    .col(Models::OwnerId)
                    .col(Models::Slug)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ModelVersions::Table)
                    .col(pk_auto(ModelVersions::Id).big_integer())
                    .col(big_integer(ModelVersions::ModelId))
                    .col(string_len(ModelVersions::Version, 64))
                    .col(text(ModelVersions::Changelog).default(""))
                    .col(timestamp_with_time_zone_null(ModelVersions::PublishedAt))
                    .col(timestamp_with_time_zone(ModelVersions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ModelVersions::Table, ModelVersions::ModelId)
                            .to(Models::Table, Models::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("model_versions_model_version")
                    .table(ModelVersions::Table)
                    .col(ModelVersions::ModelId)
                    .col(ModelVersions::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Files::Table)
                    .col(pk_auto(Files::Id).big_integer())
                    .col(big_integer(Files::VersionId))
                    .col(string_len(Files::Path, 255))
                    .col(string_len_uniq(Files::ObjectKey, 255))
                    .col(big_integer(Files::Size))
                    .col(char_len(Files::Sha256, 64))
                    .col(string_len(Files::Format, 32))
                    .col(json_null(Files::Metadata))
                    .col(boolean(Files::IsDemo).default(false))
                    .col(timestamp_with_time_zone(Files::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Files::Table, Files::VersionId)
                            .to(ModelVersions::Table, ModelVersions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("files_version_path")
                    .table(Files::Table)
                    .col(Files::VersionId)
                    .col(Files::Path)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LicenseOffers::Table)
                    .col(pk_auto(LicenseOffers::Id).big_integer())
                    .col(big_integer(LicenseOffers::ModelId))
                    .col(string_len(LicenseOffers::Kind, 16))
                    .col(string_len_null(LicenseOffers::Spdx, 64))
                    .col(big_integer(LicenseOffers::PriceCents).default(0))
                    .col(char_len(LicenseOffers::Currency, 3).default("usd"))
                    .col(text(LicenseOffers::Terms).default(""))
                    .col(boolean(LicenseOffers::IsActive).default(true))
                    .col(timestamp_with_time_zone(LicenseOffers::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(LicenseOffers::Table, LicenseOffers::ModelId)
                            .to(Models::Table, Models::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LicenseOffers::Table.into_iden(),
            Files::Table.into_iden(),
            ModelVersions::Table.into_iden(),
            Models::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    UsernameKey,
    Email,
    DisplayName,
    Bio,
    PasswordHash,
    IsPublisher,
    IsAdmin,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Models {
    Table,
    Id,
    OwnerId,
    Slug,
    Name,
    Summary,
    Task,
    Tags,
    Card,
    IsPublished,
    Downloads,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ModelVersions {
    Table,
    Id,
    ModelId,
    Version,
    Changelog,
    PublishedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Files {
    Table,
    Id,
    VersionId,
    Path,
    ObjectKey,
    Size,
    Sha256,
    Format,
    Metadata,
    IsDemo,
    CreatedAt,
}

#[derive(DeriveIden)]
enum LicenseOffers {
    Table,
    Id,
    ModelId,
    Kind,
    Spdx,
    PriceCents,
    Currency,
    Terms,
    IsActive,
    CreatedAt,
}
