//! Who a request acts for, as the server's authentication layer established it once per
//! request: a browser session, or an API token with its scope.
use crate::entities::user;
use crate::error::{DomainError, DomainResult};
use crate::tokens::Scope;

#[derive(Debug, Clone)]
pub struct Caller {
    pub user: user::Model,
    pub credential: Credential,
}

#[derive(Debug, Clone)]
pub enum Credential {
    /// The browser's session token (needed to tell the current session from the others).
    Session {
        token: String,
    },
    ApiToken {
        id: i64,
        scope: Scope,
    },
}

impl Caller {
    /// Refuses a token whose scope does not cover `needed`; sessions may do anything their
    /// user may.
    pub fn require_scope(&self, needed: Scope) -> DomainResult<&user::Model> {
        match self.credential {
            Credential::ApiToken { scope, .. } if !scope.allows(needed) => {
                Err(DomainError::Forbidden(format!(
                    "this token's scope does not allow {}",
                    needed.as_str()
                )))
            }
            _ => Ok(&self.user),
        }
    }

    pub fn session_token(&self) -> Option<&str> {
        match &self.credential {
            Credential::Session { token } => Some(token),
            Credential::ApiToken { .. } => None,
        }
    }
}

/// Whether the request reached the site over https (directly, or through a trusted proxy
/// that says so), as the server determined it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecureTransport(pub bool);
