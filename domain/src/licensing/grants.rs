//! Granting licenses and changing their status. A paid grant is keyed by its checkout session
//! under a unique constraint, so however many deliveries race, one license exists per session.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::entities::{license, license_offer, model_version};
use crate::error::{DomainError, DomainResult};
use crate::licensing::offers::{Covers, OfferTerms};
use crate::licensing::LicenseStatus;
use crate::state::AppState;

/// A license to create.
#[derive(Debug, Clone)]
pub struct NewGrant<'a> {
    pub offer: &'a license_offer::Model,
    pub licensee_id: i64,
    /// Who bought or accepted it.
    pub granted_to: i64,
    pub order_id: Option<i64>,
    pub checkout_session_id: Option<&'a str>,
    pub subscription_id: Option<&'a str>,
    /// A subscription's paid period end.
    pub expires_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

/// Creates the license unless one exists for the same checkout session; returns the license
/// either way. Run it inside the transaction that records the payment.
pub async fn grant(
    state: &AppState,
    db: &impl ConnectionTrait,
    new: NewGrant<'_>,
) -> DomainResult<license::Model> {
    let (covers_published_until, covers_below) = match OfferTerms::of(new.offer) {
        Some(OfferTerms::OneTime {
            covers: Covers::Published,
            ..
        }) => (Some(new.now), None),
        Some(OfferTerms::OneTime {
            covers: Covers::UntilNextMajor,
            ..
        }) => (None, Some(next_major(db, new.offer.model_id).await?)),
        _ => (None, None),
    };
    let row = license::ActiveModel {
        licensee_id: Set(new.licensee_id),
        model_id: Set(new.offer.model_id),
        offer_id: Set(new.offer.id),
        order_id: Set(new.order_id),
        kind: Set(new.offer.kind.clone()),
        checkout_session_id: Set(new.checkout_session_id.map(str::to_owned)),
        subscription_id: Set(new.subscription_id.map(str::to_owned)),
        status: Set(LicenseStatus::Active.as_str().to_owned()),
        covers_published_until: Set(covers_published_until),
        covers_below: Set(covers_below),
        terms_sha256: Set(crate::licensing::offers::terms_sha256(&new.offer.terms)),
        granted_to: Set(new.granted_to),
        license_key: Set(String::new()),
        issued_at: Set(new.now),
        expires_at: Set(new.expires_at),
        updated_at: Set(new.now),
        ..Default::default()
    };
    let inserted = match new.checkout_session_id {
        Some(session) => {
            let done = license::Entity::insert(row)
                .on_conflict(
                    OnConflict::column(license::Column::CheckoutSessionId)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(db)
                .await?;
            let license = license::Entity::find()
                .filter(license::Column::CheckoutSessionId.eq(session))
                .one(db)
                .await?
                .ok_or_else(|| DomainError::Internal("a granted license vanished".into()))?;
            if done == 0 {
                return Ok(license); // granted by an earlier delivery
            }
            license
        }
        None => row.insert(db).await?,
    };
    sign(state, db, inserted).await
}

/// Gives the new license its signed key.
async fn sign(
    state: &AppState,
    db: &impl ConnectionTrait,
    license: license::Model,
) -> DomainResult<license::Model> {
    let key = crate::licensing::license_key(state, db, &license).await?;
    let mut row: license::ActiveModel = license.into();
    row.license_key = Set(key);
    Ok(row.update(db).await?)
}

/// The first version number of the next major after the listing's newest SemVer version.
async fn next_major(db: &impl ConnectionTrait, model_id: i64) -> DomainResult<String> {
    let newest = model_version::Entity::find()
        .filter(model_version::Column::ModelId.eq(model_id))
        .filter(model_version::Column::PublishedAt.is_not_null())
        .order_by_desc(model_version::Column::PublishedAt)
        .all(db)
        .await?
        .iter()
        .filter_map(|v| semver::Version::parse(&v.version).ok())
        .max()
        .unwrap_or_else(|| semver::Version::new(0, 0, 0));
    Ok(semver::Version::new(newest.major + 1, 0, 0).to_string())
}

/// Sets the status (and, when given, the expiry) of every license matching `filter`;
/// returns how many changed.
pub async fn set_status(
    db: &impl ConnectionTrait,
    filter: LicenseFilter<'_>,
    status: LicenseStatus,
    expires_at: Option<Option<DateTime<Utc>>>,
) -> DomainResult<u64> {
    let mut update = license::Entity::update_many()
        .col_expr(license::Column::Status, status.as_str().into())
        .col_expr(license::Column::UpdatedAt, Utc::now().into());
    if let Some(expires_at) = expires_at {
        update = update.col_expr(license::Column::ExpiresAt, expires_at.into());
    }
    let update = match filter {
        LicenseFilter::Order(id) => update.filter(license::Column::OrderId.eq(id)),
        LicenseFilter::Subscription(id) => update.filter(license::Column::SubscriptionId.eq(id)),
        LicenseFilter::Id(id) => update.filter(license::Column::Id.eq(id)),
    };
    Ok(update.exec(db).await?.rows_affected)
}

#[derive(Debug, Clone, Copy)]
pub enum LicenseFilter<'a> {
    Order(i64),
    Subscription(&'a str),
    Id(i64),
}

/// How long past a renewing subscription's period end access lasts while the renewal's
/// events are on their way.
const RENEWAL_GRACE: chrono::Duration = chrono::Duration::days(2);

/// Makes the licenses of `subscription` follow its state at the provider: access while the
/// provider says it grants access, until the period end (with a grace for a renewal).
pub async fn apply_subscription(
    db: &impl ConnectionTrait,
    license_id: i64,
    subscription: &crate::payments::provider::Subscription,
) -> DomainResult<()> {
    let (status, expires_at) = subscription_access(subscription);
    set_status(db, LicenseFilter::Id(license_id), status, Some(expires_at)).await?;
    Ok(())
}

/// The same, for every license of the subscription; returns how many there are.
pub async fn follow_subscription(
    db: &impl ConnectionTrait,
    subscription: &crate::payments::provider::Subscription,
) -> DomainResult<u64> {
    let (status, expires_at) = subscription_access(subscription);
    set_status(
        db,
        LicenseFilter::Subscription(&subscription.id),
        status,
        Some(expires_at),
    )
    .await
}

fn subscription_access(
    subscription: &crate::payments::provider::Subscription,
) -> (LicenseStatus, Option<DateTime<Utc>>) {
    let period_end = subscription
        .current_period_end
        .and_then(crate::payments::orders::unix_time);
    if !subscription.status.grants_access() {
        return (LicenseStatus::Lapsed, period_end);
    }
    let expires_at = match (period_end, subscription.cancel_at_period_end) {
        (Some(end), true) => Some(end),
        (Some(end), false) => Some(end + RENEWAL_GRACE),
        (None, _) => None,
    };
    (LicenseStatus::Active, expires_at)
}
