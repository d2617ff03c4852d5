//! Creating publishers, listings, versions and files. A listing is hidden until its first
//! version is complete, and a published version never changes.
use bytes::Bytes;
use chrono::Utc;
use futures::{Stream, StreamExt};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, SqlErr,
};

use crate::card;
use crate::entities::{file, model, model_version, user};
use crate::error::{DomainError, DomainResult};
use crate::formats::Inspector;
use crate::names::{
    check_display_name, check_file_path, check_slug, check_username, check_version_name,
    username_key,
};
use crate::storage::Storage;

pub struct NewPublisher<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub bio: &'a str,
}

pub async fn create_publisher(
    db: &impl ConnectionTrait,
    new: NewPublisher<'_>,
) -> DomainResult<user::Model> {
    check_username(new.username)?;
    check_text("display_name", new.display_name, 1, 100)?;
    check_display_name("display_name", new.display_name)?;
    let row = user::ActiveModel {
        username: Set(new.username.to_owned()),
        username_key: Set(username_key(new.username)),
        display_name: Set(new.display_name.to_owned()),
        bio: Set(new.bio.to_owned()),
        is_publisher: Set(true),
        created_at: Set(Utc::now()),
        // Set rather than left to the column default: SQLite's RETURNING now and then
        // read NULL for a default that a later migration added (a pooled connection from before).
        links: Set(String::new()),
        ..Default::default()
    };
    row.insert(db)
        .await
        .map_err(|e| conflict_or(e, format!("the username '{}' is taken", new.username)))
}

pub struct NewModel<'a> {
    pub owner_id: i64,
    pub slug: &'a str,
    pub name: &'a str,
    pub summary: &'a str,
    pub task: &'a str,
    pub tags: &'a [String],
    pub card: &'a str,
}

/// Creates an unpublished listing; it shows in the catalog once [`publish_model`] is called.
pub async fn create_model(
    db: &impl ConnectionTrait,
    new: NewModel<'_>,
) -> DomainResult<model::Model> {
    check_slug(new.slug)?;
    check_listing_fields(new.name, new.summary, new.task, new.tags, new.card)?;
    let now = Utc::now();
    let row = model::ActiveModel {
        owner_id: Set(new.owner_id),
        slug: Set(new.slug.to_owned()),
        name: Set(new.name.to_owned()),
        summary: Set(new.summary.to_owned()),
        task: Set(new.task.to_owned()),
        tags: Set(serde_json::json!(new.tags)),
        card: Set(new.card.to_owned()),
        is_published: Set(false),
        downloads: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    row.insert(db)
        .await
        .map_err(|e| conflict_or(e, format!("you already have a model named '{}'", new.slug)))
}

/// The rules for a listing's descriptive fields, on creation and on every edit.
pub fn check_listing_fields(
    name: &str,
    summary: &str,
    task: &str,
    tags: &[String],
    card: &str,
) -> DomainResult<()> {
    check_text("name", name, 1, 120)?;
    // A model's name is shown as its title, like a publisher's display name.
    check_display_name("name", name)?;
    check_text("summary", summary, 0, 300)?;
    if task.trim().is_empty() {
        return Err(DomainError::invalid(
            "task",
            "choose the task the model does",
        ));
    }
    check_text("task", task, 1, 64)?;
    if tags.len() > 20 || tags.iter().any(|t| t.is_empty() || t.len() > 50) {
        return Err(DomainError::invalid(
            "tags",
            "at most 20 tags of 1 to 50 characters",
        ));
    }
    card::parse(card).map_err(|e| DomainError::invalid("card", e.to_string()))?;
    Ok(())
}

pub async fn publish_model(
    db: &impl ConnectionTrait,
    model: model::Model,
) -> DomainResult<model::Model> {
    let mut row: model::ActiveModel = model.into();
    row.is_published = Set(true);
    row.updated_at = Set(Utc::now());
    Ok(row.update(db).await?)
}

pub async fn create_version(
    db: &impl ConnectionTrait,
    model_id: i64,
    version: &str,
    changelog: &str,
) -> DomainResult<model_version::Model> {
    check_version_name(version)?;
    check_text("changelog", changelog, 0, 20_000)?;
    let row = model_version::ActiveModel {
        model_id: Set(model_id),
        version: Set(version.to_owned()),
        changelog: Set(changelog.to_owned()),
        published_at: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    row.insert(db)
        .await
        .map_err(|e| conflict_or(e, format!("version '{version}' already exists")))
}

/// Streams a file into storage and records it in a draft version, inspected on the way as
/// uploads are (format, header metadata, pickles refused). The row is written only after the
/// object is complete and checked; on any refusal the object is deleted again.
pub async fn add_file<S>(
    db: &impl ConnectionTrait,
    storage: &Storage,
    version: &model_version::Model,
    path: &str,
    body: S,
    is_demo: bool,
) -> DomainResult<file::Model>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
{
    check_file_path(path)?;
    // As the version is now, not as the caller last read it.
    let current = model_version::Entity::find_by_id(version.id)
        .one(db)
        .await?;
    if current.is_none_or(|v| v.published_at.is_some()) {
        return Err(DomainError::Conflict(format!(
            "version '{}' is published and can no longer change",
            version.version
        )));
    }
    let mut inspector =
        Inspector::for_file(path).map_err(|e| DomainError::invalid("path", e.to_string()))?;
    let mut refusal = None;
    let inspected = body.map(|chunk| {
        let chunk = chunk?;
        if let Err(e) = inspector.feed(&chunk) {
            let message = e.to_string();
            refusal = Some(DomainError::invalid("file", message.clone()));
            return Err(std::io::Error::other(message));
        }
        Ok(chunk)
    });
    let stored = storage.put_stream(inspected).await;
    if let Some(refusal) = refusal {
        return Err(refusal);
    }
    let stored = stored?;
    let metadata = match inspector.finish() {
        Ok(metadata) => metadata,
        Err(e) => {
            storage.delete(&stored.key).await.ok();
            return Err(DomainError::invalid("file", e.to_string()));
        }
    };
    let row = file::ActiveModel {
        version_id: Set(version.id),
        path: Set(path.to_owned()),
        object_key: Set(stored.key.clone()),
        size: Set(stored.size as i64),
        sha256: Set(stored.sha256),
        format: Set(metadata.kind().as_str().to_owned()),
        metadata: Set(Some(serde_json::to_value(&metadata).unwrap_or_default())),
        is_demo: Set(is_demo),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    match row.insert(db).await {
        Ok(file) => Ok(file),
        Err(e) => {
            if let Err(cleanup) = storage.delete(&stored.key).await {
                tracing::warn!(key = %stored.key, error = %cleanup, "could not delete orphaned object");
            }
            Err(conflict_or(
                e,
                format!("the version already has a file named {path:?}"),
            ))
        }
    }
}

/// Marks the file the card's `demo:` block names as the version's public demo. It must be
/// an ONNX file of this version, since the page runs it. Publishers' versions and the seed
/// both pass through here, after the listing's offers are in place.
pub async fn mark_demo(
    db: &impl ConnectionTrait,
    listing: &model::Model,
    draft: &model_version::Model,
) -> DomainResult<()> {
    let Some(spec) = crate::card::demo_spec(&listing.card) else {
        return Ok(());
    };
    let demo_file = spec.file.clone();
    let file = file::Entity::find()
        .filter(file::Column::VersionId.eq(draft.id))
        .filter(file::Column::Path.eq(&demo_file))
        .one(db)
        .await?
        .ok_or_else(|| {
            DomainError::Conflict(format!(
                "the model card's demo names '{demo_file}', which version {} does not have",
                draft.version
            ))
        })?;
    if file.format != "onnx" {
        return Err(DomainError::Conflict(format!(
            "the demo file '{demo_file}' must be an ONNX model, not {}",
            file.format
        )));
    }
    // A license must sell something the free demo does not give away.
    let sold = crate::catalog::active_offers(db, vec![listing.id])
        .await?
        .iter()
        .any(|o| o.kind != crate::catalog::LicenseKind::Open.as_str());
    if sold {
        let twin = file::Entity::find()
            .filter(file::Column::VersionId.eq(draft.id))
            .filter(file::Column::Sha256.eq(&file.sha256))
            .filter(file::Column::Id.ne(file.id))
            .one(db)
            .await?;
        if let Some(twin) = twin {
            return Err(DomainError::Conflict(format!(
                "the demo file '{demo_file}' is byte-identical to '{}', which the license sells: \
                 the free demo of a paid or gated model must be a different, smaller or coarser \
                 model",
                twin.path
            )));
        }
    }
    let mut row: file::ActiveModel = file.into();
    row.is_demo = Set(true);
    row.update(db).await?;
    // Its labels and vocabulary are public with it: the page's widget reads them.
    for companion in spec.companions() {
        let file = file::Entity::find()
            .filter(file::Column::VersionId.eq(draft.id))
            .filter(file::Column::Path.eq(companion))
            .one(db)
            .await?
            .ok_or_else(|| {
                DomainError::Conflict(format!(
                    "the model card's demo names '{companion}', which version {} does not have",
                    draft.version
                ))
            })?;
        let mut row: file::ActiveModel = file.into();
        row.is_demo = Set(true);
        row.update(db).await?;
    }
    Ok(())
}

pub async fn publish_version(
    db: &impl ConnectionTrait,
    version: model_version::Model,
) -> DomainResult<model_version::Model> {
    if version.published_at.is_some() {
        return Ok(version);
    }
    // Only a draft is stamped: two requests publishing at once both succeed, and the second
    // does not touch the version the first froze (the database refuses changes to it).
    model_version::Entity::update_many()
        .col_expr(model_version::Column::PublishedAt, Some(Utc::now()).into())
        .filter(model_version::Column::Id.eq(version.id))
        .filter(model_version::Column::PublishedAt.is_null())
        .exec(db)
        .await?;
    model_version::Entity::find_by_id(version.id)
        .one(db)
        .await?
        .ok_or(DomainError::NotFound("version"))
}

pub async fn find_model(db: &impl ConnectionTrait, id: i64) -> DomainResult<model::Model> {
    model::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(DomainError::NotFound("model"))
}

fn check_text(field: &'static str, value: &str, min: usize, max: usize) -> DomainResult<()> {
    let len = value.trim().chars().count();
    if len < min || value.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("must be {min} to {max} characters"),
        ));
    }
    Ok(())
}

fn conflict_or(err: DbErr, message: String) -> DomainError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => DomainError::Conflict(message),
        _ => frozen_or(err),
    }
}

/// The database's own guard (migration m0008) refusing to change a published version: a
/// conflict, as the checks before it would have said had the version not just been published.
pub(crate) fn frozen_or(err: DbErr) -> DomainError {
    if err.to_string().contains("published and immutable") {
        DomainError::Conflict("the version is published and can no longer change".into())
    } else {
        DomainError::Database(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use migrations::{Migrator, MigratorTrait};

    #[test]
    fn a_model_name_may_not_reorder_itself_with_bidi_controls() {
        for name in ["Llama\u{202E}txt.exe", "\u{2066}model", "model\u{200F}"] {
            match check_listing_fields(name, "", "text-classification", &[], "") {
                Err(DomainError::Invalid { field, .. }) => assert_eq!(field, "name", "{name:?}"),
                other => panic!("{name:?}: {other:?}"),
            }
        }
        // Joiners are part of Persian and Indic words.
        check_listing_fields("می\u{200C}خواهم", "", "text-classification", &[], "").unwrap();
    }

    async fn setup() -> (AppStateForTest, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let storage = Storage::from_url(dir.path().join("objects").to_str().unwrap()).unwrap();
        let state = crate::AppState::connect(&url, storage).await.unwrap();
        Migrator::up(&state.db, None).await.unwrap();
        let owner = create_publisher(
            &state.db,
            NewPublisher {
                username: "acme",
                display_name: "Acme",
                bio: "",
            },
        )
        .await
        .unwrap();
        (
            AppStateForTest {
                state,
                owner_id: owner.id,
            },
            dir,
        )
    }

    struct AppStateForTest {
        state: crate::AppState,
        owner_id: i64,
    }

    fn new_model(owner_id: i64, slug: &str) -> NewModel<'_> {
        NewModel {
            owner_id,
            slug,
            name: "A model",
            summary: "",
            task: "tabular",
            tags: &[],
            card: "# Card",
        }
    }

    fn body(bytes: &'static [u8]) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
        futures::stream::iter([Ok(Bytes::from_static(bytes))])
    }

    #[tokio::test]
    async fn a_published_version_refuses_new_files() {
        let (t, _dir) = setup().await;
        let db = &t.state.db;
        let model = create_model(db, new_model(t.owner_id, "m")).await.unwrap();
        let version = create_version(db, model.id, "1.0.0", "").await.unwrap();
        add_file(db, &t.state.storage, &version, "a.txt", body(b"a"), false)
            .await
            .unwrap();
        let version = publish_version(db, version).await.unwrap();
        let err = add_file(db, &t.state.storage, &version, "b.txt", body(b"b"), false)
            .await
            .unwrap_err();
        assert!(
            matches!(err, DomainError::Conflict(ref m) if m.contains("published")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_version_read_before_it_was_published_cannot_add_files() {
        let (t, _dir) = setup().await;
        let db = &t.state.db;
        let model = create_model(db, new_model(t.owner_id, "m")).await.unwrap();
        let draft = create_version(db, model.id, "1.0.0", "").await.unwrap();
        add_file(db, &t.state.storage, &draft, "a.txt", body(b"a"), false)
            .await
            .unwrap();
        publish_version(db, draft.clone()).await.unwrap();
        // `draft` still says "not published": the version as it is now decides.
        let err = add_file(db, &t.state.storage, &draft, "b.txt", body(b"b"), false)
            .await
            .unwrap_err();
        assert!(
            matches!(err, DomainError::Conflict(ref m) if m.contains("published")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn duplicates_are_conflicts_not_database_errors() {
        let (t, _dir) = setup().await;
        let db = &t.state.db;
        let model = create_model(db, new_model(t.owner_id, "m")).await.unwrap();
        let err = create_model(db, new_model(t.owner_id, "m"))
            .await
            .unwrap_err();
        assert!(matches!(err, DomainError::Conflict(_)), "{err}");
        let version = create_version(db, model.id, "1.0.0", "").await.unwrap();
        assert!(matches!(
            create_version(db, model.id, "1.0.0", "").await,
            Err(DomainError::Conflict(_))
        ));
        add_file(db, &t.state.storage, &version, "a.txt", body(b"a"), false)
            .await
            .unwrap();
        let err = add_file(db, &t.state.storage, &version, "a.txt", body(b"b"), false)
            .await
            .unwrap_err();
        assert!(matches!(err, DomainError::Conflict(_)), "{err}");
        let err = create_publisher(
            db,
            NewPublisher {
                username: "acme",
                display_name: "Again",
                bio: "",
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, DomainError::Conflict(_)), "{err}");
    }

    #[tokio::test]
    async fn invalid_input_names_the_field() {
        let (t, _dir) = setup().await;
        let db = &t.state.db;
        let cases = [
            (
                NewModel {
                    slug: "Bad Slug",
                    ..new_model(t.owner_id, "")
                },
                "slug",
            ),
            (
                NewModel {
                    name: "",
                    ..new_model(t.owner_id, "ok")
                },
                "name",
            ),
            (
                NewModel {
                    card: "---\nlicense: [\n---\n",
                    ..new_model(t.owner_id, "ok")
                },
                "card",
            ),
        ];
        for (input, field) in cases {
            match create_model(db, input).await {
                Err(DomainError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("expected {field} to be rejected, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_rejected_file_row_leaves_no_object_behind() {
        let (t, dir) = setup().await;
        let db = &t.state.db;
        let model = create_model(db, new_model(t.owner_id, "m")).await.unwrap();
        let version = create_version(db, model.id, "1.0.0", "").await.unwrap();
        add_file(
            db,
            &t.state.storage,
            &version,
            "a.txt",
            body(b"first"),
            false,
        )
        .await
        .unwrap();
        add_file(
            db,
            &t.state.storage,
            &version,
            "a.txt",
            body(b"second"),
            false,
        )
        .await
        .unwrap_err();
        let objects = std::fs::read_dir(dir.path().join("objects/objects"))
            .unwrap()
            .count();
        assert_eq!(objects, 1, "the duplicate's bytes were deleted again");
    }
}
