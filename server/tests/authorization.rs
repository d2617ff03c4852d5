//! The authorization matrix: every server function and REST route, called as anonymous,
//! another user, the resource's owner, a member of the owning organization, and a site
//! admin, with the status each must get. The list of endpoints comes from the running
//! code (the server-function registry and the API's route table): a new endpoint without
//! an entry here fails the test.
mod common;

use std::collections::BTreeSet;

use common::{make_admin, session_cookie_of, TestApp, PASSWORD};
use domain::entities::user;
use http::header;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// What a call must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// 2xx, or a 3xx redirect (what a form post gets on success).
    Ok,
    Unauthenticated,
    Forbidden,
    NotFound,
    Invalid,
}
use Expect::*;

impl Expect {
    fn matches(self, status: u16) -> bool {
        match self {
            Ok => (200..400).contains(&status),
            Unauthenticated => status == 401,
            Forbidden => status == 403,
            NotFound => status == 404,
            Invalid => status == 422,
        }
    }
}

const ROLES: [&str; 5] = ["anonymous", "other user", "owner", "org member", "admin"];

/// Per endpoint: expectations for [anonymous, other user, owner, org member, admin].
const MATRIX: &[(&str, [Expect; 5])] = &[
    // Public reads.
    ("POST /api/list_models", [Ok, Ok, Ok, Ok, Ok]),
    ("POST /api/get_model", [Ok, Ok, Ok, Ok, Ok]),
    ("POST /api/get_publisher", [Ok, Ok, Ok, Ok, Ok]),
    ("POST /api/offer_choices", [Ok, Ok, Ok, Ok, Ok]),
    // Getting in and out.
    ("POST /api/sign_up", [Ok, Ok, Ok, Ok, Ok]),
    ("POST /api/log_in", [Ok, Ok, Ok, Ok, Ok]),
    ("POST /api/log_out", [Ok, Ok, Ok, Ok, Ok]),
    ("POST /api/forgot_password", [Ok, Ok, Ok, Ok, Ok]),
    (
        "POST /api/reset_password",
        [Invalid, Invalid, Invalid, Invalid, Invalid],
    ),
    (
        "POST /api/verify_email",
        [Invalid, Invalid, Invalid, Invalid, Invalid],
    ),
    // One's own account.
    (
        "POST /api/change_password",
        [Unauthenticated, Invalid, Invalid, Invalid, Invalid],
    ),
    (
        "POST /api/resend_verification",
        // Every account that can sign in has confirmed its address: nothing to resend.
        [Unauthenticated, Invalid, Invalid, Invalid, Invalid],
    ),
    ("POST /api/get_account", [Unauthenticated, Ok, Ok, Ok, Ok]),
    (
        "POST /api/enable_publishing",
        [Unauthenticated, Ok, Ok, Ok, Ok],
    ),
    ("POST /api/my_sessions", [Unauthenticated, Ok, Ok, Ok, Ok]),
    (
        "POST /api/log_out_other_sessions",
        [Unauthenticated, Ok, Ok, Ok, Ok],
    ),
    ("POST /api/my_tokens", [Unauthenticated, Ok, Ok, Ok, Ok]),
    ("POST /api/my_licenses", [Unauthenticated, Ok, Ok, Ok, Ok]),
    (
        "POST /api/sales_dashboard",
        [Unauthenticated, Ok, Ok, Ok, Ok],
    ),
    (
        "POST /api/set_up_payouts",
        [Unauthenticated, Ok, Ok, Ok, Ok],
    ),
    ("POST /api/access_queue", [Unauthenticated, Ok, Ok, Ok, Ok]),
    (
        "POST /api/request_access",
        [Unauthenticated, NotFound, NotFound, NotFound, NotFound],
    ),
    (
        "POST /api/decide_access",
        [Unauthenticated, NotFound, NotFound, NotFound, NotFound],
    ),
    // An offer and a license nobody has: signed-in callers are told so.
    (
        "POST /api/buy_license",
        [Unauthenticated, NotFound, NotFound, NotFound, NotFound],
    ),
    (
        "POST /api/manage_subscription",
        [Unauthenticated, NotFound, NotFound, NotFound, NotFound],
    ),
    ("POST /api/create_token", [Unauthenticated, Ok, Ok, Ok, Ok]),
    ("POST /api/my_orgs", [Unauthenticated, Ok, Ok, Ok, Ok]),
    ("POST /api/create_org", [Unauthenticated, Ok, Ok, Ok, Ok]),
    (
        // With the wrong password: nobody's account goes in this test.
        "POST /api/delete_account",
        [Unauthenticated, Invalid, Invalid, Invalid, Invalid],
    ),
    // An invitation to the owner's account: only its invitee may answer it; to anyone else
    // it does not exist.
    (
        "POST /api/accept_invitation",
        [Unauthenticated, NotFound, Ok, NotFound, NotFound],
    ),
    (
        "POST /api/decline_invitation",
        [Unauthenticated, NotFound, Ok, NotFound, NotFound],
    ),
    // The owner's session and token: nobody else can even see they exist.
    (
        "POST /api/revoke_session",
        [Unauthenticated, NotFound, Ok, NotFound, NotFound],
    ),
    (
        "POST /api/revoke_token",
        [Unauthenticated, NotFound, Ok, NotFound, NotFound],
    ),
    // The owner's organization (the member holds the plain member role).
    (
        "POST /api/get_org",
        [Unauthenticated, Forbidden, Ok, Ok, Ok],
    ),
    (
        "POST /api/invite_member",
        [Unauthenticated, Forbidden, Ok, Forbidden, Ok],
    ),
    (
        "POST /api/cancel_invitation",
        [Unauthenticated, Forbidden, Ok, Forbidden, Ok],
    ),
    (
        "POST /api/set_member_role",
        [Unauthenticated, Forbidden, Ok, Forbidden, Ok],
    ),
    (
        "POST /api/remove_member",
        [Unauthenticated, Forbidden, Ok, Forbidden, Ok],
    ),
    // Site administration.
    (
        "POST /api/audit_log",
        [Unauthenticated, Forbidden, Forbidden, Forbidden, Ok],
    ),
    (
        "POST /api/outbox",
        [Unauthenticated, Forbidden, Forbidden, Forbidden, Ok],
    ),
    (
        "POST /api/admin_orders",
        [Unauthenticated, Forbidden, Forbidden, Forbidden, Ok],
    ),
    // An order that does not exist: only an administrator learns so.
    (
        "POST /api/refund_order",
        [Unauthenticated, Forbidden, Forbidden, Forbidden, NotFound],
    ),
    (
        "POST /api/deleted_listings",
        [Unauthenticated, Forbidden, Forbidden, Forbidden, Ok],
    ),
    // A deleted listing of the owner's organization: its publishers and admins restore or
    // purge it; to anyone else it does not exist.
    (
        "POST /api/purge_listing",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    (
        "POST /api/restore_listing",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    (
        "POST /api/my_deleted_listings",
        [Unauthenticated, Ok, Ok, Ok, Ok],
    ),
    // One's own profile.
    (
        "POST /api/update_profile",
        [Unauthenticated, Ok, Ok, Ok, Ok],
    ),
    ("POST /api/remove_avatar", [Unauthenticated, Ok, Ok, Ok, Ok]),
    ("POST /api/v1/me/avatar", [Unauthenticated, Ok, Ok, Ok, Ok]),
    // Anyone sees a current picture; no other object is served by key.
    (
        "GET /api/v1/avatars/{key}",
        [NotFound, NotFound, NotFound, NotFound, NotFound],
    ),
    // REST API (a browser session is accepted as well as a token).
    ("GET /api/v1/whoami", [Unauthenticated, Ok, Ok, Ok, Ok]),
    // Public: a license's status, never its holder (this one does not exist).
    (
        "GET /api/v1/licenses/{id}/status",
        [NotFound, NotFound, NotFound, NotFound, NotFound],
    ),
    ("GET /api/v1/tokens", [Unauthenticated, Ok, Ok, Ok, Ok]),
    (
        "DELETE /api/v1/tokens/{id}",
        [Unauthenticated, NotFound, Ok, NotFound, NotFound],
    ),
    // Publishing, on a draft listing of the owner's organization (its plain member cannot
    // publish, so to them, as to strangers, the draft does not exist).
    (
        "POST /api/v1/models",
        [Unauthenticated, Forbidden, Ok, Forbidden, Ok],
    ),
    (
        "GET /api/v1/models/{owner}/{slug}",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    (
        "PATCH /api/v1/models/{owner}/{slug}",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    (
        "DELETE /api/v1/models/{owner}/{slug}",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    (
        "POST /api/v1/models/{owner}/{slug}/versions",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    (
        "GET /api/v1/models/{owner}/{slug}/offers",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    (
        "POST /api/v1/models/{owner}/{slug}/offers",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    (
        "DELETE /api/v1/models/{owner}/{slug}/offers/{id}",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    (
        "POST /api/v1/models/{owner}/{slug}/versions/{version}/publish",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    (
        "POST /api/v1/models/{owner}/{slug}/versions/{version}/uploads",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    // The same, through the publisher's pages.
    (
        "POST /api/create_model",
        [Unauthenticated, Forbidden, Ok, Forbidden, Ok],
    ),
    (
        "POST /api/upload_overview",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    (
        "POST /api/create_draft_version",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    (
        "POST /api/publish_draft",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    (
        "POST /api/listing_settings",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    (
        "POST /api/update_listing",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    (
        "POST /api/listing_offers",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    (
        "POST /api/add_offer",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    (
        "POST /api/withdraw_offer",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    (
        "POST /api/set_listing_published",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    (
        "POST /api/delete_listing",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    (
        "POST /api/remove_draft_file",
        [Unauthenticated, NotFound, Ok, NotFound, Ok],
    ),
    // Downloads: a draft's file is its publishers' alone (anyone may fetch published demo
    // and open files; see the downloads tests).
    (
        "GET /api/v1/models/{owner}/{slug}/versions/{version}/files/{*path}",
        [NotFound, NotFound, Ok, NotFound, Ok],
    ),
    (
        "GET /api/v1/models/{owner}/{slug}/versions/{version}/files",
        [NotFound, NotFound, Ok, NotFound, Ok],
    ),
    // An upload belongs to whoever began it.
    (
        "HEAD /api/v1/uploads/{id}",
        [Unauthenticated, NotFound, Ok, NotFound, NotFound],
    ),
    (
        "PATCH /api/v1/uploads/{id}",
        [Unauthenticated, NotFound, Ok, NotFound, NotFound],
    ),
    (
        "DELETE /api/v1/uploads/{id}",
        [Unauthenticated, NotFound, Ok, NotFound, NotFound],
    ),
];

struct Fixture {
    /// Session cookies of the four accounts, in `ROLES` order (anonymous has none).
    cookies: [Option<String>; 5],
    owner: user::Model,
    org: user::Model,
    fresh: usize,
}

impl Fixture {
    fn fresh_name(&mut self, stem: &str) -> String {
        self.fresh += 1;
        format!("{stem}{}", self.fresh)
    }

    /// A person with no password, created directly (cheap: no hashing).
    async fn person(&mut self, app: &TestApp) -> user::Model {
        let name = self.fresh_name("person");
        domain::publishing::create_publisher(
            &app.state.db,
            domain::publishing::NewPublisher {
                username: &name,
                display_name: &name,
                bio: "",
            },
        )
        .await
        .unwrap()
    }

    async fn org_member(&mut self, app: &TestApp) -> String {
        let person = self.invited(app).await;
        domain::orgs::accept(&app.state.db, &person, &self.org, "test")
            .await
            .unwrap();
        person.username
    }

    /// A fresh person the owner invited to the organization as a member.
    async fn invited(&mut self, app: &TestApp) -> user::Model {
        let person = self.person(app).await;
        let role = domain::orgs::Role::Member;
        domain::orgs::invite(
            &app.state,
            &self.owner,
            &self.org,
            &person.username,
            role,
            "test",
        )
        .await
        .unwrap();
        person
    }

    /// A fresh organization that invited the owner's account: its name.
    async fn inviting_org(&mut self, app: &TestApp) -> String {
        let founder = self.person(app).await;
        let name = self.fresh_name("guild");
        let org = domain::orgs::create(&app.state.db, &founder, &name, "", "test")
            .await
            .unwrap();
        let role = domain::orgs::Role::Member;
        domain::orgs::invite(&app.state, &founder, &org, "owner", role, "test")
            .await
            .unwrap();
        name
    }
}

impl Fixture {
    /// A fresh draft listing of the organization, with a draft version 1.0.0 and, when
    /// asked, one file in it: its `acme/slug` path.
    async fn draft_listing(&mut self, app: &TestApp, with_file: bool) -> String {
        let slug = self.fresh_name("draft");
        let fields = domain::listings::ListingFields {
            name: "Draft",
            summary: "",
            task: "other",
            tags: &[],
            card: "",
        };
        let listing =
            domain::listings::create(&app.state, &self.owner, "acme", &slug, fields, None)
                .await
                .unwrap();
        let version =
            domain::listings::create_version(&app.state, &self.owner, "acme", &slug, "1.0.0", "")
                .await
                .unwrap();
        if with_file {
            let chunk: Result<bytes::Bytes, std::io::Error> =
                std::result::Result::Ok(bytes::Bytes::from_static(b"# readme\n"));
            let body = futures::stream::iter([chunk]);
            domain::publishing::add_file(
                &app.state.db,
                &app.state.storage,
                &version,
                "README.md",
                body,
                false,
            )
            .await
            .unwrap();
        }
        format!("acme/{}", listing.slug)
    }

    /// An upload the owner began through the server (uploads live in the server process).
    async fn owner_upload(&mut self, app: &TestApp) -> String {
        let at = self.draft_listing(app, false).await;
        let response = app
            .client
            .post(app.url(&format!("/api/v1/models/{at}/versions/1.0.0/uploads")))
            .header(header::COOKIE, self.cookies[2].clone().unwrap())
            .header("sec-fetch-site", "same-origin")
            .json(&serde_json::json!({ "path": "notes.txt", "size": 4 }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let body: serde_json::Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().to_owned()
    }
}

/// The path, body (JSON for the REST API, a form otherwise) and, where the call ends it, a
/// session of its own, for one call.
async fn prepare(
    app: &TestApp,
    fx: &mut Fixture,
    endpoint: &str,
    role: usize,
) -> (String, String, Option<String>) {
    let path = endpoint.split_once(' ').unwrap().1.to_owned();
    let json = |value: serde_json::Value| value.to_string();
    let body = match path.as_str() {
        "/api/v1/models" => json(serde_json::json!({
            "owner": "acme", "slug": fx.fresh_name("new"), "name": "New", "task": "other"
        })),
        "/api/v1/models/{owner}/{slug}" => {
            let at = fx.draft_listing(app, false).await;
            return (
                format!("/api/v1/models/{at}"),
                json(serde_json::json!({ "published": false })),
                None,
            );
        }
        "/api/v1/models/{owner}/{slug}/offers" => {
            let at = fx.draft_listing(app, false).await;
            let body = json(serde_json::json!({ "kind": "open", "spdx": "MIT" }));
            return (format!("/api/v1/models/{at}/offers"), body, None);
        }
        "/api/v1/models/{owner}/{slug}/offers/{id}" => {
            let at = fx.draft_listing(app, false).await;
            let (owner, slug) = at.split_once('/').unwrap();
            let (_, listing) = domain::listings::find_listing(&app.state, owner, slug)
                .await
                .unwrap();
            let open = domain::licensing::offers::OfferInput {
                kind: "open",
                spdx: Some("MIT"),
                ..Default::default()
            };
            let terms = domain::licensing::offers::check(&open, true).unwrap();
            let offer = domain::licensing::offers::add(&app.state.db, listing.id, &terms, "")
                .await
                .unwrap();
            return (
                format!("/api/v1/models/{at}/offers/{}", offer.id),
                String::new(),
                None,
            );
        }
        "/api/v1/models/{owner}/{slug}/versions" => {
            let at = fx.draft_listing(app, false).await;
            let body = json(serde_json::json!({ "version": "2.0.0" }));
            return (format!("/api/v1/models/{at}/versions"), body, None);
        }
        "/api/v1/models/{owner}/{slug}/versions/{version}/publish" => {
            let at = fx.draft_listing(app, true).await;
            return (
                format!("/api/v1/models/{at}/versions/1.0.0/publish"),
                String::new(),
                None,
            );
        }
        "/api/v1/models/{owner}/{slug}/versions/{version}/uploads" => {
            let at = fx.draft_listing(app, false).await;
            let body = json(serde_json::json!({ "path": "weights.safetensors", "size": 100 }));
            return (
                format!("/api/v1/models/{at}/versions/1.0.0/uploads"),
                body,
                None,
            );
        }
        "/api/v1/licenses/{id}/status" => {
            return (
                "/api/v1/licenses/999999/status".to_owned(),
                String::new(),
                None,
            );
        }
        "/api/v1/uploads/{id}" => {
            let id = fx.owner_upload(app).await;
            return (format!("/api/v1/uploads/{id}"), String::new(), None);
        }
        "/api/create_model" => format!(
            "owner=acme&slug={}&name=New&summary=&task=other&tags=a%2C+b&card=&kind=open&spdx=MIT",
            fx.fresh_name("page")
        ),
        "/api/upload_overview" => {
            let at = fx.draft_listing(app, false).await;
            let (owner, slug) = at.split_once('/').unwrap();
            format!("owner={owner}&slug={slug}")
        }
        "/api/create_draft_version" => {
            let at = fx.draft_listing(app, false).await;
            let (owner, slug) = at.split_once('/').unwrap();
            format!("owner={owner}&slug={slug}&version=2.0.0&changelog=")
        }
        "/api/publish_draft" => {
            let at = fx.draft_listing(app, true).await;
            let (owner, slug) = at.split_once('/').unwrap();
            format!("owner={owner}&slug={slug}&version=1.0.0")
        }
        "/api/listing_settings" => {
            let at = fx.draft_listing(app, false).await;
            let (owner, slug) = at.split_once('/').unwrap();
            format!("owner={owner}&slug={slug}")
        }
        "/api/listing_offers" => {
            let at = fx.draft_listing(app, false).await;
            let (owner, slug) = at.split_once('/').unwrap();
            format!("owner={owner}&slug={slug}")
        }
        "/api/add_offer" => {
            let at = fx.draft_listing(app, false).await;
            let (owner, slug) = at.split_once('/').unwrap();
            format!("owner={owner}&slug={slug}&kind=open&spdx=MIT")
        }
        "/api/withdraw_offer" => {
            let at = fx.draft_listing(app, false).await;
            let (owner, slug) = at.split_once('/').unwrap();
            let (_, listing) = domain::listings::find_listing(&app.state, owner, slug)
                .await
                .unwrap();
            let open = domain::licensing::offers::OfferInput {
                kind: "open",
                spdx: Some("MIT"),
                ..Default::default()
            };
            let terms = domain::licensing::offers::check(&open, true).unwrap();
            let offer = domain::licensing::offers::add(&app.state.db, listing.id, &terms, "")
                .await
                .unwrap();
            format!("owner={owner}&slug={slug}&offer_id={}", offer.id)
        }
        "/api/update_listing" => {
            let at = fx.draft_listing(app, false).await;
            let (owner, slug) = at.split_once('/').unwrap();
            format!("owner={owner}&slug={slug}&name=Renamed&summary=&task=other&tags=a&card=")
        }
        "/api/set_listing_published" => {
            let at = fx.draft_listing(app, false).await;
            let (owner, slug) = at.split_once('/').unwrap();
            format!("owner={owner}&slug={slug}&published=false")
        }
        "/api/delete_listing" => {
            let at = fx.draft_listing(app, false).await;
            let (owner, slug) = at.split_once('/').unwrap();
            format!("owner={owner}&slug={slug}&confirm={slug}")
        }
        "/api/v1/models/{owner}/{slug}/versions/{version}/files" => {
            let at = fx.draft_listing(app, true).await;
            return (
                format!("/api/v1/models/{at}/versions/1.0.0/files"),
                String::new(),
                None,
            );
        }
        "/api/v1/models/{owner}/{slug}/versions/{version}/files/{*path}" => {
            let at = fx.draft_listing(app, true).await;
            return (
                format!("/api/v1/models/{at}/versions/1.0.0/files/README.md"),
                String::new(),
                None,
            );
        }
        "/api/remove_draft_file" => {
            let at = fx.draft_listing(app, true).await;
            let (owner, slug) = at.split_once('/').unwrap();
            format!("owner={owner}&slug={slug}&version=1.0.0&path=README.md")
        }
        "/api/update_profile" => {
            "display_name=Someone&bio=Hello&links=https%3A%2F%2Fexample.org".to_owned()
        }
        "/api/v1/me/avatar" => {
            // A raw picture body, as a script sends it.
            return (path, "GIF89a\x01\0\x01\0".to_owned(), None);
        }
        "/api/v1/avatars/{key}" => {
            // A model file's key: never served as a picture.
            let at = fx.draft_listing(app, true).await;
            let slug = at.split_once('/').unwrap().1;
            let file = file_of(app, slug).await;
            return (
                domain::profiles::avatar_url(&file.object_key),
                String::new(),
                None,
            );
        }
        "/api/purge_listing" | "/api/restore_listing" => {
            let at = fx.draft_listing(app, true).await;
            let slug = at.split_once('/').unwrap().1;
            domain::listings::delete(&app.state, &fx.owner, "acme", slug, "test")
                .await
                .unwrap();
            let listing = domain::entities::model::Entity::find()
                .filter(domain::entities::model::Column::Slug.eq(slug))
                .one(&app.state.db)
                .await
                .unwrap()
                .unwrap();
            format!("id={}&confirm=acme%2F{slug}", listing.id)
        }
        "/api/get_model" => "owner=sklearn-lab&slug=digit-classifier".to_owned(),
        "/api/get_publisher" => "username=sklearn-lab".to_owned(),
        "/api/sign_up" => {
            let name = fx.fresh_name("newcomer");
            format!("username={name}&email={name}%40example.org&password=a+fine+long+passphrase")
        }
        "/api/log_in" => format!("login=other&password={}", PASSWORD.replace(' ', "+")),
        "/api/log_out" => {
            // Log out a session of its own, so the role's main session lives on.
            let cookie = match role {
                0 => None,
                _ => {
                    let name = ["", "other", "owner", "member", "site-admin"][role];
                    Some(session_cookie_of(&app.log_in(name, PASSWORD).await))
                }
            };
            return (path, String::new(), cookie);
        }
        "/api/forgot_password" => "email=other%40example.org".to_owned(),
        "/api/reset_password" => "token=not-a-token&password=a+fine+long+passphrase".to_owned(),
        "/api/verify_email" => "token=not-a-token".to_owned(),
        "/api/change_password" => {
            "current_password=wrong+password+here&new_password=another+fine+passphrase".to_owned()
        }
        "/api/create_token" => "name=matrix&scope=read".to_owned(),
        "/api/create_org" => format!("name={}&display_name=", fx.fresh_name("org")),
        "/api/revoke_session" => {
            let cookie = session_cookie_of(&app.log_in("owner", PASSWORD).await);
            let token = cookie.split_once('=').unwrap().1;
            format!("id={}", domain::secrets::hash_secret(token))
        }
        "/api/revoke_token" | "/api/v1/tokens/{id}" => {
            let new = domain::tokens::NewToken {
                name: "victim",
                scope: "read",
                expires_in_days: None,
            };
            let (token, _) = domain::tokens::create(&app.state, &fx.owner, new, "test")
                .await
                .unwrap();
            if path.starts_with("/api/v1/") {
                return (format!("/api/v1/tokens/{}", token.id), String::new(), None);
            }
            format!("id={}", token.id)
        }
        "/api/get_org" => "name=acme".to_owned(),
        "/api/invite_member" => {
            let person = fx.person(app).await;
            format!("org=acme&username={}&role=member", person.username)
        }
        "/api/cancel_invitation" => {
            let person = fx.invited(app).await;
            format!("org=acme&username={}", person.username)
        }
        "/api/accept_invitation" | "/api/decline_invitation" => {
            format!("org={}", fx.inviting_org(app).await)
        }
        "/api/delete_account" => {
            let name = ["", "other", "owner", "member", "site-admin"][role];
            format!("password=wrong+password+here&confirm={name}")
        }
        "/api/set_member_role" => {
            let member = fx.org_member(app).await;
            format!("org=acme&username={member}&role=admin")
        }
        "/api/remove_member" => {
            let member = fx.org_member(app).await;
            format!("org=acme&username={member}")
        }
        "/api/buy_license" => "offer_id=999999".to_owned(),
        "/api/refund_order" => "order_id=999999".to_owned(),
        "/api/request_access" => "offer_id=999999&terms_sha256=00&accept=yes".to_owned(),
        "/api/decide_access" => "request_id=999999&approve=true".to_owned(),
        "/api/manage_subscription" => "license_id=999999".to_owned(),
        _ => String::new(),
    };
    (path, body, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_each_kind_of_caller_as_the_matrix_says() {
    let app = common::spawn_app_with(common::Db::Sqlite, |config| {
        config.rate_limits.sign_up_per_ip = 1000;
        config.rate_limits.log_in_per_ip = 1000;
        // Every upload route is tried by every kind of caller, each on an upload of its own.
        config.max_unfinished_uploads_per_owner = 1000;
    })
    .await
    .unwrap();

    // The endpoints the code has, and the ones the matrix covers, must be the same.
    let mut registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, method)| format!("{method} {path}"))
        .collect();
    registered.extend(
        server::api::routes()
            .into_iter()
            .map(|(route, _)| format!("{} {}", route.method, route.path)),
    );
    let covered: BTreeSet<String> = MATRIX.iter().map(|(e, _)| (*e).to_owned()).collect();
    let missing: Vec<_> = registered.difference(&covered).collect();
    let stale: Vec<_> = covered.difference(&registered).collect();
    assert!(
        missing.is_empty(),
        "endpoints without an authorization entry: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "entries for endpoints that do not exist: {stale:?}"
    );

    let mut cookies: [Option<String>; 5] = Default::default();
    for (role, name) in [(1, "other"), (2, "owner"), (3, "member"), (4, "site-admin")] {
        cookies[role] = Some(app.sign_up(name).await);
    }
    make_admin(&app, "site-admin").await;
    let owner = domain::catalog::find_user(&app.state.db, "owner")
        .await
        .unwrap()
        .unwrap();
    let org = domain::orgs::create(&app.state.db, &owner, "acme", "Acme", "test")
        .await
        .unwrap();
    let member = domain::catalog::find_user(&app.state.db, "member")
        .await
        .unwrap()
        .unwrap();
    let role = domain::orgs::Role::Member;
    domain::orgs::invite(&app.state, &owner, &org, "member", role, "test")
        .await
        .unwrap();
    domain::orgs::accept(&app.state.db, &member, &org, "test")
        .await
        .unwrap();
    let mut fx = Fixture {
        cookies,
        owner,
        org,
        fresh: 0,
    };

    let mut failures = Vec::new();
    for (endpoint, expectations) in MATRIX {
        let method: http::Method = endpoint.split_once(' ').unwrap().0.parse().unwrap();
        for (role, expect) in expectations.iter().enumerate() {
            let (path, body, own_cookie) = prepare(&app, &mut fx, endpoint, role).await;
            let cookie = own_cookie.or_else(|| fx.cookies[role].clone());
            let content_type = if path.starts_with("/api/v1/") {
                "application/json"
            } else {
                "application/x-www-form-urlencoded"
            };
            let mut request = app
                .client
                .request(method.clone(), app.url(&path))
                .header(header::CONTENT_TYPE, content_type)
                .header("sec-fetch-site", "same-origin")
                .header("upload-offset", "0")
                .body(body);
            if let Some(cookie) = cookie {
                request = request.header(header::COOKIE, cookie);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            if !expect.matches(status) {
                let text = response.text().await.unwrap_or_default();
                failures.push(format!(
                    "{endpoint} as {}: expected {expect:?}, got {status} {text:.120}",
                    ROLES[role]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The one file of the draft listing `acme/{slug}`.
async fn file_of(app: &TestApp, slug: &str) -> domain::entities::file::Model {
    use domain::entities::{file, model, model_version};
    let listing = model::Entity::find()
        .filter(model::Column::Slug.eq(slug))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let version = model_version::Entity::find()
        .filter(model_version::Column::ModelId.eq(listing.id))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    file::Entity::find()
        .filter(file::Column::VersionId.eq(version.id))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
}
