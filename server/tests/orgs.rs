//! Organization invitations, through the server functions the pages' forms post to: a person
//! joins only by accepting, with the role they were invited as.
mod common;

use common::TestApp;
use serde_json::Value;

on_each_database!(
    an_invited_person_joins_only_by_accepting_with_the_invited_role,
    declining_removes_the_invitation_and_grants_nothing,
    nobody_answers_someone_elses_invitation,
    admins_invite_only_plain_members_and_the_page_is_told_so,
    inviting_a_member_or_inviting_again_is_refused_in_words,
    managers_cancel_invitations_within_their_role,
    a_refused_organization_name_is_about_the_name_field,
);

/// The create form's field is `name`; the username rules it shares must say so, so the
/// message shows beside that field.
async fn a_refused_organization_name_is_about_the_name_field(app: TestApp) {
    let cookie = app.sign_up("founder").await;
    for (name, words) in [
        ("admin", "'admin' is reserved."),
        (
            "no--dashes",
            "Name may not start or end with '-' or repeat it.",
        ),
    ] {
        let refused = app
            .post_form(
                "/api/create_org",
                &format!("name={name}&display_name="),
                Some(&cookie),
            )
            .await;
        assert_eq!(refused.status(), 422);
        let error: Value = refused.json().await.unwrap();
        let invalid = &error["Invalid"];
        assert_eq!(invalid["field"], "name", "{error}");
        let message = invalid["message"].as_str().unwrap();
        assert_eq!(app::error::in_words("name", message), words);
    }
    app.post_form("/api/create_org", "name=acme&display_name=", Some(&cookie))
        .await;
    let taken = app
        .post_form("/api/create_org", "name=ACME&display_name=", Some(&cookie))
        .await;
    let error: Value = taken.json().await.unwrap();
    assert_eq!(error["Invalid"]["field"], "name", "{error}");
}

/// Signs up `owner` and `others`, and has `owner` create the organization `acme`: the
/// owner's cookie, then the others' in order.
async fn acme(app: &TestApp, owner: &str, others: &[&str]) -> (String, Vec<String>) {
    let owner = app.sign_up(owner).await;
    let created = app
        .post_form(
            "/api/create_org",
            "name=acme&display_name=Acme+Labs",
            Some(&owner),
        )
        .await;
    assert_eq!(created.status(), 200);
    let mut cookies = Vec::new();
    for name in others {
        cookies.push(app.sign_up(name).await);
    }
    (owner, cookies)
}

async fn invite(app: &TestApp, cookie: &str, username: &str, role: &str) -> reqwest::Response {
    let body = format!("org=acme&username={username}&role={role}");
    app.post_form("/api/invite_member", &body, Some(cookie))
        .await
}

async fn answer(app: &TestApp, cookie: &str, how: &str) -> reqwest::Response {
    app.post_form(&format!("/api/{how}_invitation"), "org=acme", Some(cookie))
        .await
}

/// The organization's page data as `cookie`'s holder gets it: status and body.
async fn org_page(app: &TestApp, cookie: &str) -> (u16, Value) {
    let response = app
        .post_form("/api/get_org", "name=acme", Some(cookie))
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn my_orgs(app: &TestApp, cookie: &str) -> Value {
    let response = app.post_form("/api/my_orgs", "", Some(cookie)).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// `(username, role)` of each member listed on the organization's page.
fn members(page: &Value) -> Vec<(String, String)> {
    page["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let field = |key: &str| m[key].as_str().unwrap().to_owned();
            (field("username"), field("role"))
        })
        .collect()
}

fn invited(page: &Value) -> Vec<String> {
    page["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["username"].as_str().unwrap().to_owned())
        .collect()
}

async fn an_invited_person_joins_only_by_accepting_with_the_invited_role(app: TestApp) {
    let (olive, others) = acme(&app, "olive", &["ada"]).await;
    let ada = &others[0];
    let sent = invite(&app, &olive, "ada", "admin").await;
    assert_eq!(sent.status(), 200);
    assert_eq!(
        sent.headers().get("location").and_then(|l| l.to_str().ok()),
        Some("/settings/organizations/acme?invited=ada"),
        "the page comes back saying who was invited"
    );
    let mail = app.mail_to("ada@example.org");
    assert_eq!(mail.subject, "olive invited you to join Acme Labs");
    assert!(mail.body.contains("Acme Labs (@acme)"), "{}", mail.body);
    assert!(mail.body.contains("as admin"), "{}", mail.body);
    assert!(
        mail.body
            .contains(&format!("{}/settings/organizations", app.state.public_url)),
        "{}",
        mail.body
    );

    // Invited is not a member.
    let (status, _) = org_page(&app, ada).await;
    assert_eq!(status, 403);
    let mine = my_orgs(&app, ada).await;
    assert_eq!(mine["orgs"], serde_json::json!([]));
    assert_eq!(mine["invitations"][0]["org"], "acme");
    assert_eq!(mine["invitations"][0]["role"], "admin");
    assert_eq!(mine["invitations"][0]["invited_by"], "olive");
    let (_, page) = org_page(&app, &olive).await;
    assert_eq!(members(&page), [("olive".into(), "owner".into())]);
    assert_eq!(invited(&page), ["ada"]);

    let accepted = answer(&app, ada, "accept").await;
    assert_eq!(accepted.status(), 200);
    let (status, page) = org_page(&app, ada).await;
    assert_eq!(status, 200);
    assert_eq!(page["my_role"], "admin");
    assert_eq!(
        members(&page),
        [
            ("olive".into(), "owner".into()),
            ("ada".into(), "admin".into())
        ]
    );
    assert!(invited(&page).is_empty(), "the invitation is used up");
    assert_eq!(
        my_orgs(&app, ada).await["invitations"],
        serde_json::json!([])
    );
    assert_eq!(answer(&app, ada, "accept").await.status(), 404, "only once");
}

async fn declining_removes_the_invitation_and_grants_nothing(app: TestApp) {
    let (olive, others) = acme(&app, "olive", &["ada"]).await;
    let ada = &others[0];
    assert_eq!(invite(&app, &olive, "ada", "member").await.status(), 200);
    let declined = answer(&app, ada, "decline").await;
    assert_eq!(declined.status(), 200);
    assert_eq!(org_page(&app, ada).await.0, 403);
    assert_eq!(
        my_orgs(&app, ada).await["invitations"],
        serde_json::json!([])
    );
    assert_eq!(answer(&app, ada, "accept").await.status(), 404);
    let (_, page) = org_page(&app, &olive).await;
    assert!(invited(&page).is_empty());
    assert_eq!(members(&page).len(), 1);
    // Declined is not barred: they may be invited again.
    assert_eq!(invite(&app, &olive, "ada", "member").await.status(), 200);
}

async fn nobody_answers_someone_elses_invitation(app: TestApp) {
    let (olive, others) = acme(&app, "olive", &["ada", "bob"]).await;
    let (ada, bob) = (&others[0], &others[1]);
    assert_eq!(invite(&app, &olive, "ada", "admin").await.status(), 200);
    assert_eq!(answer(&app, bob, "accept").await.status(), 404);
    assert_eq!(answer(&app, bob, "decline").await.status(), 404);
    assert_eq!(org_page(&app, bob).await.0, 403, "bob is no member");
    // Not even the owner answers for the invitee.
    assert_eq!(answer(&app, &olive, "accept").await.status(), 404);
    assert_eq!(my_orgs(&app, ada).await["invitations"][0]["org"], "acme");
    assert_eq!(answer(&app, ada, "accept").await.status(), 200);
}

async fn admins_invite_only_plain_members_and_the_page_is_told_so(app: TestApp) {
    let (olive, others) = acme(&app, "olive", &["ada", "bob", "cy"]).await;
    let (ada, bob) = (&others[0], &others[1]);
    assert_eq!(invite(&app, &olive, "ada", "admin").await.status(), 200);
    assert_eq!(answer(&app, ada, "accept").await.status(), 200);

    for role in ["owner", "admin"] {
        let refused = invite(&app, ada, "bob", role).await;
        assert_eq!(refused.status(), 403, "an admin inviting as {role}");
        let text = refused.text().await.unwrap();
        assert!(
            text.contains("only an owner can invite admins or owners"),
            "{text}"
        );
    }
    assert_eq!(invite(&app, ada, "bob", "member").await.status(), 200);
    assert_eq!(answer(&app, bob, "accept").await.status(), 200);
    assert_eq!(
        invite(&app, bob, "cy", "member").await.status(),
        403,
        "a member invites nobody"
    );

    // What each is shown comes from the same rules.
    let (_, page) = org_page(&app, ada).await;
    assert_eq!(page["may"]["invite"], true);
    assert_eq!(page["may"]["invite_roles"], serde_json::json!(["member"]));
    assert_eq!(page["may"]["change_roles"], false);
    let removable: Vec<(String, bool)> = page["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["username"].as_str().unwrap().to_owned(),
                m["removable"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        removable,
        [
            ("olive".into(), false),
            ("ada".into(), true),
            ("bob".into(), true)
        ],
        "an admin removes plain members, and may leave"
    );
    let (_, page) = org_page(&app, &olive).await;
    assert_eq!(
        page["may"]["invite_roles"],
        serde_json::json!(["member", "admin", "owner"])
    );
    assert_eq!(page["may"]["change_roles"], true);
    let (_, page) = org_page(&app, bob).await;
    assert_eq!(page["may"]["invite"], false);
    assert_eq!(page["invitations"], serde_json::json!([]));
}

async fn inviting_a_member_or_inviting_again_is_refused_in_words(app: TestApp) {
    let (olive, others) = acme(&app, "olive", &["ada"]).await;
    let ada = &others[0];
    let refusal = |text: String| -> (String, String) {
        let error: Value = serde_json::from_str(&text).unwrap();
        let invalid = &error["Invalid"];
        let field = invalid["field"].as_str().unwrap().to_owned();
        let words = app::error::in_words(&field, invalid["message"].as_str().unwrap());
        (field, words)
    };
    assert_eq!(invite(&app, &olive, "ada", "member").await.status(), 200);
    let again = invite(&app, &olive, "ada", "admin").await;
    assert_eq!(again.status(), 422);
    assert_eq!(
        refusal(again.text().await.unwrap()),
        ("username".into(), "'ada' is already invited.".into())
    );
    let mails = app.mail.all().len();
    assert_eq!(answer(&app, ada, "accept").await.status(), 200);
    let member = invite(&app, &olive, "ADA", "member").await;
    assert_eq!(member.status(), 422);
    assert_eq!(
        refusal(member.text().await.unwrap()),
        ("username".into(), "'ada' is already a member.".into())
    );
    let nobody = invite(&app, &olive, "nobody-here", "member").await;
    assert_eq!(
        refusal(nobody.text().await.unwrap()),
        ("username".into(), "No user is called 'nobody-here'.".into())
    );
    let org = invite(&app, &olive, "acme", "member").await;
    assert_eq!(org.status(), 422, "an organization is no person");
    assert_eq!(
        app.mail.all().len(),
        mails,
        "a refused invitation sends nothing"
    );
}

async fn managers_cancel_invitations_within_their_role(app: TestApp) {
    let (olive, others) = acme(&app, "olive", &["ada", "bob", "cy"]).await;
    let (ada, bob) = (&others[0], &others[1]);
    assert_eq!(invite(&app, &olive, "ada", "admin").await.status(), 200);
    assert_eq!(answer(&app, ada, "accept").await.status(), 200);
    assert_eq!(invite(&app, &olive, "bob", "admin").await.status(), 200);
    assert_eq!(invite(&app, ada, "cy", "member").await.status(), 200);

    let cancel = |cookie: &str, username: &str| {
        let body = format!("org=acme&username={username}");
        let cookie = cookie.to_owned();
        let app = &app;
        async move {
            app.post_form("/api/cancel_invitation", &body, Some(&cookie))
                .await
                .status()
        }
    };
    assert_eq!(
        cancel(ada, "bob").await,
        403,
        "an admin cannot withdraw an admin's invitation"
    );
    assert_eq!(cancel(bob, "cy").await, 403, "the invited are no managers");
    assert_eq!(cancel(ada, "cy").await, 200);
    assert_eq!(cancel(&olive, "bob").await, 200);
    assert_eq!(cancel(&olive, "bob").await, 404, "already gone");
    assert_eq!(answer(&app, bob, "accept").await.status(), 404);
    assert_eq!(
        my_orgs(&app, bob).await["invitations"],
        serde_json::json!([])
    );
    let (_, page) = org_page(&app, &olive).await;
    assert!(invited(&page).is_empty());
}
