//! The e-mail digest of notices (issue 15 §1): at the frequency each citizen chooses (never,
//! weekly, monthly; `[digest] default_frequency` until they choose), a plain-text e-mail in their
//! language listing the notices since their last digest — who used which information, why and
//! when, with links to each record and its proof — sent to their current `email` fact (from
//! sign-in claims, changed like any fact at `/me/update`).
//!
//! The job (`broker serve`, every `check_every_secs`) first runs a *pass* for each period that
//! has ended: the pass's bounds in the audit log are fixed by the first instance to start it
//! (`digest_passes`), and each citizen with notices in those bounds gets one digest row keyed by
//! (citizen, period). Then it sends pending digests, each claimed by one instance before the SMTP
//! conversation. So a restart finishes an interrupted pass with the same bounds and sends what
//! was pending, and no digest is ever sent twice: a digest that was being sent when its instance
//! died is marked `interrupted`, not sent again (its notices stay on the citizen's page).
//!
//! INVARIANT: a digest holds no attribute value (it is made from audit records, which name
//! attributes only), and neither logs nor stored errors hold the citizen's address.

pub mod compose;
mod entities;
pub mod mailer;
pub mod schedule;
pub mod settings;

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};

use crate::audit_log::about;
use crate::audit_log::query::RecordView;
use crate::error::Error;
use crate::lang::Lang;
use crate::notices::ACTIONS;
use crate::vault::Vault;
use entities::{digest, digest_pass, digest_preference};
use mailer::{Mailer, Sent};
use schedule::{Cadence, Period};
pub use settings::{DigestConfig, SmtpConfig, SmtpSecurity};

/// How often a citizen gets a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    Never,
    Weekly,
    #[default]
    Monthly,
}

impl Frequency {
    pub const ALL: [Frequency; 3] = [Frequency::Never, Frequency::Weekly, Frequency::Monthly];

    pub const fn as_str(self) -> &'static str {
        match self {
            Frequency::Never => "never",
            Frequency::Weekly => "weekly",
            Frequency::Monthly => "monthly",
        }
    }

    pub fn parse(s: &str) -> Option<Frequency> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// What became of a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Sending,
    Sent,
    /// Refused by the SMTP server for good, or not taken after `max_attempts`.
    Failed,
    /// Its instance stopped while sending it: it may or may not have gone, so it is not sent again.
    Interrupted,
    /// The citizen has no usable e-mail address.
    NoAddress,
    /// The citizen chose `never` after it was made.
    Cancelled,
}

impl Status {
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
            Status::NoAddress => "no_address",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Pending,
            Status::Sending,
            Status::Sent,
            Status::Failed,
            Status::Interrupted,
            Status::NoAddress,
            Status::Cancelled,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// A citizen's choice (or the default when they have not chosen).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preferences {
    pub frequency: Frequency,
    /// The language they chose; `None`: their `preferred_language` fact, else English.
    pub lang: Option<Lang>,
    /// Whether the citizen chose (false: the configured default applies).
    pub chosen: bool,
}

/// One digest as the citizen sees it in their settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestView {
    pub period: String,
    pub status: Status,
    pub sent_at: Option<i64>,
    pub created_at: i64,
}

/// What one turn of the job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Turn {
    pub created: u64,
    pub sent: u64,
    pub retried: u64,
    pub failed: u64,
}

/// Most notices listed in one digest (the rest are counted, and on the page).
pub const LISTED: u64 = 20;
/// Most digests sent in one turn (the next turn goes on).
const SEND_BATCH: u64 = 200;

/// The digest service.
#[derive(Debug, Clone)]
pub struct Digests {
    pub db: DatabaseConnection,
    pub vault: Arc<Vault>,
    pub policy: Arc<policies::PolicyEngine>,
    pub issuer: Arc<str>,
    pub settings: Arc<DigestConfig>,
    /// `None` when digests are not enabled.
    pub mailer: Option<Mailer>,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// `broker_notice_digests_total{outcome}`: what became of each digest the job tried to send.
pub const DIGESTS_METRIC: &str = "broker_notice_digests_total";

impl Digests {
    pub fn cadence(&self) -> Cadence {
        Cadence::of(self.settings.compressed_week_secs)
    }

    /// The citizen's choice, or the default.
    pub async fn preferences(&self, citizen_id: &str) -> Result<Preferences, Error> {
        let row = digest_preference::Entity::find_by_id(citizen_id.to_owned())
            .one(&self.db)
            .await?;
        let Some(row) = row else {
            return Ok(Preferences {
                frequency: self.settings.default_frequency,
                lang: None,
                chosen: false,
            });
        };
        let frequency = Frequency::parse(&row.frequency)
            .ok_or_else(|| Error::Internal("a stored digest frequency is unknown".into()))?;
        let lang = Lang::parse(&row.lang)
            .ok_or_else(|| Error::Internal("a stored digest language is unknown".into()))?;
        Ok(Preferences {
            frequency,
            lang: Some(lang),
            chosen: true,
        })
    }

    /// Records the citizen's choice.
    pub async fn choose(
        &self,
        citizen_id: &str,
        frequency: Frequency,
        lang: Lang,
    ) -> Result<(), Error> {
        let row = digest_preference::ActiveModel {
            citizen_id: Set(citizen_id.to_owned()),
            frequency: Set(frequency.as_str().to_owned()),
            lang: Set(lang.code().to_owned()),
            updated_at: Set(store::now_ms()),
        };
        digest_preference::Entity::insert(row)
            .on_conflict(
                OnConflict::column(digest_preference::Column::CitizenId)
                    .update_columns([
                        digest_preference::Column::Frequency,
                        digest_preference::Column::Lang,
                        digest_preference::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Where the citizen's digests go: their current `email` fact (shown to them only).
    pub async fn address(&self, citizen_id: &str) -> Result<Option<String>, Error> {
        let fact =
            crate::citizens::current_fact(&self.db, &self.vault, citizen_id, "email").await?;
        Ok(fact.and_then(|f| f.value.as_str().map(str::to_owned)))
    }

    /// The citizen's latest digests, newest first.
    pub async fn recent(&self, citizen_id: &str, limit: u64) -> Result<Vec<DigestView>, Error> {
        let rows = digest::Entity::find()
            .filter(digest::Column::CitizenId.eq(citizen_id))
            .order_by_desc(digest::Column::CreatedAt)
            .limit(limit)
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(DigestView {
                    status: status(&r.status)?,
                    period: r.period,
                    sent_at: r.sent_at,
                    created_at: r.created_at,
                })
            })
            .collect()
    }

    /// Runs the job until shutdown.
    pub async fn run(self, mut shutdown: crate::Shutdown) {
        let every = Duration::from_secs(self.settings.check_every_secs.max(1));
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    match self.turn(store::now_ms()).await {
                        Ok(t) if t != Turn::default() => tracing::info!(
                            created = t.created, sent = t.sent, retried = t.retried,
                            failed = t.failed, "notice digests"
                        ),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "cannot run the notice digests"),
                    }
                }
                _ = shutdown.changed() => break,
            }
        }
    }

    /// One turn at `now_ms`: digests of the periods that have ended, then the pending ones sent.
    pub async fn turn(&self, now_ms: i64) -> Result<Turn, Error> {
        let mut turn = Turn::default();
        self.interrupt_stale_claims(now_ms).await?;
        for frequency in [Frequency::Weekly, Frequency::Monthly] {
            if let Some(period) = self.cadence().last_ended(frequency, now_ms) {
                turn.created += self.pass(frequency, &period, now_ms).await?;
            }
        }
        if self.mailer.is_some() {
            self.send_pending(now_ms, &mut turn).await?;
        }
        Ok(turn)
    }

    /// A digest claimed longer ago than any send can last was being sent when its instance
    /// stopped: it may have gone, so it is never sent again.
    async fn interrupt_stale_claims(&self, now_ms: i64) -> Result<(), Error> {
        let lease_ms = i64::try_from(self.settings.smtp.timeout_secs.max(1))
            .unwrap_or(i64::MAX / 4_000)
            .saturating_mul(4_000)
            .saturating_add(60_000);
        let stale = digest::Entity::update_many()
            .col_expr(
                digest::Column::Status,
                Expr::value(Status::Interrupted.as_str()),
            )
            .col_expr(
                digest::Column::LastError,
                Expr::value("interrupted while being sent; not sent again"),
            )
            .filter(digest::Column::Status.eq(Status::Sending.as_str()))
            .filter(digest::Column::ClaimedAt.lt(now_ms.saturating_sub(lease_ms)))
            .exec(&self.db)
            .await?;
        if stale.rows_affected > 0 {
            tracing::warn!(
                digests = stale.rows_affected,
                "notice digests interrupted while being sent; not sent again"
            );
        }
        Ok(())
    }

    /// The pass for one period that has ended: a digest row for each citizen who has notices in
    /// it and gets digests at this frequency. Returns how many digests it made.
    async fn pass(&self, frequency: Frequency, period: &Period, now_ms: i64) -> Result<u64, Error> {
        let existing = digest_pass::Entity::find_by_id(period.key.clone())
            .one(&self.db)
            .await?;
        let pass = match existing {
            Some(p) if p.completed_at.is_some() => return Ok(0),
            Some(p) => p,
            None => self.start_pass(frequency, period, now_ms).await?,
        };
        let bounds = (pass.from_seq, pass.up_to_seq);
        let mut created = 0;
        if bounds.0 < bounds.1 {
            let candidates = about::citizens_between(&self.db, &ACTIONS, bounds).await?;
            for chunk in candidates.chunks(500) {
                let chosen = self.chosen_frequencies(chunk).await?;
                for citizen in chunk {
                    let f = chosen
                        .iter()
                        .find(|(c, _)| c == citizen)
                        .map_or(self.settings.default_frequency, |(_, f)| *f);
                    if f == frequency
                        && self
                            .make_digest(citizen, &period.key, bounds, now_ms)
                            .await?
                    {
                        created += 1;
                    }
                }
            }
        }
        digest_pass::Entity::update_many()
            .col_expr(digest_pass::Column::CompletedAt, Expr::value(now_ms))
            .filter(digest_pass::Column::Period.eq(period.key.as_str()))
            .filter(digest_pass::Column::CompletedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(created)
    }

    /// Fixes a pass's bounds: after the previous pass of the same frequency (or, for the first,
    /// the last record before the period began), up to the newest record now. The first instance
    /// to write them wins; every instance then uses the stored bounds.
    async fn start_pass(
        &self,
        frequency: Frequency,
        period: &Period,
        now_ms: i64,
    ) -> Result<digest_pass::Model, Error> {
        let previous: Option<i64> = digest_pass::Entity::find()
            .select_only()
            .column_as(digest_pass::Column::UpToSeq.max(), "up_to")
            .filter(digest_pass::Column::Frequency.eq(frequency.as_str()))
            .filter(digest_pass::Column::CompletedAt.is_not_null())
            .into_tuple::<Option<i64>>()
            .one(&self.db)
            .await?
            .flatten();
        let from_seq = match previous {
            Some(seq) => seq,
            None => about::last_seq(&self.db, Some(period.start_ms)).await?,
        };
        let up_to_seq = about::last_seq(&self.db, None).await?.max(from_seq);
        let row = digest_pass::ActiveModel {
            period: Set(period.key.clone()),
            frequency: Set(frequency.as_str().to_owned()),
            from_seq: Set(from_seq),
            up_to_seq: Set(up_to_seq),
            started_at: Set(now_ms),
            completed_at: Set(None),
        };
        let inserted = digest_pass::Entity::insert(row)
            .on_conflict(
                OnConflict::column(digest_pass::Column::Period)
                    .do_nothing()
                    .to_owned(),
            )
            .exec(&self.db)
            .await;
        match inserted {
            Ok(_) | Err(sea_orm::DbErr::RecordNotInserted) => {}
            Err(e) => return Err(e.into()),
        }
        digest_pass::Entity::find_by_id(period.key.clone())
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::Internal("a digest pass vanished".into()))
    }

    async fn chosen_frequencies(
        &self,
        citizens: &[String],
    ) -> Result<Vec<(String, Frequency)>, Error> {
        let rows = digest_preference::Entity::find()
            .filter(digest_preference::Column::CitizenId.is_in(citizens.iter().map(String::as_str)))
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|r| {
                let f = Frequency::parse(&r.frequency).ok_or_else(|| {
                    Error::Internal("a stored digest frequency is unknown".into())
                })?;
                Ok((r.citizen_id, f))
            })
            .collect()
    }

    /// The citizen's digest for `period`, from after their last digest (never repeating a
    /// notice). False when it exists already or nothing is new.
    async fn make_digest(
        &self,
        citizen_id: &str,
        period: &str,
        (pass_from, up_to): (i64, i64),
        now_ms: i64,
    ) -> Result<bool, Error> {
        let last: Option<i64> = digest::Entity::find()
            .select_only()
            .column_as(digest::Column::ToSeq.max(), "to_seq")
            .filter(digest::Column::CitizenId.eq(citizen_id))
            .into_tuple::<Option<i64>>()
            .one(&self.db)
            .await?
            .flatten();
        let from_seq = last.map_or(pass_from, |l| l.max(pass_from));
        if from_seq >= up_to
            || about::count_between(&self.db, citizen_id, &ACTIONS, (from_seq, up_to)).await? == 0
        {
            return Ok(false);
        }
        let row = digest::ActiveModel {
            citizen_id: Set(citizen_id.to_owned()),
            period: Set(period.to_owned()),
            id: Set(uuid::Uuid::now_v7().to_string()),
            from_seq: Set(from_seq),
            to_seq: Set(up_to),
            status: Set(Status::Pending.as_str().to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(now_ms),
            claimed_at: Set(None),
            sent_at: Set(None),
            last_error: Set(None),
            created_at: Set(now_ms),
        };
        let inserted = digest::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([digest::Column::CitizenId, digest::Column::Period])
                    .do_nothing()
                    .to_owned(),
            )
            .exec(&self.db)
            .await;
        match inserted {
            Ok(_) => Ok(true),
            Err(sea_orm::DbErr::RecordNotInserted) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn send_pending(&self, now_ms: i64, turn: &mut Turn) -> Result<(), Error> {
        let due = digest::Entity::find()
            .filter(digest::Column::Status.eq(Status::Pending.as_str()))
            .filter(digest::Column::NextAttemptAt.lte(now_ms))
            .order_by_asc(digest::Column::NextAttemptAt)
            .limit(SEND_BATCH)
            .all(&self.db)
            .await?;
        for d in due {
            // Claimed by exactly one instance, before anything is sent.
            let claimed = digest::Entity::update_many()
                .col_expr(
                    digest::Column::Status,
                    Expr::value(Status::Sending.as_str()),
                )
                .col_expr(digest::Column::ClaimedAt, Expr::value(now_ms))
                .filter(digest::Column::CitizenId.eq(d.citizen_id.as_str()))
                .filter(digest::Column::Period.eq(d.period.as_str()))
                .filter(digest::Column::Status.eq(Status::Pending.as_str()))
                .exec(&self.db)
                .await?;
            if claimed.rows_affected != 1 {
                continue;
            }
            let (status, error) = match self.deliver(&d).await {
                Ok(outcome) => outcome,
                Err(e) => (
                    Status::Pending,
                    Some(format!("cannot prepare the digest: {e}")),
                ),
            };
            let attempts = d.attempts.saturating_add(1);
            let (status, next) = match status {
                Status::Pending
                    if u32::try_from(attempts).unwrap_or(u32::MAX)
                        >= self.settings.max_attempts =>
                {
                    (Status::Failed, d.next_attempt_at)
                }
                Status::Pending => (
                    Status::Pending,
                    now_ms.saturating_add(backoff_ms(self.settings.retry_after_secs, attempts)),
                ),
                other => (other, d.next_attempt_at),
            };
            self.metrics.inc(
                DIGESTS_METRIC,
                format!(
                    "outcome=\"{}\"",
                    match status {
                        Status::Pending => "retry",
                        other => other.as_str(),
                    }
                ),
            );
            match status {
                Status::Sent => turn.sent += 1,
                Status::Pending => turn.retried += 1,
                _ => turn.failed += 1,
            }
            if let Some(reason) = &error {
                tracing::warn!(digest = %d.id, period = %d.period, status = status.as_str(), %reason, "notice digest not sent");
            } else {
                tracing::info!(digest = %d.id, period = %d.period, "notice digest sent");
            }
            digest::Entity::update_many()
                .col_expr(digest::Column::Status, Expr::value(status.as_str()))
                .col_expr(digest::Column::Attempts, Expr::value(attempts))
                .col_expr(digest::Column::NextAttemptAt, Expr::value(next))
                .col_expr(
                    digest::Column::SentAt,
                    Expr::value((status == Status::Sent).then_some(now_ms)),
                )
                .col_expr(digest::Column::LastError, Expr::value(error))
                .filter(digest::Column::CitizenId.eq(d.citizen_id.as_str()))
                .filter(digest::Column::Period.eq(d.period.as_str()))
                .filter(digest::Column::Status.eq(Status::Sending.as_str()))
                .filter(digest::Column::ClaimedAt.eq(now_ms))
                .exec(&self.db)
                .await?;
        }
        Ok(())
    }

    /// Composes and sends one claimed digest: its next status, and why when not sent.
    async fn deliver(&self, d: &digest::Model) -> Result<(Status, Option<String>), Error> {
        let Some(mailer) = &self.mailer else {
            return Ok((Status::Pending, Some("digests are not enabled".into())));
        };
        let preferences = self.preferences(&d.citizen_id).await?;
        if preferences.frequency == Frequency::Never {
            return Ok((
                Status::Cancelled,
                Some("the citizen stopped digests".into()),
            ));
        }
        // Nobody reads an erased citizen's notices, and a deceased citizen's are for their estate
        // to ask for, not to be mailed on.
        let citizen = crate::citizens::get(&self.db, &d.citizen_id).await?;
        if citizen.is_none_or(|c| c.status != crate::citizens::Status::Active) {
            return Ok((
                Status::Cancelled,
                Some("the citizen's record is erased or closed".into()),
            ));
        }
        let facts = crate::citizens::current_facts(
            &self.db,
            &self.vault,
            &d.citizen_id,
            Some(&["email", "preferred_language"]),
        )
        .await?;
        let fact = |name: &str| {
            facts
                .iter()
                .find(|f| f.attribute == name)
                .and_then(|f| f.value.as_str().map(str::to_owned))
        };
        let Some(address) = fact("email") else {
            return Ok((
                Status::NoAddress,
                Some("the citizen has no e-mail address".into()),
            ));
        };
        let lang = preferences
            .lang
            .or_else(|| fact("preferred_language").and_then(|l| Lang::parse(l.get(..2)?)))
            .unwrap_or_default();
        let bounds = (d.from_seq, d.to_seq);
        let records = about::between(&self.db, &d.citizen_id, &ACTIONS, bounds, LISTED).await?;
        let total = about::count_between(&self.db, &d.citizen_id, &ACTIONS, bounds).await?;
        let views: Vec<RecordView> = records.iter().map(RecordView::of).collect();
        let text = compose::digest(lang, self.policy.catalogue(), &self.issuer, &views, total);
        Ok(
            match mailer.send(&address, lang.code(), &d.id, &text).await {
                Sent::Accepted => (Status::Sent, None),
                Sent::Refused(reason) => (Status::Failed, Some(reason)),
                Sent::Later(reason) => (Status::Pending, Some(reason)),
            },
        )
    }
}

/// `first_secs` after the first failure, doubling, at most six hours.
fn backoff_ms(first_secs: u64, attempts: i32) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(0);
    i64::try_from(first_secs.max(1))
        .unwrap_or(i64::MAX)
        .saturating_mul(1_000)
        .saturating_mul(1_i64 << doublings)
        .min(6 * 3_600_000)
}

fn status(s: &str) -> Result<Status, Error> {
    Status::parse(s).ok_or_else(|| Error::Internal("a stored digest status is unknown".into()))
}

#[cfg(test)]
mod tests;
