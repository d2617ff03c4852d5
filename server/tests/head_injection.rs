//! Names that users control reach every page, its `<title>` and its attributes: whatever they
//! hold, they stay text. Each page type is rendered with hostile names in every field a user
//! can set and checked for markup that escaped.
mod common;

use common::TestApp;
use domain::entities::{model, user};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

/// Closes `<title>` (and a script, were the name serialised into one), then injects an element
/// and a redirect; quotes of both kinds and an ampersand test attribute escaping.
fn hostile(field: &str) -> String {
    format!(
        "{field}</title></script><bz-injected>\"'&amp;<meta http-equiv=\"refresh\" content=\"0;url=/x\">"
    )
}

on_each_database!(user_controlled_names_stay_text_on_every_page);

async fn user_controlled_names_stay_text_on_every_page(app: TestApp) {
    let db = &app.state.db;
    // A seeded publisher and its published model, as every visitor sees them.
    let publisher = domain::catalog::find_user(db, "sklearn-lab")
        .await
        .unwrap()
        .unwrap();
    let mut row: user::ActiveModel = publisher.clone().into();
    row.display_name = Set(hostile("publisher"));
    row.bio = Set(hostile("bio"));
    row.update(db).await.unwrap();
    let listing = model::Entity::find()
        .filter(model::Column::OwnerId.eq(publisher.id))
        .filter(model::Column::Slug.eq("digit-classifier"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut row: model::ActiveModel = listing.into();
    row.name = Set(hostile("model"));
    row.summary = Set(hostile("summary"));
    row.update(db).await.unwrap();

    // A signed-in admin with a hostile organization and listing of their own.
    let cookie = app.sign_up("mallory").await;
    common::make_admin(&app, "mallory").await;
    let mallory = domain::catalog::find_user(db, "mallory")
        .await
        .unwrap()
        .unwrap();
    domain::orgs::create(db, &mallory, "evil-org", &hostile("org"), "127.0.0.1")
        .await
        .unwrap();
    domain::publishing::create_model(
        db,
        domain::publishing::NewModel {
            owner_id: mallory.id,
            slug: "own-model",
            name: &hostile("own"),
            summary: &hostile("own-summary"),
            task: "text-classification",
            tags: &[],
            card: "",
        },
    )
    .await
    .unwrap();

    let query =
        url::form_urlencoded::byte_serialize(hostile("query").as_bytes()).collect::<String>();
    let anonymous: Vec<(String, Option<String>)> = vec![
        ("/".into(), None),
        (format!("/?q={query}"), None),
        ("/sklearn-lab".into(), Some(hostile("publisher"))),
        (
            "/sklearn-lab/digit-classifier".into(),
            Some(hostile("model")),
        ),
        ("/evil-org".into(), Some(hostile("org"))),
        (format!("/no-such-publisher-{query}"), None),
    ];
    let signed_in: Vec<(String, Option<String>)> = vec![
        ("/mallory/own-model".into(), None),
        ("/mallory/own-model/settings".into(), None),
        ("/mallory/own-model/upload".into(), None),
        ("/settings".into(), None),
        ("/settings/sessions".into(), None),
        ("/settings/tokens".into(), None),
        ("/settings/organizations".into(), None),
        (
            "/settings/organizations/evil-org".into(),
            Some(hostile("org")),
        ),
        ("/new".into(), None),
        ("/admin/audit".into(), None),
        ("/admin/outbox".into(), None),
        ("/admin/deleted".into(), None),
    ];
    let pages = anonymous.into_iter().map(|page| (page, None)).chain(
        signed_in
            .into_iter()
            .map(|page| (page, Some(cookie.as_str()))),
    );
    for ((path, title), cookie) in pages {
        let mut request = app
            .client
            .get(app.url(&path))
            .header(http::header::USER_AGENT, hostile("agent"));
        if let Some(cookie) = cookie {
            request = request.header(http::header::COOKIE, cookie);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        assert!(status == 200 || status == 404, "{path}: {status}");
        let html = response.text().await.unwrap();
        assert_stays_text(&path, &html);
        if let Some(title) = title {
            assert_eq!(
                document_title(&html),
                format!("{title} · Bazaar"),
                "{path}: the title shows the name as it was typed"
            );
        }
    }
}

/// No injected element, redirect or closed-early title anywhere in the page.
fn assert_stays_text(path: &str, html: &str) {
    let lower = html.to_ascii_lowercase();
    assert!(
        !lower.contains("<bz-injected"),
        "{path}: an element escaped"
    );
    assert!(
        !lower.contains("<meta http-equiv"),
        "{path}: a meta refresh escaped"
    );
    assert_eq!(lower.matches("<title").count(), 1, "{path}: one <title>");
    assert_eq!(lower.matches("</title>").count(), 1, "{path}: one </title>");
}

/// The text of the page's `<title>`, as a browser reads it.
fn document_title(html: &str) -> String {
    let start = html.find("<title>").expect("a <title>") + "<title>".len();
    let end = start + html[start..].find("</title>").expect("a </title>");
    html_escape::decode_html_entities(&html[start..end]).into_owned()
}
