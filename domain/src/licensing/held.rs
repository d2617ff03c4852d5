//! The licenses a person holds, for "My licenses": their own and their organizations'.
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::{license, license_offer, model, order, payment_customer, user};
use crate::error::{DomainError, DomainResult};
use crate::licensing::offers::{Currency, OfferTerms};
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct HeldLicense {
    pub license: license::Model,
    /// `owner/slug`.
    pub model: String,
    pub licensee: String,
    pub description: String,
    /// What was paid, in words, for a bought license.
    pub paid: Option<String>,
}

/// `user`'s licenses and their organizations', newest first.
pub async fn of(state: &AppState, user: &user::Model) -> DomainResult<Vec<HeldLicense>> {
    let mut licensees = vec![user.clone()];
    licensees.extend(
        crate::orgs::orgs_of(&state.db, user.id)
            .await?
            .into_iter()
            .map(|(org, _)| org),
    );
    let licenses = license::Entity::find()
        .filter(license::Column::LicenseeId.is_in(licensees.iter().map(|l| l.id)))
        .order_by_desc(license::Column::Id)
        .all(&state.db)
        .await?;
    let mut held = Vec::with_capacity(licenses.len());
    for license in licenses {
        let Some(listing) = model::Entity::find_by_id(license.model_id)
            .one(&state.db)
            .await?
        else {
            continue;
        };
        let owner = user::Entity::find_by_id(listing.owner_id)
            .one(&state.db)
            .await?
            .map_or_else(String::new, |o| o.username);
        let offer = license_offer::Entity::find_by_id(license.offer_id)
            .one(&state.db)
            .await?;
        let paid = match license.order_id {
            Some(id) => order::Entity::find_by_id(id)
                .one(&state.db)
                .await?
                .and_then(|o| {
                    Some(format!(
                        "{} on {}",
                        Currency::parse(&o.currency)?.format(o.amount_minor),
                        o.created_at.format("%Y-%m-%d")
                    ))
                }),
            None => None,
        };
        held.push(HeldLicense {
            model: format!("{owner}/{}", listing.slug),
            licensee: licensees
                .iter()
                .find(|l| l.id == license.licensee_id)
                .map_or_else(String::new, |l| l.username.clone()),
            description: offer
                .as_ref()
                .and_then(OfferTerms::of)
                .map_or_else(|| license.kind.clone(), |t| t.in_words()),
            paid,
            license,
        });
    }
    Ok(held)
}

/// The provider's page where the licensee manages the subscription behind `license_id`.
pub async fn manage_subscription(
    state: &AppState,
    user: &user::Model,
    license_id: i64,
) -> DomainResult<String> {
    let held = of(state, user).await?;
    let license = held
        .iter()
        .map(|h| &h.license)
        .find(|l| l.id == license_id && l.subscription_id.is_some())
        .ok_or(DomainError::NotFound("subscription"))?;
    let provider = state.payments.provider()?;
    let customer = payment_customer::Entity::find()
        .filter(payment_customer::Column::AccountId.eq(license.licensee_id))
        .filter(payment_customer::Column::Provider.eq(provider.name()))
        .one(&state.db)
        .await?
        .ok_or(DomainError::NotFound("subscription"))?;
    let back = format!("{}/licenses", state.public_url);
    Ok(provider
        .billing_portal(&customer.customer_id, &back)
        .await?)
}

/// Where one license stands now.
#[derive(Debug, Clone)]
pub struct Standing {
    pub status: String,
    /// Active and not past its end.
    pub active: bool,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn standing(state: &AppState, license_id: i64) -> DomainResult<Standing> {
    let license = license::Entity::find_by_id(license_id)
        .one(&state.db)
        .await?
        .ok_or(DomainError::NotFound("license"))?;
    let active = license.status == crate::licensing::LicenseStatus::Active.as_str()
        && license
            .expires_at
            .is_none_or(|end| end > chrono::Utc::now());
    Ok(Standing {
        status: license.status,
        active,
        expires_at: license.expires_at,
    })
}
