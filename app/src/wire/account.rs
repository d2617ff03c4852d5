//! What the account, organization and admin pages show. Times are pre-formatted on the
//! server (UTC), so the browser needs no date library.
use serde::{Deserialize, Serialize};

/// Who is looking at the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub username: String,
    pub is_admin: bool,
    pub is_publisher: bool,
}

/// What a sign-up answers: the same whether the address was new or already an account's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignUpSent {
    /// Where the confirmation link went.
    pub email: String,
    /// The link itself (a path on this site), only on an install that sends no e-mail and
    /// that nobody else can reach, and only for a new account.
    pub link: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountOverview {
    pub username: String,
    pub display_name: String,
    pub bio: String,
    pub links: Vec<String>,
    pub avatar_url: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub is_publisher: bool,
    pub is_admin: bool,
    /// The models the account owns (not deleted), which deleting it hands over or hides.
    pub owned_models: u64,
    /// The organizations it owns or administers: where it publishes, and where its models can
    /// be handed when it is deleted.
    pub managed_orgs: Vec<OrgRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    pub id: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub user_agent: String,
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub scope: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

/// A token just created: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub token: TokenRow,
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgRow {
    pub name: String,
    pub display_name: String,
    pub role: String,
}

/// The viewer's organizations and the invitations waiting for their answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgsOverview {
    pub orgs: Vec<OrgRow>,
    pub invitations: Vec<InvitationRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationRow {
    pub org: String,
    pub org_display_name: String,
    /// The person invited.
    pub username: String,
    pub role: String,
    pub invited_by: String,
    pub created_at: String,
    /// The viewer may withdraw it.
    pub cancellable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRow {
    pub username: String,
    pub role: String,
    /// The viewer may remove this member (or, when it is the viewer, leave).
    pub removable: bool,
    pub is_you: bool,
}

/// What the viewer may do in an organization, as the server's rules answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgPermissions {
    pub invite: bool,
    /// The roles the viewer may invite people as.
    pub invite_roles: Vec<String>,
    pub change_roles: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgDetail {
    pub name: String,
    pub display_name: String,
    pub my_role: String,
    pub may: OrgPermissions,
    pub members: Vec<MemberRow>,
    /// Pending invitations, shown to those who may invite.
    pub invitations: Vec<InvitationRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub actor: String,
    /// In what capacity: `user`, `admin`, `visitor`, `cli` or `system`.
    pub actor_kind: String,
    pub action: String,
    pub subject: String,
    pub ip: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRow {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub created_at: String,
    /// "sent", "queued" (kept in the outbox only) or the delivery error.
    pub status: String,
}

/// A file already stored in a version, as its publisher sees it on the upload page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftFile {
    pub path: String,
    pub size: i64,
    pub format: String,
    /// What the header said, in a few words (opset, parameters, quantisation…).
    pub details: String,
    pub is_demo: bool,
}

/// The upload page's data: the listing, the draft version files go into, and its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingDraft {
    pub owner: String,
    pub slug: String,
    pub name: String,
    pub is_published: bool,
    /// The newest unpublished version, if any.
    pub draft: Option<String>,
    pub files: Vec<DraftFile>,
    /// Published versions, newest first.
    pub published: Vec<String>,
}

/// The listing settings page's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingSettings {
    pub owner: String,
    pub slug: String,
    pub name: String,
    pub summary: String,
    pub task: String,
    /// Comma-separated, as the form edits them.
    pub tags: String,
    pub card: String,
    pub is_published: bool,
    /// Publishing the listing needs at least one.
    pub published_versions: u32,
}

/// A deleted listing awaiting an admin's purge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedListingRow {
    pub id: i64,
    pub owner: String,
    pub slug: String,
    pub name: String,
    pub deleted_at: String,
    pub files: u64,
    pub bytes: i64,
}

impl DeletedListingRow {
    /// What a purge asks to have typed.
    pub fn confirmation(&self) -> String {
        format!("{}/{}", self.owner, self.slug)
    }
}

#[cfg(feature = "ssr")]
impl From<domain::listings::DeletedListing> for DeletedListingRow {
    fn from(d: domain::listings::DeletedListing) -> Self {
        Self {
            id: d.listing.id,
            owner: d.owner.username,
            slug: d.listing.slug,
            name: d.listing.name,
            deleted_at: d
                .listing
                .deleted_at
                .map(crate::api::request::when)
                .unwrap_or_default(),
            files: d.files,
            bytes: d.bytes,
        }
    }
}
