//! Periodic work shared by every instance: a job runs where its lease was taken, so with
//! several instances each run happens once. The lease is one conditional UPDATE, atomic on
//! SQLite and PostgreSQL alike.
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use crate::entities::job_lease;
use crate::error::DomainResult;

/// Takes the lease on `name` for `lease` if nobody holds it; returns whether it was taken.
pub async fn try_lease(
    db: &DatabaseConnection,
    name: &str,
    holder: &str,
    lease: Duration,
    now: DateTime<Utc>,
) -> DomainResult<bool> {
    job_lease::Entity::insert(job_lease::ActiveModel {
        name: Set(name.to_owned()),
        leased_until: Set(DateTime::<Utc>::UNIX_EPOCH),
        leased_by: Set(String::new()),
        last_finished_at: Set(None),
    })
    .on_conflict(
        OnConflict::column(job_lease::Column::Name)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::hours(1));
    let taken = job_lease::Entity::update_many()
        .col_expr(job_lease::Column::LeasedUntil, until.into())
        .col_expr(job_lease::Column::LeasedBy, holder.into())
        .filter(job_lease::Column::Name.eq(name))
        .filter(job_lease::Column::LeasedUntil.lt(now))
        .exec(db)
        .await?
        .rows_affected;
    Ok(taken == 1)
}

/// Records that the holder finished a run (the lease stays until it runs out, so the next
/// run waits for the period).
async fn finished(db: &DatabaseConnection, name: &str) -> DomainResult<()> {
    job_lease::Entity::update_many()
        .col_expr(job_lease::Column::LastFinishedAt, Some(Utc::now()).into())
        .filter(job_lease::Column::Name.eq(name))
        .exec(db)
        .await?;
    Ok(())
}

/// Runs `job` about every `every`, on one instance at a time.
pub async fn run_periodically<F, Fut>(
    db: DatabaseConnection,
    name: &'static str,
    every: Duration,
    job: F,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = DomainResult<()>>,
{
    let holder = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
    loop {
        tokio::time::sleep(every).await;
        match try_lease(&db, name, &holder, every, Utc::now()).await {
            Ok(true) => {
                if let Err(err) = job().await {
                    tracing::warn!(job = name, error = %err, "periodic job failed");
                }
                if let Err(err) = finished(&db, name).await {
                    tracing::warn!(job = name, error = %err, "recording a finished job");
                }
            }
            Ok(false) => {}
            Err(err) => tracing::warn!(job = name, error = %err, "taking a job's lease"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use migrations::MigratorTrait;

    #[tokio::test]
    async fn one_holder_at_a_time_until_the_lease_runs_out() {
        let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        migrations::Migrator::up(&db, None).await.unwrap();
        let now = Utc::now();
        let minute = Duration::from_secs(60);
        assert!(try_lease(&db, "reconcile", "a", minute, now).await.unwrap());
        assert!(!try_lease(&db, "reconcile", "b", minute, now).await.unwrap());
        assert!(
            try_lease(&db, "other", "b", minute, now).await.unwrap(),
            "per job"
        );
        let later = now + chrono::Duration::seconds(61);
        assert!(try_lease(&db, "reconcile", "b", minute, later)
            .await
            .unwrap());
    }
}
