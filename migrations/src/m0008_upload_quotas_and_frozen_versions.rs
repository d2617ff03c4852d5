//! Storage quotas per owner, and published versions made immutable in the database itself.
//!
//! `users.storage_quota_bytes` overrides the configured default quota for one owner (a user
//! or an organization); `NULL` means the default. The triggers refuse adding, removing or
//! changing the files of a published version, changing a published version, and deleting a
//! published version on its own. Deleting a whole listing (an admin's purge) still cascades:
//! by the time the cascade reaches a row, its parent is already gone.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
    "CREATE TRIGGER files_of_published_versions_insert BEFORE INSERT ON files
     FOR EACH ROW WHEN EXISTS (
         SELECT 1 FROM model_versions WHERE id = NEW.version_id AND published_at IS NOT NULL)
     BEGIN SELECT RAISE(ABORT, 'version is published and immutable: its files cannot change'); END",
    "CREATE TRIGGER files_of_published_versions_update BEFORE UPDATE ON files
     FOR EACH ROW WHEN EXISTS (
         SELECT 1 FROM model_versions
         WHERE id IN (OLD.version_id, NEW.version_id) AND published_at IS NOT NULL)
     BEGIN SELECT RAISE(ABORT, 'version is published and immutable: its files cannot change'); END",
    "CREATE TRIGGER files_of_published_versions_delete BEFORE DELETE ON files
     FOR EACH ROW WHEN EXISTS (
         SELECT 1 FROM model_versions WHERE id = OLD.version_id AND published_at IS NOT NULL)
     BEGIN SELECT RAISE(ABORT, 'version is published and immutable: its files cannot change'); END",
    "CREATE TRIGGER published_versions_update BEFORE UPDATE ON model_versions
     FOR EACH ROW WHEN OLD.published_at IS NOT NULL
     BEGIN SELECT RAISE(ABORT, 'version is published and immutable'); END",
    "CREATE TRIGGER published_versions_delete BEFORE DELETE ON model_versions
     FOR EACH ROW WHEN OLD.published_at IS NOT NULL
         AND EXISTS (SELECT 1 FROM models WHERE id = OLD.model_id)
     BEGIN SELECT RAISE(ABORT, 'version is published and immutable'); END",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS files_of_published_versions_insert",
    "DROP TRIGGER IF EXISTS files_of_published_versions_update",
    "DROP TRIGGER IF EXISTS files_of_published_versions_delete",
    "DROP TRIGGER IF EXISTS published_versions_update",
    "DROP TRIGGER IF EXISTS published_versions_delete",
];

const POSTGRES_UP: &[&str] = &[
    "CREATE FUNCTION files_of_published_versions() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
         IF TG_OP <> 'INSERT' THEN
             IF EXISTS (SELECT 1 FROM model_versions
                        WHERE id = OLD.version_id AND published_at IS NOT NULL) THEN
                 RAISE EXCEPTION 'version is published and immutable: its files cannot change'
                     USING ERRCODE = 'integrity_constraint_violation';
             END IF;
         END IF;
         IF TG_OP <> 'DELETE' THEN
             IF EXISTS (SELECT 1 FROM model_versions
                        WHERE id = NEW.version_id AND published_at IS NOT NULL) THEN
                 RAISE EXCEPTION 'version is published and immutable: its files cannot change'
                     USING ERRCODE = 'integrity_constraint_violation';
             END IF;
             RETURN NEW;
         END IF;
         RETURN OLD;
     END $$",
    "CREATE TRIGGER files_of_published_versions BEFORE INSERT OR UPDATE OR DELETE ON files
     FOR EACH ROW EXECUTE FUNCTION files_of_published_versions()",
    "CREATE FUNCTION published_versions() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
         IF OLD.published_at IS NOT NULL THEN
             IF TG_OP = 'UPDATE' OR EXISTS (SELECT 1 FROM models WHERE id = OLD.model_id) THEN
                 RAISE EXCEPTION 'version is published and immutable'
                     USING ERRCODE = 'integrity_constraint_violation';
             END IF;
         END IF;
         IF TG_OP = 'DELETE' THEN
             RETURN OLD;
         END IF;
         RETURN NEW;
     END $$",
    "CREATE TRIGGER published_versions BEFORE UPDATE OR DELETE ON model_versions
     FOR EACH ROW EXECUTE FUNCTION published_versions()",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS files_of_published_versions ON files",
    "DROP FUNCTION IF EXISTS files_of_published_versions()",
    "DROP TRIGGER IF EXISTS published_versions ON model_versions",
    "DROP FUNCTION IF EXISTS published_versions()",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(
                        ColumnDef::new(Users::StorageQuotaBytes)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        let statements = match manager.get_database_backend() {
            DatabaseBackend::Postgres => POSTGRES_UP,
            _ => SQLITE_UP,
        };
        for statement in statements {
            manager
                .get_connection()
                .execute_unprepared(statement)
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = match manager.get_database_backend() {
            DatabaseBackend::Postgres => POSTGRES_DOWN,
            _ => SQLITE_DOWN,
        };
        for statement in statements {
            manager
                .get_connection()
                .execute_unprepared(statement)
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::StorageQuotaBytes)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    StorageQuotaBytes,
}
