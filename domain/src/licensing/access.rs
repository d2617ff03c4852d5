//! Gated models: a person accepts the publisher's terms (recorded with who, when and the
//! terms' SHA-256) and is granted access at once or when the publisher approves; each side is
//! told by e-mail.
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait};

use crate::downloads::Rights;
use crate::entities::{access_request, license, license_offer, model, user};
use crate::error::{DomainError, DomainResult};
use crate::licensing::grants::{self, NewGrant};
use crate::licensing::offers::{terms_sha256, Approval, OfferTerms};
use crate::mail::Mail;
use crate::orgs::{can_publish_as, Role};
use crate::state::AppState;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    Pending,
    Approved,
    Denied,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
        }
    }
}

/// Asks for access under the gated offer `offer_id`, for `requester` or the organization
/// `for_org` they administer. `accepted_terms` is the SHA-256 of the terms the page showed:
/// if the publisher changed them since, the requester must read them again.
pub async fn request(
    state: &AppState,
    requester: &user::Model,
    offer_id: i64,
    for_org: Option<&str>,
    accepted_terms: &str,
) -> DomainResult<RequestStatus> {
    let offer = active_offer(state, offer_id).await?;
    let Some(OfferTerms::Gated { approval }) = OfferTerms::of(&offer) else {
        return Err(DomainError::invalid(
            "offer",
            "this offer is not a gated one",
        ));
    };
    let (owner, listing) = owner_and_listing(state, offer.model_id).await?;
    let rights = Rights::load(&state.db, Some(requester), &owner, &listing).await?;
    if rights.is_publisher {
        return Err(DomainError::Conflict(
            "you publish this model: its files are already yours".into(),
        ));
    }
    if accepted_terms.trim() != terms_sha256(&offer.terms) {
        return Err(DomainError::invalid(
            "terms",
            "the terms changed since the page was loaded: read them again and accept them",
        ));
    }
    let licensee = match for_org.map(str::trim).filter(|s| !s.is_empty()) {
        None => requester.clone(),
        Some(name) => {
            let org = crate::orgs::find(&state.db, name).await?;
            match crate::orgs::role_of(&state.db, org.id, requester.id).await? {
                Some(role) if role >= Role::Admin => org,
                _ => {
                    return Err(DomainError::invalid(
                        "org",
                        format!("only an owner or admin of {name} can accept terms for it"),
                    ))
                }
            }
        }
    };
    if rights
        .licenses()
        .iter()
        .any(|l| l.offer_id == offer.id && l.licensee_id == licensee.id)
    {
        return Err(DomainError::Conflict(format!(
            "{} already has access",
            licensee.username
        )));
    }
    let now = Utc::now();
    let status = match approval {
        Approval::Instant => RequestStatus::Approved,
        Approval::Manual => RequestStatus::Pending,
    };
    let txn = state.db.begin().await?;
    access_request::Entity::insert(access_request::ActiveModel {
        model_id: Set(listing.id),
        offer_id: Set(offer.id),
        requester_id: Set(requester.id),
        licensee_id: Set(licensee.id),
        terms_sha256: Set(terms_sha256(&offer.terms)),
        status: Set(status.as_str().to_owned()),
        created_at: Set(now),
        decided_at: Set((status == RequestStatus::Approved).then_some(now)),
        decided_by: Set(None),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            access_request::Column::OfferId,
            access_request::Column::LicenseeId,
        ])
        .update_columns([
            access_request::Column::RequesterId,
            access_request::Column::TermsSha256,
            access_request::Column::Status,
            access_request::Column::CreatedAt,
            access_request::Column::DecidedAt,
            access_request::Column::DecidedBy,
        ])
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if status == RequestStatus::Approved {
        grant_access(state, &txn, &offer, licensee.id, requester.id).await?;
    }
    txn.commit().await?;
    if status == RequestStatus::Pending {
        tell_publishers(state, &owner, &listing, requester, &licensee).await?;
    }
    Ok(status)
}

/// The publisher approves or denies a pending request; the requester is told.
pub async fn decide(
    state: &AppState,
    publisher: &user::Model,
    request_id: i64,
    approve: bool,
) -> DomainResult<()> {
    let request = access_request::Entity::find_by_id(request_id)
        .one(&state.db)
        .await?
        .ok_or(DomainError::NotFound("request"))?;
    let (owner, listing) = owner_and_listing(state, request.model_id).await?;
    if !can_publish_as(&state.db, publisher, &owner).await? {
        return Err(DomainError::NotFound("request"));
    }
    if request.status != RequestStatus::Pending.as_str() {
        return Err(DomainError::Conflict(format!(
            "this request was already {}",
            request.status
        )));
    }
    let offer = license_offer::Entity::find_by_id(request.offer_id)
        .one(&state.db)
        .await?
        .ok_or(DomainError::NotFound("offer"))?;
    let status = if approve {
        RequestStatus::Approved
    } else {
        RequestStatus::Denied
    };
    let txn = state.db.begin().await?;
    let changed = access_request::Entity::update_many()
        .col_expr(access_request::Column::Status, status.as_str().into())
        .col_expr(access_request::Column::DecidedAt, Some(Utc::now()).into())
        .col_expr(access_request::Column::DecidedBy, Some(publisher.id).into())
        .filter(access_request::Column::Id.eq(request.id))
        .filter(access_request::Column::Status.eq(RequestStatus::Pending.as_str()))
        .exec(&txn)
        .await?
        .rows_affected;
    if changed == 0 {
        return Err(DomainError::Conflict(
            "this request was decided meanwhile".into(),
        ));
    }
    if approve {
        grant_access(
            state,
            &txn,
            &offer,
            request.licensee_id,
            request.requester_id,
        )
        .await?;
    }
    txn.commit().await?;
    if let Some(requester) = user::Entity::find_by_id(request.requester_id)
        .one(&state.db)
        .await?
    {
        if let Some(email) = requester.email.as_deref() {
            let at = format!("{}/{}", owner.username, listing.slug);
            let (subject, line) = if approve {
                (
                    format!("Access to {at} granted"),
                    format!("You may now download {at}: {}/{at}", state.public_url),
                )
            } else {
                (
                    format!("Access to {at} declined"),
                    format!("The publisher of {at} declined your request."),
                )
            };
            let body = format!("Hello {},\n\n{line}\n", requester.username);
            state
                .mailer
                .send(&state.db, Mail::new(email, &subject, body))
                .await?;
        }
    }
    Ok(())
}

/// A pending request as the publisher's queue shows it.
#[derive(Debug, Clone)]
pub struct PendingRequest {
    pub request: access_request::Model,
    /// `owner/slug`.
    pub model: String,
    pub requester: String,
    pub licensee: String,
}

/// The pending requests for every model `publisher` may publish, oldest first.
pub async fn queue(state: &AppState, publisher: &user::Model) -> DomainResult<Vec<PendingRequest>> {
    let pending = access_request::Entity::find()
        .filter(access_request::Column::Status.eq(RequestStatus::Pending.as_str()))
        .order_by_asc(access_request::Column::CreatedAt)
        .all(&state.db)
        .await?;
    let mut shown = Vec::new();
    for request in pending {
        let Ok((owner, listing)) = owner_and_listing(state, request.model_id).await else {
            continue;
        };
        if !can_publish_as(&state.db, publisher, &owner).await? {
            continue;
        }
        let name = |id: i64| async move {
            user::Entity::find_by_id(id)
                .one(&state.db)
                .await
                .map(|u| u.map_or_else(String::new, |u| u.username))
        };
        shown.push(PendingRequest {
            model: format!("{}/{}", owner.username, listing.slug),
            requester: name(request.requester_id).await?,
            licensee: name(request.licensee_id).await?,
            request,
        });
    }
    Ok(shown)
}

async fn grant_access(
    state: &AppState,
    txn: &impl sea_orm::ConnectionTrait,
    offer: &license_offer::Model,
    licensee_id: i64,
    requester_id: i64,
) -> DomainResult<license::Model> {
    grants::grant(
        state,
        txn,
        NewGrant {
            offer,
            licensee_id,
            granted_to: requester_id,
            order_id: None,
            checkout_session_id: None,
            subscription_id: None,
            expires_at: None,
            now: Utc::now(),
        },
    )
    .await
}

async fn active_offer(state: &AppState, offer_id: i64) -> DomainResult<license_offer::Model> {
    license_offer::Entity::find_by_id(offer_id)
        .filter(license_offer::Column::IsActive.eq(true))
        .one(&state.db)
        .await?
        .ok_or(DomainError::NotFound("offer"))
}

async fn owner_and_listing(
    state: &AppState,
    model_id: i64,
) -> DomainResult<(user::Model, model::Model)> {
    let listing = crate::publishing::find_model(&state.db, model_id).await?;
    if listing.deleted_at.is_some() {
        return Err(DomainError::NotFound("model"));
    }
    let owner = user::Entity::find_by_id(listing.owner_id)
        .one(&state.db)
        .await?
        .ok_or(DomainError::NotFound("model"))?;
    Ok((owner, listing))
}

/// E-mails the people who may decide: the owner, or an organization's owners and admins.
async fn tell_publishers(
    state: &AppState,
    owner: &user::Model,
    listing: &model::Model,
    requester: &user::Model,
    licensee: &user::Model,
) -> DomainResult<()> {
    let deciders: Vec<user::Model> = if owner.is_org() {
        crate::orgs::members(&state.db, owner.id)
            .await?
            .into_iter()
            .filter(|(_, role)| *role >= Role::Admin)
            .map(|(member, _)| member)
            .collect()
    } else {
        vec![owner.clone()]
    };
    let at = format!("{}/{}", owner.username, listing.slug);
    let on_behalf = if licensee.id == requester.id {
        String::new()
    } else {
        format!(" for the organization {}", licensee.username)
    };
    for decider in deciders {
        let Some(email) = decider.email.as_deref() else {
            continue;
        };
        let body = format!(
            "Hello {},\n\n{} accepted the terms of {at}{on_behalf} and asks to download it.\n\n\
             Approve or decline at {}/access-requests\n",
            decider.username, requester.username, state.public_url
        );
        let subject = format!("{} asks for access to {at}", requester.username);
        state
            .mailer
            .send(&state.db, Mail::new(email, &subject, body))
            .await?;
    }
    Ok(())
}
