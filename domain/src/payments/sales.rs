//! What a publisher has sold: sales and revenue per day (for the dashboard's chart), per model
//! and per offer, over the models they may publish.
use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::entities::{license_offer, model, order, user};
use crate::error::DomainResult;
use crate::licensing::offers::OfferTerms;
use crate::orgs::can_publish_as;
use crate::payments::orders::OrderStatus;
use crate::state::AppState;

/// Days the chart covers, today included.
pub const CHART_DAYS: i64 = 30;

#[derive(Debug, Clone, Default)]
pub struct SalesReport {
    /// One entry per day of the chart, oldest first: (day, sales, revenue in minor units of
    /// `currency`).
    pub days: Vec<(NaiveDate, u32, i64)>,
    /// The currency the chart and totals are in: the one most sales were made in.
    pub currency: Option<String>,
    /// `(owner/slug, offer in words, sales, revenue in minor units of its currency, currency)`,
    /// most revenue first.
    pub by_offer: Vec<(String, String, u32, i64, String)>,
    /// Sales refunded or lost to a dispute, not counted above.
    pub refunded: u32,
}

/// The sales of every model `publisher` may publish. A sale counts while it is paid or in
/// dispute; refunded ones are counted apart.
pub async fn report(state: &AppState, publisher: &user::Model) -> DomainResult<SalesReport> {
    // The owners whose models the publisher may publish: themselves and the organizations
    // they administer (a site administrator, every owner).
    let mut owners = vec![publisher.clone()];
    owners.extend(
        crate::orgs::orgs_of(&state.db, publisher.id)
            .await?
            .into_iter()
            .filter(|(_, role)| *role >= crate::orgs::Role::Admin)
            .map(|(org, _)| org),
    );
    let mut select = model::Entity::find();
    if !publisher.is_admin {
        select = select.filter(model::Column::OwnerId.is_in(owners.iter().map(|o| o.id)));
    }
    let mut models: Vec<(model::Model, String)> = Vec::new();
    for listing in select.all(&state.db).await? {
        let owner = match owners.iter().find(|o| o.id == listing.owner_id) {
            Some(owner) => owner.clone(),
            None => match user::Entity::find_by_id(listing.owner_id)
                .one(&state.db)
                .await?
            {
                Some(owner) => owner,
                None => continue,
            },
        };
        if can_publish_as(&state.db, publisher, &owner).await? {
            let at = format!("{}/{}", owner.username, listing.slug);
            models.push((listing, at));
        }
    }
    let ids: Vec<i64> = models.iter().map(|(m, _)| m.id).collect();
    let orders = order::Entity::find()
        .filter(order::Column::ModelId.is_in(ids))
        .filter(order::Column::Status.is_in([
            OrderStatus::Paid.as_str(),
            OrderStatus::Disputed.as_str(),
            OrderStatus::Refunded.as_str(),
        ]))
        .all(&state.db)
        .await?;
    let mut report = SalesReport::default();
    let (sold, refunded): (Vec<_>, Vec<_>) = orders
        .into_iter()
        .partition(|o| o.status != OrderStatus::Refunded.as_str());
    report.refunded = refunded.len() as u32;
    let mut per_currency: BTreeMap<String, u32> = BTreeMap::new();
    for o in &sold {
        *per_currency.entry(o.currency.clone()).or_default() += 1;
    }
    report.currency = per_currency
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(c, _)| c);
    let today = Utc::now().date_naive();
    let first = today - Duration::days(CHART_DAYS - 1);
    let mut days: BTreeMap<NaiveDate, (u32, i64)> = (0..CHART_DAYS)
        .map(|d| (first + Duration::days(d), (0, 0)))
        .collect();
    let mut offers: BTreeMap<(i64, String), (u32, i64)> = BTreeMap::new();
    for o in &sold {
        let day = o.created_at.date_naive();
        if Some(&o.currency) == report.currency.as_ref() {
            if let Some(entry) = days.get_mut(&day) {
                entry.0 += 1;
                entry.1 += o.amount_minor;
            }
        }
        let entry = offers.entry((o.offer_id, o.currency.clone())).or_default();
        entry.0 += 1;
        entry.1 += o.amount_minor;
    }
    report.days = days.into_iter().map(|(d, (n, r))| (d, n, r)).collect();
    for ((offer_id, currency), (count, revenue)) in offers {
        let Some(offer) = license_offer::Entity::find_by_id(offer_id)
            .one(&state.db)
            .await?
        else {
            continue;
        };
        let at = models
            .iter()
            .find(|(m, _)| m.id == offer.model_id)
            .map_or_else(String::new, |(_, at)| at.clone());
        let words = OfferTerms::of(&offer).map_or_else(|| offer.kind.clone(), |t| t.in_words());
        report.by_offer.push((at, words, count, revenue, currency));
    }
    report.by_offer.sort_by_key(|row| std::cmp::Reverse(row.3));
    Ok(report)
}
