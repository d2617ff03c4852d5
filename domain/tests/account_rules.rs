//! Account rules that need time to pass or many steps: token expiry, reset-link expiry and
//! single use, and the organization role rules.
use chrono::{Duration, Utc};
use domain::entities::{mail_token, user};
use domain::mail::{MailCapture, Mailer};
use domain::orgs::Role;
use domain::{AppState, DomainError, Storage};
use migrations::{Migrator, MigratorTrait};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};

async fn state() -> (AppState, tempfile::TempDir) {
    let (state, _, dir) = state_with_mail().await;
    (state, dir)
}

/// A state whose e-mail goes to a capture the test reads.
async fn state_with_mail() -> (AppState, MailCapture, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let storage = Storage::from_url(&dir.path().join("objects").display().to_string()).unwrap();
    let mut state = AppState::connect(&url, storage).await.unwrap();
    Migrator::up(&state.db, None).await.unwrap();
    let mail = MailCapture::default();
    state.mailer = Mailer::capturing(mail.clone(), "Bazaar <bazaar@localhost>").unwrap();
    (state, mail, dir)
}

async fn person(state: &AppState, name: &str) -> user::Model {
    let email = format!("{name}@example.org");
    domain::accounts::sign_up(
        &state.db,
        &state.passwords,
        domain::accounts::SignUp {
            username: name,
            email: &email,
            password: "a long enough passphrase",
        },
    )
    .await
    .unwrap()
}

/// `actor` invites `person` to `org` as `role`, and `person` accepts.
async fn join(
    state: &AppState,
    actor: &user::Model,
    org: &user::Model,
    person: &user::Model,
    role: Role,
) {
    domain::orgs::invite(state, actor, org, &person.username, role, "t")
        .await
        .unwrap();
    domain::orgs::accept(&state.db, person, org, "t")
        .await
        .unwrap();
}

/// The token in the link of the newest e-mail sent whose link contains `path`.
fn link_token(mail: &MailCapture, path: &str) -> String {
    let sent = mail.all();
    let body = &sent
        .iter()
        .rev()
        .find(|m| m.body.contains(path))
        .expect("a mail")
        .body;
    body.split(path)
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_token_stops_at_its_expiry_and_its_secret_is_not_stored() {
    let (state, _dir) = state().await;
    let alice = person(&state, "alice").await;
    let new = domain::tokens::NewToken {
        name: "ci",
        scope: "write",
        expires_in_days: Some(7),
    };
    let (token, secret) = domain::tokens::create(&state, &alice, new, "t")
        .await
        .unwrap();
    assert_ne!(token.token_hash, secret);
    assert!(!token.token_hash.contains(&secret[4..]));
    let now = Utc::now();
    let found = domain::tokens::authenticate(&state.db, &secret, now)
        .await
        .unwrap();
    assert_eq!(
        found.map(|(u, t)| (u.id, t.scope())),
        Some((alice.id, domain::tokens::Scope::Write))
    );
    let later = now + Duration::days(7) + Duration::seconds(1);
    assert!(domain::tokens::authenticate(&state.db, &secret, later)
        .await
        .unwrap()
        .is_none());

    for (name, scope, days, field) in [
        ("", "read", None, "name"),
        ("x", "root", None, "scope"),
        ("x", "read", Some(0), "expires_in_days"),
        ("x", "read", Some(366), "expires_in_days"),
    ] {
        let new = domain::tokens::NewToken {
            name,
            scope,
            expires_in_days: days,
        };
        match domain::tokens::create(&state, &alice, new, "t").await {
            Err(DomainError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{name:?}/{scope:?}/{days:?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_reset_link_expires_after_an_hour_and_works_once() {
    let (state, mail, _dir) = state_with_mail().await;
    let bob = person(&state, "bob").await;
    domain::recovery::request_password_reset(&state, "BOB@example.org", "t")
        .await
        .unwrap();
    let token = link_token(&mail, "/reset-password/");

    // Age the link past its hour.
    let row = mail_token::Entity::find().all(&state.db).await.unwrap();
    let row = row
        .into_iter()
        .find(|r| r.purpose == "password_reset")
        .unwrap();
    assert!(row.expires_at - row.created_at <= Duration::hours(1));
    let mut aged: mail_token::ActiveModel = row.into();
    aged.expires_at = Set(Utc::now() - Duration::seconds(1));
    aged.update(&state.db).await.unwrap();
    let expired =
        domain::recovery::reset_password(&state, &token, "a new long passphrase", "t").await;
    assert!(
        matches!(expired, Err(DomainError::Invalid { field: "token", .. })),
        "{expired:?}"
    );

    domain::recovery::request_password_reset(&state, "bob@example.org", "t")
        .await
        .unwrap();
    let token = link_token(&mail, "/reset-password/");
    domain::recovery::reset_password(&state, &token, "a new long passphrase", "t")
        .await
        .unwrap();
    let twice =
        domain::recovery::reset_password(&state, &token, "another long passphrase", "t").await;
    assert!(matches!(
        twice,
        Err(DomainError::Invalid { field: "token", .. })
    ));
    let stored = user::Entity::find_by_id(bob.id)
        .one(&state.db)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(stored.password_hash, bob.password_hash);
}

#[tokio::test]
async fn an_address_is_confirmed_by_its_link() {
    let (state, mail, _dir) = state_with_mail().await;
    let eve = person(&state, "eve").await;
    assert!(eve.email_verified_at.is_none());
    domain::recovery::send_verification(&state, &eve)
        .await
        .unwrap();
    let token = link_token(&mail, "/verify-email/");
    let confirmed = domain::recovery::verify_email(&state, &token, "t")
        .await
        .unwrap();
    assert!(confirmed.email_verified_at.is_some());
    assert!(domain::recovery::verify_email(&state, &token, "t")
        .await
        .is_err());
    assert!(domain::recovery::send_verification(&state, &confirmed)
        .await
        .is_err());
}

#[tokio::test]
async fn organizations_keep_an_owner_and_roles_limit_who_manages_whom() {
    let (state, _dir) = state().await;
    let ann = person(&state, "ann").await;
    let ben = person(&state, "ben").await;
    let cat = person(&state, "cat").await;
    person(&state, "dan").await;
    let org = domain::orgs::create(&state.db, &ann, "Lab", "The Lab", "t")
        .await
        .unwrap();
    assert!(org.is_org() && org.password_hash.is_none());
    let taken = domain::orgs::create(&state.db, &ben, "ann", "", "t").await;
    assert!(
        matches!(taken, Err(DomainError::Invalid { field: "name", .. })),
        "shares the users' namespace: {taken:?}"
    );

    join(&state, &ann, &org, &ben, Role::Admin).await;
    // An admin invites members, but not admins; a member manages nobody.
    join(&state, &ben, &org, &cat, Role::Member).await;
    let refused = domain::orgs::invite(&state, &ben, &org, "dan", Role::Admin, "t").await;
    assert!(matches!(refused, Err(DomainError::Forbidden(_))));
    let refused = domain::orgs::invite(&state, &cat, &org, "dan", Role::Member, "t").await;
    assert!(matches!(refused, Err(DomainError::Forbidden(_))));
    let again = domain::orgs::invite(&state, &ann, &org, "cat", Role::Member, "t").await;
    assert!(matches!(
        again,
        Err(DomainError::Invalid {
            field: "username",
            ..
        })
    ));
    // What the page is told each may do is what the rules above allowed.
    let mut may = Vec::new();
    for who in [&ann, &ben, &cat] {
        may.push(
            domain::orgs::permissions(&state.db, &org, who)
                .await
                .unwrap(),
        );
    }
    let (owner, admin, member) = (may[0], may[1], may[2]);
    assert_eq!(owner.grantable(), [Role::Member, Role::Admin, Role::Owner]);
    assert_eq!(admin.grantable(), [Role::Member]);
    assert!(member.grantable().is_empty() && !member.may_invite());
    assert!(owner.may_change_roles() && !admin.may_change_roles());
    assert!(admin.may_remove(Role::Member) && !admin.may_remove(Role::Admin));
    assert!(owner.may_remove(Role::Owner) && !member.may_remove(Role::Member));

    // The last owner can neither leave nor step down.
    let alone = domain::orgs::remove_member(&state.db, &ann, &org, "ann", "t").await;
    assert!(matches!(alone, Err(DomainError::Conflict(_))));
    let down = domain::orgs::set_role(&state.db, &ann, &org, "ann", Role::Member, "t").await;
    assert!(matches!(down, Err(DomainError::Conflict(_))));
    domain::orgs::set_role(&state.db, &ann, &org, "ben", Role::Owner, "t")
        .await
        .unwrap();
    domain::orgs::remove_member(&state.db, &ann, &org, "ann", "t")
        .await
        .unwrap();

    assert!(domain::orgs::can_publish_as(&state.db, &ben, &org)
        .await
        .unwrap());
    assert!(!domain::orgs::can_publish_as(&state.db, &cat, &org)
        .await
        .unwrap());
    assert!(!domain::orgs::can_publish_as(&state.db, &ann, &org)
        .await
        .unwrap());
    let members: Vec<_> = domain::orgs::members(&state.db, org.id)
        .await
        .unwrap()
        .into_iter()
        .map(|(u, r)| (u.username, r))
        .collect();
    assert_eq!(
        members,
        vec![
            ("ben".to_owned(), Role::Owner),
            ("cat".to_owned(), Role::Member)
        ]
    );
}

#[tokio::test]
async fn only_the_newest_reset_link_works_a_password_change_ends_it_and_the_outbox_keeps_neither() {
    let (state, mail, _dir) = state_with_mail().await;
    let carol = person(&state, "carol").await;
    domain::recovery::request_password_reset(&state, "carol@example.org", "t")
        .await
        .unwrap();
    let first = link_token(&mail, "/reset-password/");
    domain::recovery::request_password_reset(&state, "carol@example.org", "t")
        .await
        .unwrap();
    let second = link_token(&mail, "/reset-password/");
    assert_ne!(first, second);
    let superseded =
        domain::recovery::reset_password(&state, &first, "a new long passphrase", "t").await;
    assert!(
        matches!(superseded, Err(DomainError::Invalid { field: "token", .. })),
        "{superseded:?}"
    );

    let kept = domain::entities::outbox::Entity::find()
        .all(&state.db)
        .await
        .unwrap();
    assert_eq!(kept.len(), 2);
    for message in &kept {
        assert!(!message.body.contains(&first) && !message.body.contains(&second));
        assert!(
            message.body.contains("/reset-password/[redacted]"),
            "{}",
            message.body
        );
    }

    domain::accounts::change_password(
        &state,
        &carol,
        "no-session",
        "a long enough passphrase",
        "a changed long passphrase",
        "t",
    )
    .await
    .unwrap();
    let after_change =
        domain::recovery::reset_password(&state, &second, "a new long passphrase", "t").await;
    assert!(
        matches!(
            after_change,
            Err(DomainError::Invalid { field: "token", .. })
        ),
        "{after_change:?}"
    );
    assert!(mail_token::Entity::find()
        .all(&state.db)
        .await
        .unwrap()
        .is_empty());
}

/// Links followed at the same moment, each in a transaction of its own: every one confirms.
/// A transaction that read the token before deleting it failed on SQLite with "database is
/// locked" whenever another confirmation wrote in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_followed_at_once_all_confirm() {
    let (state, _dir) = state().await;
    let mut tokens = Vec::new();
    for i in 0..16 {
        let person = person(&state, &format!("guest{i}")).await;
        tokens.push(
            domain::recovery::send_verification(&state, &person)
                .await
                .unwrap(),
        );
    }
    let confirmations = tokens.into_iter().map(|token| {
        let state = state.clone();
        tokio::spawn(async move { domain::recovery::verify_email(&state, &token, "t").await })
    });
    for confirmed in futures::future::join_all(confirmations).await {
        assert!(confirmed.unwrap().unwrap().email_verified_at.is_some());
    }
}

/// Two owners demote each other at the same moment: one change wins, the organization keeps
/// an owner, and neither request fails on a locked database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_demoting_each_other_at_once_leave_one_owner() {
    let (state, _dir) = state().await;
    let (ann, ben) = (person(&state, "ann").await, person(&state, "ben").await);
    // A race: several rounds, each in an organization of its own.
    for round in 0..8 {
        let org = domain::orgs::create(&state.db, &ann, &format!("pair{round}"), "Pair", "t")
            .await
            .unwrap();
        join(&state, &ann, &org, &ben, Role::Owner).await;
        let demote = |actor: user::Model, target: &'static str| {
            let (db, org) = (state.db.clone(), org.clone());
            tokio::spawn(async move {
                domain::orgs::set_role(&db, &actor, &org, target, Role::Member, "t").await
            })
        };
        let (first, second) = (demote(ann.clone(), "ben"), demote(ben.clone(), "ann"));
        let outcomes = [first.await.unwrap(), second.await.unwrap()];
        assert_eq!(
            outcomes.iter().filter(|o| o.is_ok()).count(),
            1,
            "{outcomes:?}"
        );
        assert!(
            outcomes
                .iter()
                .all(|o| !matches!(o, Err(DomainError::Database(_)))),
            "{outcomes:?}"
        );
        let owners = domain::orgs::members(&state.db, org.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|(_, role)| *role == Role::Owner)
            .count();
        assert_eq!(owners, 1);
    }
}
