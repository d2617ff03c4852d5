//! One outbox for every e-mail. Each message is kept first, so an admin sees what the site
//! sent (the admin outbox page), then handed to the transport: SMTP when configured, else the
//! server's log (a fresh install's newcomer finds the link there), or a capture for tests.
//! A message's secret (the token in its link) goes to the transport only: the kept copy says
//! `[redacted]` instead, so reading the outbox never gives a live link.
use std::sync::{Arc, Mutex};

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

/// What the kept copy of a message shows in place of its secret.
pub const REDACTED: &str = "[redacted]";

/// An e-mail to send.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// The live secret in `body` (a link's token): delivered, never kept.
    pub secret: Option<String>,
}

impl Mail {
    pub fn new(to: &str, subject: &str, body: String) -> Self {
        Self {
            to: to.to_owned(),
            subject: subject.to_owned(),
            body,
            secret: None,
        }
    }

    pub fn with_secret(mut self, secret: &str) -> Self {
        self.secret = Some(secret.to_owned());
        self
    }

    /// The body as the outbox keeps it.
    pub fn redacted_body(&self) -> String {
        match self.secret.as_deref() {
            Some(secret) if !secret.is_empty() => self.body.replace(secret, REDACTED),
            _ => self.body.clone(),
        }
    }
}

/// A message as the transport received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// A transport that keeps what it is given in memory, for tests to read.
#[derive(Debug, Clone, Default)]
pub struct MailCapture(Arc<Mutex<Vec<SentMail>>>);

impl MailCapture {
    pub fn all(&self) -> Vec<SentMail> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The newest message to `to` (compared without case), if any.
    pub fn last_to(&self, to: &str) -> Option<SentMail> {
        self.all()
            .into_iter()
            .rev()
            .find(|m| m.to.eq_ignore_ascii_case(to))
    }

    fn push(&self, mail: SentMail) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(mail);
    }
}

#[derive(Clone)]
enum Transport {
    /// No mail server: the message goes to the server's log.
    Log,
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Capture(MailCapture),
}

#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

impl Default for Mailer {
    fn default() -> Self {
        Self {
            transport: Transport::Log,
            from: "Bazaar <bazaar@localhost>"
                .parse()
                .expect("a valid mailbox"),
        }
    }
}

impl Mailer {
    /// `smtp_url` as lettre reads it: `smtp://user:pass@host:587?tls=required` or
    /// `smtps://user:pass@host:465`. `None` writes messages to the server's log.
    pub fn new(smtp_url: Option<&str>, from: &str) -> Result<Self, String> {
        let from = parse_from(from)?;
        let transport = match smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map(|builder| builder.build())
                    .map_err(|e| format!("smtp_url is not usable: {e}"))?,
            ),
            None => Transport::Log,
        };
        Ok(Self { transport, from })
    }

    /// A mailer that hands every message to `capture` (tests).
    pub fn capturing(capture: MailCapture, from: &str) -> Result<Self, String> {
        Ok(Self {
            transport: Transport::Capture(capture),
            from: parse_from(from)?,
        })
    }

    /// Whether messages reach a real mail server (SMTP).
    pub fn delivers(&self) -> bool {
        matches!(self.transport, Transport::Smtp(_))
    }

    /// Keeps the redacted copy and hands the real message to the transport, without making
    /// the caller wait for SMTP (a slow mail server must not slow a request, nor reveal
    /// whether an address has an account by how long the answer takes).
    pub async fn send(&self, db: &DatabaseConnection, mail: Mail) -> DomainResult<outbox::Model> {
        let row = outbox::ActiveModel {
            recipient: Set(mail.to.clone()),
            subject: Set(mail.subject.clone()),
            body: Set(mail.redacted_body()),
            created_at: Set(Utc::now()),
            sent_at: Set(None),
            error: Set(None),
            ..Default::default()
        }
        .insert(db)
        .await?;
        match &self.transport {
            Transport::Log => tracing::info!(
                to = %mail.to,
                subject = %mail.subject,
                "no mail server is configured (smtp_url), so this e-mail is only logged:\n{}",
                mail.body
            ),
            Transport::Capture(capture) => capture.push(SentMail {
                to: mail.to,
                subject: mail.subject,
                body: mail.body,
            }),
            Transport::Smtp(smtp) => {
                let message = Message::builder()
                    .from(self.from.clone())
                    .to(mail
                        .to
                        .parse()
                        .map_err(|e| DomainError::invalid("email", format!("{e}")))?)
                    .subject(mail.subject)
                    .body(mail.body)
                    .map_err(|e| DomainError::Internal(format!("building an e-mail: {e}")))?;
                let (smtp, db, id) = (smtp.clone(), db.clone(), row.id);
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
        }
        Ok(row)
    }
}

fn parse_from(from: &str) -> Result<Mailbox, String> {
    from.parse()
        .map_err(|e| format!("mail_from {from:?} is not a mailbox: {e}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_copy_has_no_secret_and_the_sent_one_has_it() {
        let mail = Mail::new(
            "a@example.org",
            "Reset",
            "open https://x.example/reset-password/abc123 once; abc123 again".into(),
        )
        .with_secret("abc123");
        let kept = mail.redacted_body();
        assert!(!kept.contains("abc123"), "{kept}");
        assert_eq!(
            kept,
            "open https://x.example/reset-password/[redacted] once; [redacted] again"
        );
        assert!(mail.body.contains("abc123"));
        let empty = Mail::new("a@example.org", "Hi", "plain".into()).with_secret("");
        assert_eq!(
            empty.redacted_body(),
            "plain",
            "an empty secret changes nothing"
        );
    }
}
