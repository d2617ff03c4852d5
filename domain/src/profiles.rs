//! What an account shows about itself on its public page: display name, bio, links and a
//! picture. Every account edits its own; the picture is an object in storage, served only
//! while it is someone's current picture.
use bytes::Bytes;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::audit::{self, Action, Actor};
use crate::entities::user;
use crate::error::{DomainError, DomainResult};
use crate::names::check_display_name;
use crate::state::AppState;

pub const MAX_BIO_CHARS: usize = 400;
pub const MAX_LINKS: usize = 5;
pub const MAX_LINK_CHARS: usize = 200;
/// Pictures are shown at most 160 px wide; a megabyte is plenty.
pub const MAX_AVATAR_BYTES: usize = 1024 * 1024;

/// What a person sends to edit their profile. `links` holds one address per line.
pub struct ProfileFields<'a> {
    pub display_name: &'a str,
    pub bio: &'a str,
    pub links: &'a str,
}

/// Checks and saves the profile's text fields.
pub async fn update(
    state: &AppState,
    person: &user::Model,
    fields: ProfileFields<'_>,
    ip: &str,
) -> DomainResult<user::Model> {
    let display_name = fields.display_name.trim();
    let display_name = if display_name.is_empty() {
        person.username.as_str()
    } else {
        display_name
    };
    if display_name.chars().count() > 100 {
        return Err(DomainError::invalid(
            "display_name",
            "must be at most 100 characters",
        ));
    }
    check_display_name("display_name", display_name)?;
    let bio = fields.bio.trim();
    if bio.chars().count() > MAX_BIO_CHARS {
        return Err(DomainError::invalid(
            "bio",
            format!("must be at most {MAX_BIO_CHARS} characters"),
        ));
    }
    check_display_name("bio", bio)?;
    let links = parse_links(fields.links)?;
    let mut row: user::ActiveModel = person.clone().into();
    row.display_name = Set(display_name.to_owned());
    row.bio = Set(bio.to_owned());
    row.links = Set(links.join("\n"));
    let saved = row.update(&state.db).await?;
    audit::record(
        &state.db,
        Actor::user(person, ip),
        Action::ProfileUpdate,
        &person.username,
    )
    .await?;
    Ok(saved)
}

/// The links of a profile, one per line: at most [`MAX_LINKS`] `http`/`https` addresses with a
/// host, blank lines ignored.
pub fn parse_links(raw: &str) -> DomainResult<Vec<String>> {
    let links: Vec<String> = raw
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if links.len() > MAX_LINKS {
        return Err(DomainError::invalid(
            "links",
            format!("add at most {MAX_LINKS} links"),
        ));
    }
    for link in &links {
        check_link(link)?;
    }
    Ok(links)
}

fn check_link(link: &str) -> DomainResult<()> {
    let refuse = |why: &str| Err(DomainError::invalid("links", format!("{link:?} {why}")));
    if link.chars().count() > MAX_LINK_CHARS {
        return refuse(&format!("is longer than {MAX_LINK_CHARS} characters"));
    }
    let Some(rest) = link
        .strip_prefix("https://")
        .or_else(|| link.strip_prefix("http://"))
    else {
        return refuse("must start with https:// or http://");
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_ok = !host.is_empty()
        && !host.contains('@')
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !host_ok {
        return refuse("has no valid host name");
    }
    if link.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return refuse("may not contain spaces");
    }
    Ok(())
}

/// The kinds of picture accepted, told by their first bytes (never by what the client says):
/// PNG, JPEG, GIF and WebP. SVG is refused: it can carry script.
pub fn picture_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Stores `bytes` as the person's new picture and removes the old one.
pub async fn set_avatar(
    state: &AppState,
    person: &user::Model,
    bytes: Bytes,
    ip: &str,
) -> DomainResult<user::Model> {
    if bytes.is_empty() {
        return Err(DomainError::invalid("avatar", "choose a picture to upload"));
    }
    if bytes.len() > MAX_AVATAR_BYTES {
        return Err(DomainError::invalid(
            "avatar",
            "must be at most 1 MB; a square of 400 pixels is plenty",
        ));
    }
    if picture_type(&bytes).is_none() {
        return Err(DomainError::invalid(
            "avatar",
            "must be a PNG, JPEG, GIF or WebP image",
        ));
    }
    let stored = state.storage.put_bytes(bytes).await?;
    replace_avatar(state, person, Some(stored.key), ip).await
}

/// Removes the person's picture; their initial shows instead.
pub async fn remove_avatar(
    state: &AppState,
    person: &user::Model,
    ip: &str,
) -> DomainResult<user::Model> {
    replace_avatar(state, person, None, ip).await
}

async fn replace_avatar(
    state: &AppState,
    person: &user::Model,
    key: Option<String>,
    ip: &str,
) -> DomainResult<user::Model> {
    let old = person.avatar_key.clone();
    let mut row: user::ActiveModel = person.clone().into();
    row.avatar_key = Set(key);
    let saved = row.update(&state.db).await?;
    // The row no longer refers to the old picture, so it is never served again.
    if let Some(old) = old {
        if let Err(e) = state.storage.delete(&old).await {
            tracing::warn!(key = %old, error = %e, "deleting a replaced profile picture");
        }
    }
    audit::record(
        &state.db,
        Actor::user(person, ip),
        Action::ProfileUpdate,
        &person.username,
    )
    .await?;
    Ok(saved)
}

/// A current profile picture by the last part of its [`avatar_url`], with its type;
/// `NotFound` for anything else (so no other object in storage can be fetched this way).
pub async fn avatar(state: &AppState, url_key: &str) -> DomainResult<(Bytes, &'static str)> {
    let key = format!("{KEY_PREFIX}{url_key}");
    let owner = user::Entity::find()
        .filter(user::Column::AvatarKey.eq(&key))
        .one(&state.db)
        .await?;
    if owner.is_none() {
        return Err(DomainError::NotFound("picture"));
    }
    let bytes = state.storage.read_all(&key).await?;
    let kind = picture_type(&bytes).ok_or(DomainError::NotFound("picture"))?;
    Ok((bytes, kind))
}

/// The address of `person`'s picture, if they have one.
pub fn picture_url(person: &user::Model) -> Option<String> {
    person.avatar_key.as_deref().map(avatar_url)
}

/// `person`'s links, as [`update`] stored them (one per line).
pub fn links(person: &user::Model) -> Vec<String> {
    person.links.lines().map(str::to_owned).collect()
}

/// Where the page loads a picture from: the key in the path makes each picture's address
/// unique, so it can be cached for good.
pub fn avatar_url(key: &str) -> String {
    format!("/api/v1/avatars/{}", key.trim_start_matches(KEY_PREFIX))
}

/// Every object key begins so (see [`crate::Storage::new_object_key`]).
const KEY_PREFIX: &str = "objects/";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_must_be_web_addresses_with_a_host() {
        assert_eq!(
            parse_links("https://example.org/me\n\n  http://a.b/c?d=e  \n").unwrap(),
            ["https://example.org/me", "http://a.b/c?d=e"]
        );
        for bad in [
            "javascript:alert(1)",
            "ftp://example.org",
            "https://",
            "https://user@evil.example",
            "https://exa mple.org",
            "//example.org",
        ] {
            assert!(parse_links(bad).is_err(), "{bad:?} was accepted");
        }
        let six = "https://a.org\n".repeat(6);
        assert!(parse_links(&six).is_err());
        let long = format!("https://a.org/{}", "x".repeat(MAX_LINK_CHARS));
        assert!(parse_links(&long).is_err());
    }

    #[test]
    fn pictures_are_told_by_their_bytes() {
        assert_eq!(picture_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(picture_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(picture_type(b"GIF89a..."), Some("image/gif"));
        assert_eq!(picture_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(
            picture_type(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            None
        );
        assert_eq!(picture_type(b"<html>"), None);
        assert_eq!(picture_type(b""), None);
    }
}
