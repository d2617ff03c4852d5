//! Licensing and payments: the terms each offer sells, orders opened with a payment provider,
//! the licenses they grant (one per paid checkout session, by a unique key), gated-access
//! requests, the raw webhook events (deduplicated by id), the provider's customers and payout
//! accounts, the test-mode provider's objects, and the leases that keep each periodic job to
//! one instance.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for column in [
            // `individual` or `organization`: who a priced license is for.
            ColumnDef::new(LicenseOffers::Seat)
                .string_len(16)
                .not_null()
                .default("individual")
                .to_owned(),
            // One-time offers: `published` (the versions out at purchase) or `major` (every
            // version below the next major).
            ColumnDef::new(LicenseOffers::Covers)
                .string_len(16)
                .null()
                .to_owned(),
            // Subscriptions: `month` or `year`.
            ColumnDef::new(LicenseOffers::BillingInterval)
                .string_len(8)
                .null()
                .to_owned(),
            // Gated offers: whether a request is `instant`ly granted or waits for the publisher.
            ColumnDef::new(LicenseOffers::Approval)
                .string_len(8)
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(LicenseOffers::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }

        // `public`, `unlisted` (reachable by link, absent from the catalog) or `private` (the
        // owner's organization only).
        manager
            .alter_table(
                Table::alter()
                    .table(Models::Table)
                    .add_column(
                        ColumnDef::new(Models::Visibility)
                            .string_len(16)
                            .not_null()
                            .default("public"),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Orders::Table)
                    .col(pk_auto(Orders::Id).big_integer())
                    // Who paid, and whose license it is (the same account, or their organization).
                    .col(big_integer(Orders::BuyerId))
                    .col(big_integer(Orders::LicenseeId))
                    .col(big_integer(Orders::ModelId))
                    .col(big_integer(Orders::OfferId))
                    .col(string_len(Orders::Provider, 16))
                    .col(big_integer(Orders::AmountMinor))
                    .col(char_len(Orders::Currency, 3))
                    .col(big_integer(Orders::PlatformFeeMinor).default(0))
                    .col(string_len_null(Orders::CheckoutSessionId, 255).unique_key())
                    .col(string_len_null(Orders::PaymentIntent, 255))
                    .col(string_len_null(Orders::SubscriptionId, 255))
                    .col(string_len(Orders::Status, 16))
                    // The provider's time (Unix seconds) of the newest refund or dispute event
                    // applied, so an older one delivered late changes nothing.
                    .col(big_integer(Orders::StatusEventAt).default(0))
                    .col(timestamp_with_time_zone(Orders::CreatedAt))
                    .col(timestamp_with_time_zone(Orders::UpdatedAt))
                    .foreign_key(&mut to_user(Orders::Table, Orders::BuyerId))
                    .foreign_key(&mut to_user(Orders::Table, Orders::LicenseeId))
                    .foreign_key(&mut to_model(Orders::Table, Orders::ModelId))
                    .foreign_key(&mut to_offer(Orders::Table, Orders::OfferId))
                    .to_owned(),
            )
            .await?;
        index(manager, "orders_model", Orders::Table, &[Orders::ModelId]).await?;
        index(manager, "orders_buyer", Orders::Table, &[Orders::BuyerId]).await?;

        manager
            .create_table(
                Table::create()
                    .table(Licenses::Table)
                    .col(pk_auto(Licenses::Id).big_integer())
                    .col(big_integer(Licenses::LicenseeId))
                    .col(big_integer(Licenses::ModelId))
                    .col(big_integer(Licenses::OfferId))
                    .col(big_integer_null(Licenses::OrderId))
                    // The offer's kind when granted: later edits to the offer change nothing here.
                    .col(string_len(Licenses::Kind, 16))
                    // What makes a paid grant happen once, however often its events arrive.
                    .col(string_len_null(Licenses::CheckoutSessionId, 255).unique_key())
                    .col(string_len_null(Licenses::SubscriptionId, 255))
                    .col(string_len(Licenses::Status, 16))
                    // Versions covered: those published up to this time, and/or those below
                    // this SemVer bound; neither means every version.
                    .col(timestamp_with_time_zone_null(
                        Licenses::CoversPublishedUntil,
                    ))
                    .col(string_len_null(Licenses::CoversBelow, 64))
                    .col(char_len(Licenses::TermsSha256, 64))
                    .col(big_integer(Licenses::GrantedTo))
                    .col(text(Licenses::LicenseKey))
                    .col(timestamp_with_time_zone(Licenses::IssuedAt))
                    .col(timestamp_with_time_zone_null(Licenses::ExpiresAt))
                    .col(timestamp_with_time_zone(Licenses::UpdatedAt))
                    .foreign_key(&mut to_user(Licenses::Table, Licenses::LicenseeId))
                    .foreign_key(&mut to_user(Licenses::Table, Licenses::GrantedTo))
                    .foreign_key(&mut to_model(Licenses::Table, Licenses::ModelId))
                    .foreign_key(&mut to_offer(Licenses::Table, Licenses::OfferId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "licenses_licensee_model",
            Licenses::Table,
            &[Licenses::LicenseeId, Licenses::ModelId],
        )
        .await?;
        index(
            manager,
            "licenses_subscription",
            Licenses::Table,
            &[Licenses::SubscriptionId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(AccessRequests::Table)
                    .col(pk_auto(AccessRequests::Id).big_integer())
                    .col(big_integer(AccessRequests::ModelId))
                    .col(big_integer(AccessRequests::OfferId))
                    .col(big_integer(AccessRequests::RequesterId))
                    .col(big_integer(AccessRequests::LicenseeId))
                    .col(char_len(AccessRequests::TermsSha256, 64))
                    .col(string_len(AccessRequests::Status, 16))
                    .col(timestamp_with_time_zone(AccessRequests::CreatedAt))
                    .col(timestamp_with_time_zone_null(AccessRequests::DecidedAt))
                    .col(big_integer_null(AccessRequests::DecidedBy))
                    .foreign_key(&mut to_user(
                        AccessRequests::Table,
                        AccessRequests::RequesterId,
                    ))
                    .foreign_key(&mut to_user(
                        AccessRequests::Table,
                        AccessRequests::LicenseeId,
                    ))
                    .foreign_key(&mut to_model(
                        AccessRequests::Table,
                        AccessRequests::ModelId,
                    ))
                    .foreign_key(&mut to_offer(
                        AccessRequests::Table,
                        AccessRequests::OfferId,
                    ))
                    .to_owned(),
            )
            .await?;
        // One request per licensee and offer; asking again reopens it.
        manager
            .create_index(
                Index::create()
                    .name("access_requests_offer_licensee")
                    .table(AccessRequests::Table)
                    .col(AccessRequests::OfferId)
                    .col(AccessRequests::LicenseeId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookEvents::Table)
                    .col(string_len(WebhookEvents::Id, 255).primary_key())
                    .col(string_len(WebhookEvents::Provider, 16))
                    .col(string_len(WebhookEvents::EventType, 64))
                    // The verified body as received, before any parsing.
                    .col(text(WebhookEvents::Body))
                    .col(timestamp_with_time_zone(WebhookEvents::ReceivedAt))
                    .col(timestamp_with_time_zone_null(WebhookEvents::ProcessedAt))
                    .col(text_null(WebhookEvents::LastError))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PaymentCustomers::Table)
                    .col(big_integer(PaymentCustomers::AccountId))
                    .col(string_len(PaymentCustomers::Provider, 16))
                    .col(string_len(PaymentCustomers::CustomerId, 255))
                    .col(timestamp_with_time_zone(PaymentCustomers::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(PaymentCustomers::AccountId)
                            .col(PaymentCustomers::Provider),
                    )
                    .foreign_key(&mut to_user(
                        PaymentCustomers::Table,
                        PaymentCustomers::AccountId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PayoutAccounts::Table)
                    .col(big_integer(PayoutAccounts::AccountId))
                    .col(string_len(PayoutAccounts::Provider, 16))
                    .col(string_len(PayoutAccounts::ProviderAccountId, 255))
                    .col(boolean(PayoutAccounts::ChargesEnabled).default(false))
                    .col(timestamp_with_time_zone(PayoutAccounts::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(PayoutAccounts::AccountId)
                            .col(PayoutAccounts::Provider),
                    )
                    .foreign_key(&mut to_user(
                        PayoutAccounts::Table,
                        PayoutAccounts::AccountId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TestPaymentObjects::Table)
                    .col(string_len(TestPaymentObjects::Id, 255).primary_key())
                    .col(string_len(TestPaymentObjects::Object, 32))
                    .col(text(TestPaymentObjects::Body))
                    .col(big_integer(TestPaymentObjects::Created))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "test_payment_objects_object_created",
            TestPaymentObjects::Table,
            &[TestPaymentObjects::Object, TestPaymentObjects::Created],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(JobLeases::Table)
                    .col(string_len(JobLeases::Name, 64).primary_key())
                    .col(timestamp_with_time_zone(JobLeases::LeasedUntil))
                    .col(string_len(JobLeases::LeasedBy, 64))
                    .col(timestamp_with_time_zone_null(JobLeases::LastFinishedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            JobLeases::Table.into_iden(),
            TestPaymentObjects::Table.into_iden(),
            PayoutAccounts::Table.into_iden(),
            PaymentCustomers::Table.into_iden(),
            WebhookEvents::Table.into_iden(),
            AccessRequests::Table.into_iden(),
            Licenses::Table.into_iden(),
            Orders::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Models::Table)
                    .drop_column(Models::Visibility)
                    .to_owned(),
            )
            .await?;
        for column in [
            LicenseOffers::Seat,
            LicenseOffers::Covers,
            LicenseOffers::BillingInterval,
            LicenseOffers::Approval,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(LicenseOffers::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

async fn index<T: IntoIden + Copy, C: IntoIden + Copy>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    columns: &[C],
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for &column in columns {
        index.col(column);
    }
    manager.create_index(index.to_owned()).await
}

/// Orders, licenses and requests outlive nothing they refer to: an account's go with it.
fn to_user<T: IntoIden + Copy, C: IntoIden + Copy>(
    table: T,
    column: C,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn to_model<T: IntoIden + Copy, C: IntoIden + Copy>(
    table: T,
    column: C,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Models::Table, Models::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn to_offer<T: IntoIden + Copy, C: IntoIden + Copy>(
    table: T,
    column: C,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(LicenseOffers::Table, LicenseOffers::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[derive(DeriveIden, Clone, Copy)]
enum LicenseOffers {
    Table,
    Id,
    Seat,
    Covers,
    BillingInterval,
    Approval,
}

#[derive(DeriveIden, Clone, Copy)]
enum Orders {
    Table,
    Id,
    BuyerId,
    LicenseeId,
    ModelId,
    OfferId,
    Provider,
    AmountMinor,
    Currency,
    PlatformFeeMinor,
    CheckoutSessionId,
    PaymentIntent,
    SubscriptionId,
    Status,
    StatusEventAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Licenses {
    Table,
    Id,
    LicenseeId,
    ModelId,
    OfferId,
    OrderId,
    Kind,
    CheckoutSessionId,
    SubscriptionId,
    Status,
    CoversPublishedUntil,
    CoversBelow,
    TermsSha256,
    GrantedTo,
    LicenseKey,
    IssuedAt,
    ExpiresAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AccessRequests {
    Table,
    Id,
    ModelId,
    OfferId,
    RequesterId,
    LicenseeId,
    TermsSha256,
    Status,
    CreatedAt,
    DecidedAt,
    DecidedBy,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookEvents {
    Table,
    Id,
    Provider,
    EventType,
    Body,
    ReceivedAt,
    ProcessedAt,
    LastError,
}

#[derive(DeriveIden, Clone, Copy)]
enum PaymentCustomers {
    Table,
    AccountId,
    Provider,
    CustomerId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum PayoutAccounts {
    Table,
    AccountId,
    Provider,
    ProviderAccountId,
    ChargesEnabled,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum TestPaymentObjects {
    Table,
    Id,
    Object,
    Body,
    Created,
}

#[derive(DeriveIden, Clone, Copy)]
enum JobLeases {
    Table,
    Name,
    LeasedUntil,
    LeasedBy,
    LastFinishedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Models {
    Table,
    Id,
    Visibility,
}
