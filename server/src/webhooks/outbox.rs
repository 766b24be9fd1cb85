//! The one API over the `webhook_events` outbox: recover held events, claim due ones
//! under a lease, record attempt outcomes in batches, resend, and list deliveries.
//! Events are added by the `writer`'s turns ([`commit_turn`]), or by
//! `db::outbox::insert_held` inside the transaction of the session change they come from.

use crate::db::outbox::{new_event_id, NewEvent, HELD};
use serde::Serialize;
use sqlx::{FromRow, SqliteConnection, SqlitePool};
use utoipa::ToSchema;

#[derive(Debug, Clone, FromRow)]
pub struct Claimed {
    pub id: i64,
    pub event_id: String,
    pub user_id: i64,
    pub kind: String,
    pub payload: String,
    pub media: Option<String>,
    pub attempts: i64,
}

impl Claimed {
    /// An event just committed (row id and `webhook-id` as the insert answered), ready
    /// for its first attempt.
    pub fn fresh(event: NewEvent, id: i64, event_id: String) -> Self {
        let NewEvent { user_id, kind, payload, media, .. } = event;
        Self { id, event_id, user_id, kind: kind.to_owned(), payload, media, attempts: 0 }
    }
}

/// After a crash (or a stop) no attempt is in flight: every leased event, including
/// those held in memory for their first attempt, is held again and returned as
/// `(id, user_id)` in event order, to be queued before anything new.
pub async fn recover(pool: &SqlitePool) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    let mut rows: Vec<(i64, i64)> = sqlx::query_as(
        "UPDATE webhook_events SET lease_until = ?1, next_attempt_at = ?1 \
         WHERE state = 'pending' AND lease_until > 0 RETURNING id, user_id",
    )
    .bind(HELD)
    .fetch_all(pool)
    .await?;
    rows.sort_unstable();
    Ok(rows)
}

/// The events behind held ids that are still pending (a deleted user's are gone).
pub async fn load(pool: &SqlitePool, ids: &[i64]) -> Result<Vec<Claimed>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, event_id, user_id, kind, payload, media, attempts FROM webhook_events \
         WHERE id IN (SELECT value FROM json_each(?)) AND state = 'pending' ORDER BY id",
    )
    .bind(serde_json::to_string(ids).expect("ids serialise"))
    .fetch_all(pool)
    .await
}

/// Leases up to `limit` due events, earliest due first (a new event is due when it was
/// stored, so first attempts go out in event order), skipping users already at their
/// in-flight cap (so one slow receiver cannot take every delivery slot).
///
/// A lease also moves the event's due time to the lease's end: leased events leave the
/// due range of the partial `webhook_events_due` index, so a claim reads only what it
/// takes, however long the backlog; an attempt that never reports back falls due again.
pub async fn claim(
    pool: &SqlitePool,
    now_ms: i64,
    lease_until: i64,
    limit: i64,
    saturated_users: &[i64],
) -> Result<Vec<Claimed>, sqlx::Error> {
    let saturated = serde_json::to_string(saturated_users).expect("ids serialise");
    let _turn = crate::db::write_turn().await;
    let mut rows: Vec<Claimed> =
        sqlx::query_as(CLAIM).bind(lease_until).bind(now_ms).bind(saturated).bind(limit).fetch_all(pool).await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// The due events, from the partial index `webhook_events_due` (its WHERE terms repeated
/// word for word, or SQLite does not use it).
const CLAIM: &str = "UPDATE webhook_events SET lease_until = ?1, next_attempt_at = ?1 WHERE id IN ( \
       SELECT id FROM webhook_events \
       WHERE state = 'pending' AND next_attempt_at < 9223372036854775807 AND next_attempt_at <= ?2 \
         AND user_id NOT IN (SELECT value FROM json_each(?3)) \
       ORDER BY next_attempt_at, id LIMIT ?4) \
     RETURNING id, event_id, user_id, kind, payload, media, attempts";

const NEXT_DUE: &str = "SELECT MIN(next_attempt_at) FROM webhook_events \
     WHERE state = 'pending' AND next_attempt_at < 9223372036854775807";

/// Gives events back unattempted (claimed over a user's cap), due at once.
pub async fn release(pool: &SqlitePool, ids: &[i64]) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE webhook_events SET lease_until = 0, next_attempt_at = 0 WHERE id IN (SELECT value FROM json_each(?))",
    )
    .bind(serde_json::to_string(ids).expect("ids serialise"))
    .execute(pool)
    .await?;
    Ok(())
}

/// When the next pending event not held in memory falls due (unix ms), if any.
pub async fn next_due(pool: &SqlitePool) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(NEXT_DUE).fetch_one(pool).await
}

/// What an attempt led to.
#[derive(Debug, Clone)]
pub enum Next {
    Delivered,
    Retry {
        at_ms: i64,
    },
    Failed,
    /// The endpoint answered 410 Gone: no more attempts to it.
    Gone,
    /// No callback URL: nothing was sent.
    Skipped,
}

impl Next {
    pub fn state(&self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retry { .. } => "pending",
            Self::Failed | Self::Gone => "failed",
            Self::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: i64,
    pub user_id: i64,
    pub kind: String,
    pub url: Option<String>,
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub response_body: Option<String>,
    pub attempts: i64,
    pub next: Next,
}

/// One writer turn as one statement string: one hand-off to sqlx-sqlite's thread and one
/// prepared statement, cached for every turn, however many events and outcomes it
/// carries (they come as two JSON arrays of rows). New events are added held for their
/// first attempt; one with a repeated `dedupe_key`, or of a user deleted meanwhile, is
/// skipped and returns no row (so it cannot fail the other users' events of the turn).
/// An outcome whose event is gone (its user was deleted mid-attempt) logs nothing.
const TURN: &str = "BEGIN IMMEDIATE; \
    INSERT INTO webhook_events (event_id, user_id, kind, payload, dedupe_key, media, next_attempt_at, lease_until) \
      SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, j.value ->> 5, ?3, ?3 \
      FROM json_each(jsonb(?1)) AS j WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = j.value ->> 1) \
      ORDER BY j.key ON CONFLICT (dedupe_key) DO NOTHING RETURNING event_id, id; \
    INSERT INTO webhook_attempts (event_id, user_id, url, status_code, latency_ms, error, response_body) \
      SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, j.value ->> 5, j.value ->> 6 \
      FROM json_each(jsonb(?2)) AS j \
      WHERE j.value ->> 2 IS NOT NULL AND EXISTS (SELECT 1 FROM webhook_events e WHERE e.id = j.value ->> 0) \
      ORDER BY j.key; \
    UPDATE webhook_events SET state = j.value ->> 7, attempts = j.value ->> 8, next_attempt_at = j.value ->> 9, \
      lease_until = 0, last_status = j.value ->> 3, last_error = j.value ->> 5, \
      updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') \
      FROM json_each(jsonb(?2)) AS j WHERE webhook_events.id = j.value ->> 0; \
    UPDATE users SET callback_gone = 1 \
      WHERE id IN (SELECT j.value ->> 1 FROM json_each(jsonb(?2)) AS j WHERE j.value ->> 10); \
    COMMIT;";

/// An outcome as a row of [`TURN`]'s second array.
type OutcomeRow<'a> =
    (i64, i64, Option<&'a str>, Option<u16>, i64, Option<&'a str>, Option<&'a str>, &'static str, i64, i64, bool);

/// Commits one writer turn. Answers, per new event, its row id and `webhook-id`, or None
/// when it was skipped (see [`TURN`]). On an error nothing of the turn is kept.
pub async fn commit_turn(
    conn: &mut SqliteConnection,
    events: &[NewEvent],
    outcomes: &[Outcome],
) -> Result<Vec<Option<(i64, String)>>, sqlx::Error> {
    let ids: Vec<String> = events.iter().map(|_| new_event_id()).collect();
    let event_rows: Vec<_> =
        events.iter().zip(&ids).map(|(e, id)| (id, e.user_id, e.kind, &e.payload, &e.dedupe_key, &e.media)).collect();
    let outcome_rows: Vec<OutcomeRow> = outcomes
        .iter()
        .map(|o| {
            let next_at = match o.next {
                Next::Retry { at_ms } => at_ms,
                _ => 0,
            };
            let gone = matches!(o.next, Next::Gone);
            let (url, error, body) = (o.url.as_deref(), o.error.as_deref(), o.response_body.as_deref());
            (o.id, o.user_id, url, o.status, o.latency_ms, error, body, o.next.state(), o.attempts, next_at, gone)
        })
        .collect();
    let done: Result<Vec<(String, i64)>, sqlx::Error> = sqlx::query_as(TURN)
        .bind(serde_json::to_string(&event_rows).expect("rows serialise"))
        .bind(serde_json::to_string(&outcome_rows).expect("rows serialise"))
        .bind(HELD)
        .fetch_all(&mut *conn)
        .await;
    let stored = match done {
        Ok(stored) => stored,
        Err(e) => {
            // A statement after BEGIN failed: end the transaction it left open.
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            return Err(e);
        }
    };
    let mut stored: std::collections::HashMap<String, i64> = stored.into_iter().collect();
    Ok(ids.into_iter().map(|id| stored.remove(&id).map(|row| (row, id))).collect())
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct DeliveryRow {
    pub id: i64,
    /// The `webhook-id` header value, stable across retries.
    pub event_id: String,
    pub kind: String,
    /// `pending`, `delivered`, `failed` or `skipped`.
    pub state: String,
    pub attempts: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct AttemptRow {
    pub id: i64,
    pub url: String,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub response_body: Option<String>,
    pub attempted_at: String,
}

pub async fn page(
    pool: &SqlitePool,
    user_id: i64,
    state: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<DeliveryRow>, i64), sqlx::Error> {
    let rows = sqlx::query_as(
        "SELECT id, event_id, kind, state, attempts, last_status, last_error, created_at, updated_at \
         FROM webhook_events WHERE user_id = ?1 AND (?2 IS NULL OR state = ?2) ORDER BY id DESC LIMIT ?3 OFFSET ?4",
    )
    .bind(user_id)
    .bind(state)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let total =
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_events WHERE user_id = ?1 AND (?2 IS NULL OR state = ?2)")
            .bind(user_id)
            .bind(state)
            .fetch_one(pool)
            .await?;
    Ok((rows, total))
}

/// One of the user's deliveries (None for another user's id).
pub async fn get(pool: &SqlitePool, user_id: i64, id: i64) -> Result<Option<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, event_id, kind, state, attempts, last_status, last_error, created_at, updated_at \
         FROM webhook_events WHERE id = ? AND user_id = ?",
    )
    .bind(id)
    .bind(user_id)
    .fetch_optional(pool)
    .await
}

pub async fn attempts(pool: &SqlitePool, user_id: i64, id: i64) -> Result<Vec<AttemptRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, url, status_code, latency_ms, error, response_body, attempted_at FROM webhook_attempts \
         WHERE event_id = ? AND user_id = ? ORDER BY id",
    )
    .bind(id)
    .bind(user_id)
    .fetch_all(pool)
    .await
}

/// The stored media of an event (JSON of `media::StoredMedia`), if any.
pub async fn media(pool: &SqlitePool, id: i64) -> Result<Option<String>, sqlx::Error> {
    Ok(sqlx::query_scalar::<_, Option<String>>("SELECT media FROM webhook_events WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .flatten())
}

/// Makes one of the user's events due now with a fresh schedule. False if not theirs.
pub async fn resend(pool: &SqlitePool, user_id: i64, id: i64) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE webhook_events SET state = 'pending', attempts = 0, next_attempt_at = 0, lease_until = 0 \
         WHERE id = ? AND user_id = ? AND NOT (state = 'pending' AND lease_until > 0)",
    )
    .bind(id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE users SET callback_gone = 0 WHERE id = ?").bind(user_id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Resends every failed event of the user; returns how many.
pub async fn resend_failed(pool: &SqlitePool, user_id: i64) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE webhook_events SET state = 'pending', attempts = 0, next_attempt_at = 0, lease_until = 0 \
         WHERE user_id = ? AND state = 'failed'",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE users SET callback_gone = 0 WHERE id = ?").bind(user_id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

/// Deletes finished events older than the retention (their attempts go with them).
pub async fn prune(pool: &SqlitePool, older_than_hours: u64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM webhook_events WHERE state != 'pending' \
         AND created_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?)",
    )
    .bind(format!("-{older_than_hours} hours"))
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without its WHERE terms word for word, SQLite would scan the table per claim.
    #[tokio::test]
    async fn due_queries_read_the_partial_index() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config::for_tests(dir.path());
        let pool = crate::open_database(&config).await.unwrap();
        assert_eq!(HELD, i64::MAX, "the index's literal is i64::MAX");
        for sql in [CLAIM, NEXT_DUE] {
            let plan: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            let steps: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
            assert!(steps.iter().any(|s| s.contains("INDEX webhook_events_due")), "{sql}: {steps:?}");
            assert!(!steps.iter().any(|s| s.starts_with("SCAN webhook_events")), "{sql}: {steps:?}");
        }
    }

    /// One turn carries many users' events: a deleted user's or a repeated one must not
    /// fail the others.
    #[tokio::test]
    async fn a_turn_skips_events_it_cannot_keep_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config::for_tests(dir.path());
        let pool = crate::open_database(&config).await.unwrap();
        let user: i64 =
            sqlx::query_scalar("INSERT INTO users (username, password_hash) VALUES ('u', 'x') RETURNING id")
                .fetch_one(&pool)
                .await
                .unwrap();
        let event = |user_id: i64, key: &str| NewEvent {
            user_id,
            kind: "message",
            payload: "{}".into(),
            dedupe_key: Some(key.into()),
            media: None,
        };
        let mut conn = pool.acquire().await.unwrap();
        let turn = [event(user, "a"), event(user + 99, "b"), event(user, "a"), event(user, "c")];
        let stored = commit_turn(&mut conn, &turn, &[]).await.unwrap();
        let kept: Vec<bool> = stored.iter().map(Option::is_some).collect();
        assert_eq!(kept, [true, false, false, true], "a deleted user's and a repeated event are skipped");
        let held: Vec<(i64, i64)> = sqlx::query_as("SELECT user_id, lease_until FROM webhook_events ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(held, [(user, HELD), (user, HELD)]);
    }
}
