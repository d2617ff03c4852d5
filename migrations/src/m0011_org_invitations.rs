//! Invitations to organizations: a person joins only by accepting one, so nobody is put in
//! an organization (and shown as its member) without agreeing to it.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrgInvitations::Table)
                    .col(big_integer(OrgInvitations::OrgId))
                    // The person invited.
                    .col(big_integer(OrgInvitations::UserId))
                    // The role they get on accepting.
                    .col(string_len(OrgInvitations::Role, 8))
                    .col(big_integer(OrgInvitations::InvitedBy))
                    .col(timestamp_with_time_zone(OrgInvitations::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(OrgInvitations::OrgId)
                            .col(OrgInvitations::UserId),
                    )
                    .foreign_key(&mut cascade(OrgInvitations::OrgId))
                    .foreign_key(&mut cascade(OrgInvitations::UserId))
                    .foreign_key(&mut cascade(OrgInvitations::InvitedBy))
                    .to_owned(),
            )
            .await?;
        // A person's own invitations are listed on their settings page.
        manager
            .create_index(
                Index::create()
                    .name("org_invitations_user")
                    .table(OrgInvitations::Table)
                    .col(OrgInvitations::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OrgInvitations::Table).to_owned())
            .await
    }
}

/// A reference to `users.id` whose rows go when the user goes.
fn cascade(column: OrgInvitations) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(OrgInvitations::Table, column)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[derive(DeriveIden, Clone, Copy)]
enum OrgInvitations {
    Table,
    OrgId,
    UserId,
    Role,
    InvitedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
