//! Publishers' payouts: a connected Express account per publisher (onboarded on the
//! provider's pages), which each sale's destination charge pays into, less the platform fee.
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::entities::{payout_account, user};
use crate::error::DomainResult;
use crate::state::AppState;

/// Where a publisher's payouts stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayoutState {
    /// No payout account: sales go to the platform's own balance.
    NotSetUp,
    /// Onboarding is not finished at the provider.
    Pending,
    /// Sales pay out to the publisher.
    Active,
}

/// Starts (or resumes) onboarding for `publisher`; returns the provider's onboarding page.
pub async fn start(state: &AppState, publisher: &user::Model) -> DomainResult<String> {
    let provider = state.payments.provider()?;
    let account_id = match find(state, publisher).await? {
        Some(row) => row.provider_account_id,
        None => {
            let id = provider
                .create_payout_account(
                    publisher.email.as_deref(),
                    &format!("payout-{}", publisher.id),
                )
                .await?;
            payout_account::Entity::insert(payout_account::ActiveModel {
                account_id: Set(publisher.id),
                provider: Set(provider.name().to_owned()),
                provider_account_id: Set(id),
                charges_enabled: Set(false),
                created_at: Set(Utc::now()),
            })
            .on_conflict(
                OnConflict::columns([
                    payout_account::Column::AccountId,
                    payout_account::Column::Provider,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&state.db)
            .await?;
            find(state, publisher)
                .await?
                .map(|row| row.provider_account_id)
                .unwrap_or_default()
        }
    };
    let back = format!("{}/sales?payouts=returned", state.public_url);
    let again = format!("{}/sales", state.public_url);
    Ok(provider
        .payout_onboarding_link(&account_id, &again, &back)
        .await?)
}

/// Where `publisher`'s payouts stand, asking the provider while onboarding is unfinished.
pub async fn status(state: &AppState, publisher: &user::Model) -> DomainResult<PayoutState> {
    let Some(row) = find(state, publisher).await? else {
        return Ok(PayoutState::NotSetUp);
    };
    if row.charges_enabled {
        return Ok(PayoutState::Active);
    }
    let Some(provider) = state.payments.provider.as_ref() else {
        return Ok(PayoutState::Pending);
    };
    let account = provider.payout_account(&row.provider_account_id).await?;
    if !account.charges_enabled {
        return Ok(PayoutState::Pending);
    }
    payout_account::Entity::update_many()
        .col_expr(payout_account::Column::ChargesEnabled, true.into())
        .filter(payout_account::Column::AccountId.eq(publisher.id))
        .filter(payout_account::Column::Provider.eq(provider.name()))
        .exec(&state.db)
        .await?;
    Ok(PayoutState::Active)
}

async fn find(
    state: &AppState,
    publisher: &user::Model,
) -> DomainResult<Option<payout_account::Model>> {
    let Some(provider) = state.payments.provider.as_ref() else {
        return Ok(None);
    };
    Ok(payout_account::Entity::find()
        .filter(payout_account::Column::AccountId.eq(publisher.id))
        .filter(payout_account::Column::Provider.eq(provider.name()))
        .one(&state.db)
        .await?)
}
