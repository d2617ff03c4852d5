//! The offers a model page shows one viewer, each with what that viewer can do about it.
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::catalog::LicenseKind;
use crate::downloads::Rights;
use crate::entities::{access_request, license_offer, model, user};
use crate::error::DomainResult;
use crate::licensing::offers::{OfferTerms, Seat};
use crate::orgs::Role;
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct ViewerOffer {
    pub offer: license_offer::Model,
    pub description: String,
    pub action: ViewerAction,
    /// Organizations the viewer may buy an organization license for.
    pub orgs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewerAction {
    Free,
    Buy { label: String },
    RequestAccess,
    Requested,
    Held,
    SignIn,
    Publisher,
    NotConfigured,
}

/// The listing's active offers (open first, then by price), with what `viewer` can do.
pub async fn for_viewer(
    state: &AppState,
    viewer: Option<&user::Model>,
    listing: &model::Model,
    rights: &Rights,
) -> DomainResult<Vec<ViewerOffer>> {
    let mut offers = crate::catalog::active_offers(&state.db, vec![listing.id]).await?;
    offers.sort_by_key(|o| (o.kind != LicenseKind::Open.as_str(), o.price_cents));
    let admin_of: Vec<String> = match viewer {
        Some(viewer) => crate::orgs::orgs_of(&state.db, viewer.id)
            .await?
            .into_iter()
            .filter(|(_, role)| *role >= Role::Admin)
            .map(|(org, _)| org.username)
            .collect(),
        None => Vec::new(),
    };
    let requested: Vec<i64> = match viewer {
        Some(viewer) => access_request::Entity::find()
            .filter(access_request::Column::ModelId.eq(listing.id))
            .filter(access_request::Column::RequesterId.eq(viewer.id))
            .filter(access_request::Column::Status.eq("pending"))
            .all(&state.db)
            .await?
            .into_iter()
            .map(|r| r.offer_id)
            .collect(),
        None => Vec::new(),
    };
    let payments = state.payments.provider.is_some();
    let mut shown = Vec::with_capacity(offers.len());
    for offer in offers {
        let Some(terms) = OfferTerms::of(&offer) else {
            continue; // a row no rule here wrote: not for sale
        };
        let held = rights.licenses().iter().any(|l| l.offer_id == offer.id);
        let action = match (&terms, viewer) {
            (OfferTerms::Open { .. }, _) => ViewerAction::Free,
            _ if rights.is_publisher => ViewerAction::Publisher,
            _ if held => ViewerAction::Held,
            (_, None) => ViewerAction::SignIn,
            (OfferTerms::Gated { .. }, Some(_)) if requested.contains(&offer.id) => {
                ViewerAction::Requested
            }
            (OfferTerms::Gated { .. }, Some(_)) => ViewerAction::RequestAccess,
            _ if !payments => ViewerAction::NotConfigured,
            (OfferTerms::OneTime { price, .. }, Some(_)) => ViewerAction::Buy {
                label: format!("Buy for {}", price.in_words()),
            },
            (
                OfferTerms::Subscription {
                    price, interval, ..
                },
                Some(_),
            ) => ViewerAction::Buy {
                label: format!("Subscribe for {} a {}", price.in_words(), interval.as_str()),
            },
        };
        let orgs = match terms.seat() {
            Seat::Organization => admin_of.clone(),
            Seat::Individual => Vec::new(),
        };
        shown.push(ViewerOffer {
            description: terms.in_words(),
            offer,
            action,
            orgs,
        });
    }
    Ok(shown)
}
