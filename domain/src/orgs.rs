//! Organizations: accounts that people share. An organization is a `users` row of kind `org`
//! (so it shares the namespace and can own models), with members in one of three roles.
//! Owners manage everything; admins invite and remove plain members; members belong (a later
//! licensing rule lets an organization's licenses cover them). Owners and admins publish.
//! People join by accepting an invitation (see `invitations`). What each role may do is
//! answered by [`Permissions`], for the rules here and for the pages alike.
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};

use crate::audit::{self, Action, Actor};
use crate::entities::{membership, user};
use crate::error::{DomainError, DomainResult};
use crate::names::{check_display_name, check_username, normalize_username, username_key};

mod invitations;
pub use invitations::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    pub fn parse(raw: &str) -> DomainResult<Self> {
        match raw {
            "member" => Ok(Self::Member),
            "admin" => Ok(Self::Admin),
            "owner" => Ok(Self::Owner),
            _ => Err(DomainError::invalid(
                "role",
                "choose owner, admin or member",
            )),
        }
    }
}

/// What the holder of a role may do in an organization. Site admins act as owners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permissions {
    pub role: Role,
}

impl Permissions {
    /// Owners and admins invite people.
    pub fn may_invite(self) -> bool {
        self.role >= Role::Admin
    }

    /// Whether they may give `role` to someone, by invitation: owners give any role, admins
    /// only the plain member's.
    pub fn may_grant(self, role: Role) -> bool {
        self.role == Role::Owner || (self.may_invite() && role == Role::Member)
    }

    /// The roles they may invite people as, lowest first.
    pub fn grantable(self) -> Vec<Role> {
        [Role::Member, Role::Admin, Role::Owner]
            .into_iter()
            .filter(|role| self.may_grant(*role))
            .collect()
    }

    /// Only owners change roles.
    pub fn may_change_roles(self) -> bool {
        self.role == Role::Owner
    }

    /// Whether they may remove someone holding `role` (or cancel their invitation): owners
    /// remove anyone, admins plain members. Anyone may leave.
    pub fn may_remove(self, role: Role) -> bool {
        self.may_grant(role)
    }

    /// The refusal for someone whose role falls short of what an action needs.
    fn refusal(self, needed: Role) -> DomainError {
        DomainError::Forbidden(format!(
            "only an organization {} can do this",
            if needed == Role::Owner {
                "owner"
            } else {
                "admin or owner"
            }
        ))
    }
}

/// Creates an organization with `creator` as its owner.
pub async fn create(
    db: &DatabaseConnection,
    creator: &user::Model,
    name: &str,
    display_name: &str,
    ip: &str,
) -> DomainResult<user::Model> {
    if creator.is_org() {
        return Err(DomainError::Forbidden(
            "an organization cannot create organizations".into(),
        ));
    }
    let name = normalize_username(name);
    // The form calls it the organization's name.
    check_username(&name).map_err(|e| match e {
        DomainError::Invalid { message, .. } => DomainError::invalid("name", message),
        other => other,
    })?;
    let display_name = display_name.trim();
    let display_name = if display_name.is_empty() {
        name.as_str()
    } else {
        display_name
    };
    if display_name.chars().count() > 100 {
        return Err(DomainError::invalid(
            "display_name",
            "use at most 100 characters",
        ));
    }
    check_display_name("display_name", display_name)?;
    let txn = db.begin().await?;
    let org = user::ActiveModel {
        username: Set(name.clone()),
        username_key: Set(username_key(&name)),
        display_name: Set(display_name.to_owned()),
        bio: Set(String::new()),
        kind: Set(user::KIND_ORG.to_owned()),
        is_publisher: Set(true),
        created_at: Set(Utc::now()),
        // Set rather than left to the column default: SQLite's RETURNING now and then
        // read NULL for a default that a later migration added (a pooled connection from before).
        links: Set(String::new()),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            DomainError::invalid("name", format!("'{name}' is taken"))
        }
        _ => DomainError::Database(e),
    })?;
    insert_membership(&txn, org.id, creator.id, Role::Owner).await?;
    audit::record(&txn, Actor::user(creator, ip), Action::OrgCreate, &name).await?;
    txn.commit().await?;
    Ok(org)
}

async fn insert_membership(
    db: &impl ConnectionTrait,
    org_id: i64,
    user_id: i64,
    role: Role,
) -> DomainResult<()> {
    membership::ActiveModel {
        org_id: Set(org_id),
        user_id: Set(user_id),
        role: Set(role.as_str().to_owned()),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn role_of(
    db: &impl ConnectionTrait,
    org_id: i64,
    user_id: i64,
) -> DomainResult<Option<Role>> {
    Ok(membership::Entity::find_by_id((org_id, user_id))
        .one(db)
        .await?
        .and_then(|m| Role::parse(&m.role).ok()))
}

/// The organization named `name`, or `NotFound`.
pub async fn find(db: &impl ConnectionTrait, name: &str) -> DomainResult<user::Model> {
    user::Entity::find()
        .filter(user::Column::UsernameKey.eq(username_key(name)))
        .filter(user::Column::Kind.eq(user::KIND_ORG))
        .one(db)
        .await?
        .ok_or(DomainError::NotFound("organization"))
}

/// Members with their roles, owners first.
pub async fn members(
    db: &impl ConnectionTrait,
    org_id: i64,
) -> DomainResult<Vec<(user::Model, Role)>> {
    let rows = membership::Entity::find()
        .filter(membership::Column::OrgId.eq(org_id))
        .all(db)
        .await?;
    let mut members = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(user) = user::Entity::find_by_id(row.user_id).one(db).await? {
            members.push((user, Role::parse(&row.role)?));
        }
    }
    members.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| a.0.username_key.cmp(&b.0.username_key))
    });
    Ok(members)
}

/// The organizations `user_id` belongs to, with the role held in each.
pub async fn orgs_of(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> DomainResult<Vec<(user::Model, Role)>> {
    let rows = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .order_by_asc(membership::Column::OrgId)
        .all(db)
        .await?;
    let mut orgs = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(org) = user::Entity::find_by_id(row.org_id).one(db).await? {
            orgs.push((org, Role::parse(&row.role)?));
        }
    }
    Ok(orgs)
}

/// What `actor` may do in the organization; refuses anyone who is not a member (site admins
/// act as owners).
pub async fn permissions(
    db: &impl ConnectionTrait,
    org: &user::Model,
    actor: &user::Model,
) -> DomainResult<Permissions> {
    if actor.is_admin {
        return Ok(Permissions { role: Role::Owner });
    }
    match role_of(db, org.id, actor.id).await? {
        Some(role) => Ok(Permissions { role }),
        None => Err(DomainError::Forbidden(format!(
            "you are not a member of {}",
            org.username
        ))),
    }
}

/// The person (not an organization, not a deleted account) called `username`.
async fn find_person(db: &impl ConnectionTrait, username: &str) -> DomainResult<user::Model> {
    user::Entity::find()
        .filter(user::Column::UsernameKey.eq(username_key(username.trim())))
        .filter(user::Column::Kind.eq(user::KIND_USER))
        .one(db)
        .await?
        .filter(|person| !crate::account_deletion::is_deleted(person))
        .ok_or_else(|| {
            DomainError::invalid(
                "username",
                format!("no user is called '{}'", username.trim()),
            )
        })
}

/// Changes a member's role; owners only, and the last owner cannot step down.
pub async fn set_role(
    db: &DatabaseConnection,
    actor: &user::Model,
    org: &user::Model,
    username: &str,
    role: Role,
    ip: &str,
) -> DomainResult<()> {
    let may = permissions(db, org, actor).await?;
    if !may.may_change_roles() {
        return Err(may.refusal(Role::Owner));
    }
    let person = find_person(db, username).await?;
    let txn = db.begin().await?;
    // Changes to one organization's members take turns, so two of them cannot both see
    // another owner and leave none.
    crate::locks::lock_user(&txn, org.id).await?;
    let current = role_of(&txn, org.id, person.id)
        .await?
        .ok_or(DomainError::NotFound("member"))?;
    if current == Role::Owner && role != Role::Owner {
        ensure_another_owner(&txn, org.id, person.id).await?;
    }
    membership::ActiveModel {
        org_id: Set(org.id),
        user_id: Set(person.id),
        role: Set(role.as_str().to_owned()),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    audit::record(
        &txn,
        Actor::user(actor, ip),
        Action::RoleChange,
        &format!(
            "{} in {}: {} → {}",
            person.username,
            org.username,
            current.as_str(),
            role.as_str()
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Removes a member. Owners remove anyone, admins remove plain members, anyone may leave;
/// an organization always keeps an owner.
pub async fn remove_member(
    db: &DatabaseConnection,
    actor: &user::Model,
    org: &user::Model,
    username: &str,
    ip: &str,
) -> DomainResult<()> {
    let person = find_person(db, username).await?;
    let txn = db.begin().await?;
    // Changes to one organization's members take turns, so two of them cannot both see
    // another owner and leave none.
    crate::locks::lock_user(&txn, org.id).await?;
    let current = role_of(&txn, org.id, person.id)
        .await?
        .ok_or(DomainError::NotFound("member"))?;
    if person.id != actor.id {
        let may = permissions(&txn, org, actor).await?;
        if !may.may_remove(current) {
            let needed = if current == Role::Member {
                Role::Admin
            } else {
                Role::Owner
            };
            return Err(may.refusal(needed));
        }
    }
    if current == Role::Owner {
        ensure_another_owner(&txn, org.id, person.id).await?;
    }
    membership::Entity::delete_by_id((org.id, person.id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        Actor::user(actor, ip),
        Action::MemberRemove,
        &format!("{} from {}", person.username, org.username),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Refuses to leave the organization without an owner once `leaving` is no longer one.
pub(crate) async fn ensure_another_owner(
    db: &impl ConnectionTrait,
    org_id: i64,
    leaving: i64,
) -> DomainResult<()> {
    let others = membership::Entity::find()
        .filter(membership::Column::OrgId.eq(org_id))
        .filter(membership::Column::Role.eq(Role::Owner.as_str()))
        .filter(membership::Column::UserId.ne(leaving))
        .all(db)
        .await?;
    if others.is_empty() {
        Err(DomainError::Conflict(
            "an organization needs an owner; make someone else owner first".into(),
        ))
    } else {
        Ok(())
    }
}

/// Whether `user` may publish models owned by `owner` (themselves, or an organization in
/// which they are an owner or admin).
pub async fn can_publish_as(
    db: &impl ConnectionTrait,
    user: &user::Model,
    owner: &user::Model,
) -> DomainResult<bool> {
    if owner.id == user.id {
        return Ok(user.is_publisher);
    }
    if !owner.is_org() {
        return Ok(user.is_admin);
    }
    Ok(user.is_admin
        || role_of(db, owner.id, user.id)
            .await?
            .is_some_and(|r| r >= Role::Admin))
}
