//! The public catalog.
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::error::respond;
use crate::error::AppError;
use crate::wire::{ModelDetail, ModelSummary, PublisherProfile};

#[server(endpoint = "list_models")]
pub async fn list_models(
    query: Option<String>,
    task: Option<String>,
) -> Result<Vec<ModelSummary>, AppError> {
    let state = expect_context::<domain::AppState>();
    let query = domain::catalog::CatalogQuery { text: query, task };
    let listings = respond(domain::catalog::list(&state.db, &query).await)?;
    Ok(listings.into_iter().map(to_wire::summary).collect())
}

#[server(endpoint = "get_model")]
pub async fn get_model(owner: String, slug: String) -> Result<Option<ModelDetail>, AppError> {
    let state = expect_context::<domain::AppState>();
    let Some(detail) = respond(domain::catalog::model_detail(&state.db, &owner, &slug).await)?
    else {
        return Ok(None);
    };
    let viewer = super::request::caller().map(|caller| caller.user);
    let listing = &detail.listing;
    let rights = match domain::downloads::Rights::load(
        &state.db,
        viewer.as_ref(),
        &listing.owner,
        &listing.model,
    )
    .await
    {
        Err(domain::DomainError::NotFound(_)) => return Ok(None),
        rights => respond(rights)?,
    };
    let offers = respond(
        domain::licensing::choices::for_viewer(&state, viewer.as_ref(), &listing.model, &rights)
            .await,
    )?;
    Ok(Some(to_wire::detail(detail, &rights, offers)))
}

#[server(endpoint = "get_publisher")]
pub async fn get_publisher(username: String) -> Result<Option<PublisherProfile>, AppError> {
    let state = expect_context::<domain::AppState>();
    let publisher = respond(domain::catalog::publisher(&state.db, &username).await)?;
    Ok(publisher.map(to_wire::publisher))
}

/// Domain results to wire types: the browser never sees an entity.
#[cfg(feature = "ssr")]
mod to_wire {
    use domain::catalog::{LicenseKind, Listing};
    use domain::entities::license_offer;

    use crate::wire::*;

    pub fn summary(listing: Listing) -> ModelSummary {
        let Listing {
            model,
            owner,
            offer,
        } = listing;
        ModelSummary {
            owner: owner.username,
            owner_display_name: owner.display_name,
            slug: model.slug,
            name: model.name,
            summary: model.summary,
            task: model.task,
            tags: serde_json::from_value(model.tags).unwrap_or_default(),
            license: offer.map_or(LicenseBadge::Unavailable, badge),
            downloads: model.downloads,
        }
    }

    fn badge(offer: license_offer::Model) -> LicenseBadge {
        let license_offer::Model {
            kind,
            spdx,
            price_cents,
            currency,
            ..
        } = offer;
        match LicenseKind::parse(&kind) {
            Some(LicenseKind::Open) => LicenseBadge::Open { spdx },
            Some(LicenseKind::Gated) => LicenseBadge::Gated,
            Some(LicenseKind::Paid) => LicenseBadge::Paid {
                price_cents,
                currency,
            },
            Some(LicenseKind::Subscription) => LicenseBadge::Subscription {
                price_cents,
                currency,
            },
            None => LicenseBadge::Unavailable,
        }
    }

    pub fn detail(
        detail: domain::catalog::ModelDetail,
        rights: &domain::downloads::Rights,
        offers: Vec<domain::licensing::choices::ViewerOffer>,
    ) -> ModelDetail {
        let card = detail.listing.model.card.clone();
        let owner = detail.listing.owner.username.clone();
        let slug = detail.listing.model.slug.clone();
        let listing = detail.listing.model.clone();
        let mut demo_spec = None;
        let (facts, card_html) = match domain::card::parse(&card) {
            Ok(parsed) => {
                let fm = parsed.front_matter;
                demo_spec = fm.demo.clone();
                let facts = CardFacts {
                    license: fm.license,
                    library: fm.library_name,
                    datasets: fm.datasets,
                    languages: fm.language,
                    base_models: fm.base_model,
                };
                (facts, domain::card::render_html(parsed.body))
            }
            // Stored cards were validated on write; show an old malformed one as plain markdown.
            Err(_) => (CardFacts::default(), domain::card::render_html(&card)),
        };
        let demo = demo_spec
            .zip(detail.versions.first())
            .and_then(|(spec, latest)| {
                let named = |path: &str| latest.files.iter().find(|f| f.path == path && f.is_demo);
                let file = named(&spec.file)?;
                let url = |path: &str| download_url(&owner, &slug, &latest.version.version, path);
                // Companions are public with the demo (see `publishing::mark_demo`).
                let companion = |path: Option<&str>| path.and_then(named).map(|f| url(&f.path));
                Some(DemoPanel {
                    url: url(&file.path),
                    sha256: file.sha256.clone(),
                    size: file.size,
                    labels_url: companion(spec.labels.as_deref()),
                    vocab_url: companion(spec.vocab.as_deref()),
                    tokenizer_url: companion(spec.tokenizer.as_deref()),
                    preprocessing: spec.input.and_then(|input| input.preprocessing),
                    task: spec.task,
                })
            });
        ModelDetail {
            summary: summary(detail.listing),
            can_edit: rights.is_publisher,
            demo,
            offers: offers.into_iter().map(offer).collect(),
            card_html,
            facts,
            versions: detail
                .versions
                .into_iter()
                .map(|v| VersionEntry {
                    files: v
                        .files
                        .into_iter()
                        .map(|f| FileEntry {
                            // The download route asks the same question.
                            download_url: rights
                                .file(&listing, &v.version, &f)
                                .allowed()
                                .then(|| download_url(&owner, &slug, &v.version.version, &f.path)),
                            path: f.path,
                            size: f.size,
                            sha256: f.sha256,
                            format: f.format,
                            details: crate::api::publishing::file_details(f.metadata.as_ref()),
                            is_demo: f.is_demo,
                        })
                        .collect(),
                    version: v.version.version,
                    changelog: v.version.changelog,
                    published_on: v
                        .version
                        .published_at
                        .map(|t| t.format("%Y-%m-%d").to_string())
                        .unwrap_or_default(),
                })
                .collect(),
        }
    }

    fn offer(offer: domain::licensing::choices::ViewerOffer) -> OfferEntry {
        use domain::licensing::choices::ViewerAction as A;
        OfferEntry {
            id: offer.offer.id,
            kind: offer.offer.kind.clone(),
            description: offer.description,
            terms_sha256: domain::licensing::offers::terms_sha256(&offer.offer.terms),
            terms: offer.offer.terms,
            action: match offer.action {
                A::Free => OfferAction::Free,
                A::Buy { label } => OfferAction::Buy { label },
                A::RequestAccess => OfferAction::RequestAccess,
                A::Requested => OfferAction::Requested,
                A::Held => OfferAction::Held,
                A::SignIn => OfferAction::SignIn,
                A::Publisher => OfferAction::Publisher,
                A::NotConfigured => OfferAction::NotConfigured,
            },
            orgs: offer.orgs,
        }
    }

    pub fn publisher(publisher: domain::catalog::Publisher) -> PublisherProfile {
        PublisherProfile {
            avatar_url: domain::profiles::picture_url(&publisher.user),
            links: domain::profiles::links(&publisher.user),
            username: publisher.user.username,
            display_name: publisher.user.display_name,
            bio: publisher.user.bio,
            models: publisher.models.into_iter().map(summary).collect(),
        }
    }
}
