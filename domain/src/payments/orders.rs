//! Buying: an order per purchase, a checkout session for it at the provider, and the one
//! idempotent `fulfil_checkout` that the webhook, the success page and reconciliation share.
use chrono::{DateTime, TimeZone, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionTrait,
};

use crate::catalog::LicenseKind;
use crate::downloads::Rights;
use crate::entities::{license_offer, order, payment_customer, payout_account, user};
use crate::error::{DomainError, DomainResult};
use crate::licensing::grants::{self, NewGrant};
use crate::licensing::offers::{OfferTerms, Seat};
use crate::orgs::Role;
use crate::payments::provider::{
    CheckoutMode, CheckoutSession, NewCheckout, NewCustomer, PaymentStatus, Payout,
};
use crate::state::AppState;

/// Where an order stands, as the provider last reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    /// A checkout session is open; nothing paid yet.
    Open,
    /// Completed, with a payment still on its way (a bank debit, say).
    Pending,
    Paid,
    Failed,
    Refunded,
    Disputed,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Failed => "failed",
            Self::Refunded => "refunded",
            Self::Disputed => "disputed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Open,
            Self::Pending,
            Self::Paid,
            Self::Failed,
            Self::Refunded,
            Self::Disputed,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

/// Opens a checkout for `offer_id`, bought by `buyer` for themselves or, for an organization
/// seat, for the organization `for_org` they administer. Returns the provider's payment page.
pub async fn start_checkout(
    state: &AppState,
    buyer: &user::Model,
    offer_id: i64,
    for_org: Option<&str>,
) -> DomainResult<String> {
    let provider = state.payments.provider()?.clone();
    let offer = license_offer::Entity::find_by_id(offer_id)
        .filter(license_offer::Column::IsActive.eq(true))
        .one(&state.db)
        .await?
        .ok_or(DomainError::NotFound("offer"))?;
    let listing = crate::publishing::find_model(&state.db, offer.model_id).await?;
    let owner = user::Entity::find_by_id(listing.owner_id)
        .one(&state.db)
        .await?
        .ok_or(DomainError::NotFound("model"))?;
    let rights = Rights::load(&state.db, Some(buyer), &owner, &listing).await?;
    if rights.is_publisher {
        return Err(DomainError::Conflict(
            "you publish this model: its files are already yours".into(),
        ));
    }
    let terms = OfferTerms::of(&offer)
        .ok_or_else(|| DomainError::Internal(format!("offer {} is malformed", offer.id)))?;
    let (mode, price) = match &terms {
        OfferTerms::OneTime { price, .. } => (CheckoutMode::Payment, *price),
        OfferTerms::Subscription {
            price, interval, ..
        } => (
            CheckoutMode::Subscription {
                interval: *interval,
            },
            *price,
        ),
        _ => {
            return Err(DomainError::invalid(
                "offer",
                "this offer is free: it needs no checkout",
            ))
        }
    };
    let licensee = licensee_for(state, buyer, terms.seat(), for_org).await?;
    let held = rights
        .licenses()
        .iter()
        .any(|l| l.offer_id == offer.id && l.licensee_id == licensee.id);
    if held {
        return Err(DomainError::Conflict(format!(
            "{} already holds this license: see your licenses",
            licensee.username
        )));
    }
    let customer_id = customer_of(state, &licensee).await?;
    let payout = payout_account::Entity::find()
        .filter(payout_account::Column::AccountId.eq(owner.id))
        .filter(payout_account::Column::Provider.eq(provider.name()))
        .filter(payout_account::Column::ChargesEnabled.eq(true))
        .one(&state.db)
        .await?;
    let fee_minor = payout
        .as_ref()
        .map_or(0, |_| state.payments.fee_minor(price.amount_minor));
    let now = Utc::now();
    let order = order::ActiveModel {
        buyer_id: Set(buyer.id),
        licensee_id: Set(licensee.id),
        model_id: Set(listing.id),
        offer_id: Set(offer.id),
        provider: Set(provider.name().to_owned()),
        amount_minor: Set(price.amount_minor),
        currency: Set(price.currency.code.to_owned()),
        platform_fee_minor: Set(fee_minor),
        status: Set(OrderStatus::Open.as_str().to_owned()),
        status_event_at: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&state.db)
    .await?;
    let product_name = format!("{}/{} — {}", owner.username, listing.slug, terms.in_words());
    let success_url = format!(
        "{}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}",
        state.public_url
    );
    let cancel_url = format!("{}/{}/{}", state.public_url, owner.username, listing.slug);
    let session = provider
        .create_checkout(&NewCheckout {
            order_id: order.id,
            mode,
            customer_id: &customer_id,
            product_name: &product_name,
            amount_minor: price.amount_minor,
            currency: price.currency.code,
            success_url: &success_url,
            cancel_url: &cancel_url,
            payout: payout.as_ref().map(|account| Payout {
                destination: &account.provider_account_id,
                fee_minor,
                fee_percent: f64::from(state.payments.platform_fee_bps) / 100.0,
            }),
        })
        .await?;
    let url = session
        .url
        .clone()
        .ok_or_else(|| DomainError::Internal("the checkout session has no address".into()))?;
    let mut row: order::ActiveModel = order.into();
    row.checkout_session_id = Set(Some(session.id));
    row.update(&state.db).await?;
    Ok(url)
}

/// Whose license a purchase makes: the buyer's, or an organization's they administer.
async fn licensee_for(
    state: &AppState,
    buyer: &user::Model,
    seat: Seat,
    for_org: Option<&str>,
) -> DomainResult<user::Model> {
    match (seat, for_org.map(str::trim).filter(|s| !s.is_empty())) {
        (Seat::Individual, None) => Ok(buyer.clone()),
        (Seat::Individual, Some(_)) => Err(DomainError::invalid(
            "org",
            "this license is for one person; choose the organization license to buy for a team",
        )),
        (Seat::Organization, None) => Err(DomainError::invalid(
            "org",
            "choose the organization this license is for",
        )),
        (Seat::Organization, Some(name)) => {
            let org = crate::orgs::find(&state.db, name).await?;
            match crate::orgs::role_of(&state.db, org.id, buyer.id).await? {
                Some(role) if role >= Role::Admin => Ok(org),
                _ => Err(DomainError::invalid(
                    "org",
                    format!("only an owner or admin of {name} can buy licenses for it"),
                )),
            }
        }
    }
}

/// The provider's customer for `account`, created on first use. Concurrent first purchases
/// may both create one at the provider; the first stored wins and is used from then on.
async fn customer_of(state: &AppState, account: &user::Model) -> DomainResult<String> {
    let provider = state.payments.provider()?;
    let find = || {
        payment_customer::Entity::find()
            .filter(payment_customer::Column::AccountId.eq(account.id))
            .filter(payment_customer::Column::Provider.eq(provider.name()))
            .one(&state.db)
    };
    if let Some(row) = find().await? {
        return Ok(row.customer_id);
    }
    let customer_id = provider
        .create_customer(&NewCustomer {
            account_id: account.id,
            name: &account.username,
            email: account.email.as_deref(),
        })
        .await?;
    payment_customer::Entity::insert(payment_customer::ActiveModel {
        account_id: Set(account.id),
        provider: Set(provider.name().to_owned()),
        customer_id: Set(customer_id),
        created_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::columns([
            payment_customer::Column::AccountId,
            payment_customer::Column::Provider,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&state.db)
    .await?;
    Ok(find()
        .await?
        .ok_or_else(|| DomainError::Internal("a stored customer vanished".into()))?
        .customer_id)
}

/// The buyer's return from the provider's payment page: re-reads the session and fulfils it
/// at once, so the license shows before the webhook arrives. Returns the order.
pub async fn confirm_checkout(state: &AppState, session_id: &str) -> DomainResult<order::Model> {
    let order = order::Entity::find()
        .filter(order::Column::CheckoutSessionId.eq(session_id))
        .one(&state.db)
        .await?
        .ok_or(DomainError::NotFound("order"))?;
    let session = state
        .payments
        .provider()?
        .checkout_session(session_id)
        .await?;
    fulfil_checkout(state, &session).await?;
    Ok(order::Entity::find_by_id(order.id)
        .one(&state.db)
        .await?
        .unwrap_or(order))
}

/// What fulfilling a session did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fulfilment {
    /// The session is not one of Bazaar's orders (another application on the same account).
    NotOurs,
    /// Not paid yet: the order waits.
    Waiting,
    /// Paid: the license exists (granted now or by an earlier delivery).
    Granted,
}

/// Grants the license for a completed, paid session, once however often it is called.
pub async fn fulfil_checkout(
    state: &AppState,
    session: &CheckoutSession,
) -> DomainResult<Fulfilment> {
    let Some(order) = find_order(state, session).await? else {
        return Ok(Fulfilment::NotOurs);
    };
    let paid = matches!(
        session.payment_status,
        PaymentStatus::Paid | PaymentStatus::NoPaymentRequired
    ) && session.status == crate::payments::provider::SessionStatus::Complete;
    if !paid {
        if session.status == crate::payments::provider::SessionStatus::Complete {
            set_order_status(
                &state.db,
                order.id,
                OrderStatus::Pending,
                &[OrderStatus::Open],
            )
            .await?;
        }
        return Ok(Fulfilment::Waiting);
    }
    let offer = license_offer::Entity::find_by_id(order.offer_id)
        .one(&state.db)
        .await?
        .ok_or(DomainError::NotFound("offer"))?;
    // A subscription's access follows its state at the provider, read now.
    let subscription = match &session.subscription {
        Some(id) if offer.kind == LicenseKind::Subscription.as_str() => {
            Some(state.payments.provider()?.subscription(id).await?)
        }
        _ => None,
    };
    let txn = state.db.begin().await?;
    let mut row: order::ActiveModel = order.clone().into();
    if matches!(
        OrderStatus::parse(&order.status),
        Some(OrderStatus::Open | OrderStatus::Pending | OrderStatus::Failed)
    ) {
        row.status = Set(OrderStatus::Paid.as_str().to_owned());
    }
    row.checkout_session_id = Set(Some(session.id.clone()));
    row.payment_intent = Set(session
        .payment_intent
        .clone()
        .or(order.payment_intent.clone()));
    row.subscription_id = Set(session
        .subscription
        .clone()
        .or(order.subscription_id.clone()));
    row.updated_at = Set(Utc::now());
    row.update(&txn).await?;
    let license = grants::grant(
        state,
        &txn,
        NewGrant {
            offer: &offer,
            licensee_id: order.licensee_id,
            granted_to: order.buyer_id,
            order_id: Some(order.id),
            checkout_session_id: Some(&session.id),
            subscription_id: session.subscription.as_deref(),
            expires_at: subscription
                .as_ref()
                .and_then(|s| s.current_period_end)
                .and_then(unix_time),
            now: Utc::now(),
        },
    )
    .await?;
    if let Some(subscription) = &subscription {
        grants::apply_subscription(&txn, license.id, subscription).await?;
    }
    txn.commit().await?;
    Ok(Fulfilment::Granted)
}

/// The order a session belongs to: by the id in its metadata, which must agree with the
/// session the order opened.
async fn find_order(
    state: &AppState,
    session: &CheckoutSession,
) -> DomainResult<Option<order::Model>> {
    let Some(order_id) = session.order_id else {
        return Ok(None);
    };
    let order = order::Entity::find_by_id(order_id).one(&state.db).await?;
    Ok(order.filter(|o| {
        o.checkout_session_id.is_none() || o.checkout_session_id.as_deref() == Some(&session.id)
    }))
}

/// Moves an order to `status` if it is in one of `from`.
pub async fn set_order_status(
    db: &impl ConnectionTrait,
    order_id: i64,
    status: OrderStatus,
    from: &[OrderStatus],
) -> DomainResult<u64> {
    Ok(order::Entity::update_many()
        .col_expr(order::Column::Status, status.as_str().into())
        .col_expr(order::Column::UpdatedAt, Utc::now().into())
        .filter(order::Column::Id.eq(order_id))
        .filter(order::Column::Status.is_in(from.iter().map(|s| s.as_str())))
        .exec(db)
        .await?
        .rows_affected)
}

pub fn unix_time(seconds: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(seconds, 0).single()
}

/// An order as the administrators' orders page lists it.
#[derive(Debug, Clone)]
pub struct OrderLine {
    pub order: order::Model,
    pub buyer: String,
    /// `owner/slug`.
    pub model: String,
}

/// The newest orders, for site administrators.
pub async fn recent(
    state: &AppState,
    admin: &user::Model,
    limit: u64,
) -> DomainResult<Vec<OrderLine>> {
    use sea_orm::{QueryOrder, QuerySelect};
    require_admin(admin)?;
    let orders = order::Entity::find()
        .order_by_desc(order::Column::Id)
        .limit(limit)
        .all(&state.db)
        .await?;
    let mut lines = Vec::with_capacity(orders.len());
    for order in orders {
        let name = |id: i64| async move {
            user::Entity::find_by_id(id)
                .one(&state.db)
                .await
                .map(|u| u.map_or_else(String::new, |u| u.username))
        };
        let listing = crate::publishing::find_model(&state.db, order.model_id)
            .await
            .ok();
        let model = match listing {
            Some(listing) => format!("{}/{}", name(listing.owner_id).await?, listing.slug),
            None => String::new(),
        };
        lines.push(OrderLine {
            buyer: name(order.buyer_id).await?,
            model,
            order,
        });
    }
    Ok(lines)
}

/// Refunds a one-time payment in full at the provider (reversing the publisher's transfer and
/// the platform fee) and revokes its license at once; the provider's `charge.refunded` event
/// then changes nothing more.
pub async fn refund(
    state: &AppState,
    admin: &user::Model,
    ip: &str,
    order_id: i64,
) -> DomainResult<()> {
    require_admin(admin)?;
    let order = order::Entity::find_by_id(order_id)
        .one(&state.db)
        .await?
        .ok_or(DomainError::NotFound("order"))?;
    let refundable = matches!(
        OrderStatus::parse(&order.status),
        Some(OrderStatus::Paid | OrderStatus::Disputed)
    );
    let Some(intent) = order.payment_intent.as_deref().filter(|_| refundable) else {
        return Err(DomainError::Conflict(match order.subscription_id {
            Some(_) => {
                "a subscription is cancelled, not refunded here: use the provider's dashboard"
                    .into()
            }
            None => format!(
                "order {} is {}: there is no payment to refund",
                order.id, order.status
            ),
        }));
    };
    state
        .payments
        .provider()?
        .refund(intent, &format!("refund-{}", order.id))
        .await?;
    let txn = state.db.begin().await?;
    set_order_status(
        &txn,
        order.id,
        OrderStatus::Refunded,
        &[OrderStatus::Paid, OrderStatus::Disputed],
    )
    .await?;
    grants::set_status(
        &txn,
        grants::LicenseFilter::Order(order.id),
        crate::licensing::LicenseStatus::Revoked,
        None,
    )
    .await?;
    txn.commit().await?;
    crate::audit::record(
        &state.db,
        crate::audit::Actor::admin(admin, ip),
        crate::audit::Action::OrderRefund,
        &format!("order {}", order.id),
    )
    .await?;
    Ok(())
}

fn require_admin(user: &user::Model) -> DomainResult<()> {
    if user.is_admin {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "only administrators may see and refund orders".into(),
        ))
    }
}
