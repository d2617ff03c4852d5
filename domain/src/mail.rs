//! One outbox for every e-mail. Each message is stored first, so a fresh install without
//! SMTP still shows what it would have sent (the admin outbox page); with SMTP configured it
//! is then delivered in the background and marked sent, or marked with the error.
use chrono::Utc;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryOrder, QuerySelect,
};

use crate::audit::require_admin;
use crate::entities::{outbox, user};
use crate::error::{DomainError, DomainResult};

#[derive(Clone)]
pub struct Mailer {
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
}

impl Default for Mailer {
    fn default() -> Self {
        Self {
            smtp: None,
            from: "Bazaar <bazaar@localhost>"
                .parse()
                .expect("a valid mailbox"),
        }
    }
}

impl Mailer {
    /// `smtp_url` as lettre reads it: `smtp://user:pass@host:587?tls=required` or
    /// `smtps://user:pass@host:465`. `None` keeps messages in the outbox only.
    pub fn new(smtp_url: Option<&str>, from: &str) -> Result<Self, String> {
        let from = from
            .parse()
            .map_err(|e| format!("mail_from {from:?} is not a mailbox: {e}"))?;
        let smtp = smtp_url
            .map(|url| {
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map(|builder| builder.build())
                    .map_err(|e| format!("smtp_url is not usable: {e}"))
            })
            .transpose()?;
        Ok(Self { smtp, from })
    }

    /// Stores the message and, when SMTP is configured, delivers it without making the
    /// caller wait (a slow mail server must not slow a request, nor reveal whether an
    /// address has an account by how long the answer takes).
    pub async fn send(
        &self,
        db: &DatabaseConnection,
        to: &str,
        subject: &str,
        body: String,
    ) -> DomainResult<outbox::Model> {
        let row = outbox::ActiveModel {
            recipient: Set(to.to_owned()),
            subject: Set(subject.to_owned()),
            body: Set(body.clone()),
            created_at: Set(Utc::now()),
            sent_at: Set(None),
            error: Set(None),
            ..Default::default()
        }
        .insert(db)
        .await?;
        if let Some(smtp) = self.smtp.clone() {
            let message = Message::builder()
                .from(self.from.clone())
                .to(to
                    .parse()
                    .map_err(|e| DomainError::invalid("email", format!("{e}")))?)
                .subject(subject)
                .body(body)
                .map_err(|e| DomainError::Internal(format!("building an e-mail: {e}")))?;
            let (db, id) = (db.clone(), row.id);
            tokio::spawn(async move {
                let outcome = smtp.send(message).await;
                let mut row: outbox::ActiveModel = outbox::ActiveModel {
                    id: Set(id),
                    ..Default::default()
                };
                match outcome {
                    Ok(_) => row.sent_at = Set(Some(Utc::now())),
                    Err(e) => {
                        tracing::warn!(error = %e, "e-mail delivery failed");
                        row.error = Set(Some(e.to_string()));
                    }
                }
                if let Err(e) = row.update(&db).await {
                    tracing::error!(error = %e, "recording an e-mail's delivery");
                }
            });
        }
        Ok(row)
    }
}

/// The newest messages first, for the admin outbox page.
pub async fn recent(
    db: &impl ConnectionTrait,
    viewer: &user::Model,
    limit: u64,
) -> DomainResult<Vec<outbox::Model>> {
    require_admin(viewer)?;
    Ok(outbox::Entity::find()
        .order_by_desc(outbox::Column::Id)
        .limit(limit.min(500))
        .all(db)
        .await?)
}
