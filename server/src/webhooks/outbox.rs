//! The one API over the `webhook_events` outbox: recover held events, claim due ones
//! under a lease, record attempt outcomes in batches, resend, and list deliveries.
//! Events are added by the `writer`'s turns ([`commit_turn`]), or by
//! `db::outbox::insert_held` inside the transaction of the session change they come from.

use crate::db::outbox::{new_event_id, NewEvent, HELD};
use serde::Serialize;
use sqlx::{FromRow, SqlitePool};
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

/// The writer's own connection: synchronous, on the writer's thread, so a turn is no
/// hand-off to another thread and each row is bound straight into a cached statement.
/// Foreign keys are off on it because every statement of a turn checks what they would
/// (an event's user, an attempt's event) and skips the row instead: with them on, every
/// statement could abort midway and SQLite would copy each page it touches into a
/// statement journal first.
pub fn writer_connection(pool: &SqlitePool) -> rusqlite::Result<rusqlite::Connection> {
    let conn = crate::db::sync_connection(pool)?;
    conn.execute_batch("PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY;")?;
    Ok(conn)
}

/// New events are added held for their first attempt; one with a repeated `dedupe_key`,
/// or of a user deleted meanwhile, is skipped (so it cannot fail the other users' events
/// of the turn).
const INSERT_EVENT: &str = "INSERT OR IGNORE INTO webhook_events \
    (event_id, user_id, kind, payload, dedupe_key, media, next_attempt_at, lease_until, created_at) \
    SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8 WHERE EXISTS (SELECT 1 FROM users WHERE id = ?2)";
/// An outcome whose event is gone (its user was deleted mid-attempt) logs nothing.
const INSERT_ATTEMPT: &str = "INSERT OR IGNORE INTO webhook_attempts \
    (event_id, user_id, url, status_code, latency_ms, error, response_body, attempted_at) \
    SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE EXISTS (SELECT 1 FROM webhook_events WHERE id = ?1)";
const UPDATE_EVENT: &str = "UPDATE OR IGNORE webhook_events SET state = ?2, attempts = ?3, next_attempt_at = ?4, \
    lease_until = 0, last_status = ?5, last_error = ?6, updated_at = ?7 WHERE id = ?1";
/// A first attempt that delivered stays on its event row (migration 0005), in place of
/// [`INSERT_ATTEMPT`] and [`UPDATE_EVENT`], unless the row keeps one already (from
/// before a resend, or a re-leased event's other attempt): a row keeps at most one,
/// and every attempt is logged once.
const KEEP_FIRST_DELIVERY: &str = "UPDATE OR IGNORE webhook_events SET state = 'delivered', attempts = 1, \
    next_attempt_at = 0, lease_until = 0, last_status = ?2, last_error = NULL, updated_at = ?3, \
    delivered_url = ?4, delivered_status = ?2, delivered_latency_ms = ?5, delivered_body = ?6, delivered_at = ?3 \
    WHERE id = ?1 AND delivered_url IS NULL";
const MARK_GONE: &str = "UPDATE OR IGNORE users SET callback_gone = 1 WHERE id = ?1";

/// Commits one writer turn: the new events of every session and the outcomes of
/// attempts in one transaction. Answers, per new event, its row id and `webhook-id`, or
/// None when it was skipped (see [`INSERT_EVENT`]). On an error nothing of the turn is kept.
pub fn commit_turn(
    conn: &mut rusqlite::Connection,
    events: &[NewEvent],
    outcomes: &[Outcome],
) -> rusqlite::Result<Vec<Option<(i64, String)>>> {
    let now = crate::clock::sql_now();
    // Cached, unlike rusqlite's `Transaction`, which prepares BEGIN and COMMIT every time.
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    let done = turn(conn, events, outcomes, &now).and_then(|stored| {
        conn.prepare_cached("COMMIT")?.execute([])?;
        Ok(stored)
    });
    if done.is_err() {
        let _ = conn.prepare_cached("ROLLBACK").and_then(|mut s| s.execute([]));
    }
    done
}

/// The statements of [`commit_turn`], inside its transaction.
fn turn(
    tx: &rusqlite::Connection,
    events: &[NewEvent],
    outcomes: &[Outcome],
    now: &str,
) -> rusqlite::Result<Vec<Option<(i64, String)>>> {
    let mut stored = Vec::with_capacity(events.len());
    if !events.is_empty() {
        let mut insert = tx.prepare_cached(INSERT_EVENT)?;
        for e in events {
            let event_id = new_event_id();
            let added = insert.execute(rusqlite::params![
                event_id,
                e.user_id,
                e.kind,
                e.payload,
                e.dedupe_key,
                e.media,
                HELD,
                now
            ])?;
            stored.push((added == 1).then(|| (tx.last_insert_rowid(), event_id)));
        }
    }
    if !outcomes.is_empty() {
        let mut attempt = tx.prepare_cached(INSERT_ATTEMPT)?;
        let mut update = tx.prepare_cached(UPDATE_EVENT)?;
        let mut keep = tx.prepare_cached(KEEP_FIRST_DELIVERY)?;
        for o in outcomes {
            let first_delivery = matches!(o.next, Next::Delivered) && o.attempts == 1;
            if let (true, Some(url)) = (first_delivery, &o.url) {
                if keep.execute(rusqlite::params![o.id, o.status, now, url, o.latency_ms, o.response_body])? == 1 {
                    continue;
                }
            }
            if let Some(url) = &o.url {
                attempt.execute(rusqlite::params![
                    o.id,
                    o.user_id,
                    url,
                    o.status,
                    o.latency_ms,
                    o.error,
                    o.response_body,
                    now
                ])?;
            }
            let next_at = match o.next {
                Next::Retry { at_ms } => at_ms,
                _ => 0,
            };
            update.execute(rusqlite::params![o.id, o.next.state(), o.attempts, next_at, o.status, o.error, now])?;
            if matches!(o.next, Next::Gone) {
                tx.prepare_cached(MARK_GONE)?.execute([o.user_id])?;
            }
        }
    }
    Ok(stored)
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
    /// 1, 2, … in the order the attempts were made (a resend continues the count).
    #[sqlx(default)]
    pub number: i64,
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

/// Every attempt at one of the user's events, oldest first: the rows of
/// `webhook_attempts` and the delivering first attempt its event row may keep
/// (migration 0005).
pub async fn attempts(pool: &SqlitePool, user_id: i64, id: i64) -> Result<Vec<AttemptRow>, sqlx::Error> {
    let mut rows: Vec<AttemptRow> = sqlx::query_as(
        "SELECT url, status_code, latency_ms, error, response_body, attempted_at FROM ( \
           SELECT delivered_url AS url, delivered_status AS status_code, delivered_latency_ms AS latency_ms, \
             NULL AS error, delivered_body AS response_body, delivered_at AS attempted_at, 0 AS seq \
           FROM webhook_events WHERE id = ?1 AND user_id = ?2 AND delivered_url IS NOT NULL \
           UNION ALL \
           SELECT url, status_code, latency_ms, error, response_body, attempted_at, id AS seq \
           FROM webhook_attempts WHERE event_id = ?1 AND user_id = ?2) \
         ORDER BY attempted_at, seq",
    )
    .bind(id)
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    for (n, row) in rows.iter_mut().enumerate() {
        row.number = n as i64 + 1;
    }
    Ok(rows)
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

    /// A fresh database (gone with the returned folder) with one user, and its id.
    async fn database_with_a_user() -> (tempfile::TempDir, SqlitePool, i64) {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config::for_tests(dir.path());
        let pool = crate::open_database(&config).await.unwrap();
        let user = sqlx::query_scalar("INSERT INTO users (username, password_hash) VALUES ('u', 'x') RETURNING id")
            .fetch_one(&pool)
            .await
            .unwrap();
        (dir, pool, user)
    }

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
        let (_dir, pool, user) = database_with_a_user().await;
        let event = |user_id: i64, key: &str| NewEvent {
            user_id,
            kind: "message",
            payload: "{}".into(),
            dedupe_key: Some(key.into()),
            media: None,
        };
        let mut conn = writer_connection(&pool).unwrap();
        let turn = [event(user, "a"), event(user + 99, "b"), event(user, "a"), event(user, "c")];
        let stored = commit_turn(&mut conn, &turn, &[]).unwrap();
        let kept: Vec<bool> = stored.iter().map(Option::is_some).collect();
        assert_eq!(kept, [true, false, false, true], "a deleted user's and a repeated event are skipped");
        let held: Vec<(i64, i64)> = sqlx::query_as("SELECT user_id, lease_until FROM webhook_events ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(held, [(user, HELD), (user, HELD)]);
    }

    /// A delivering first attempt stays on the event row (no attempt row); any other
    /// attempt of the same event is a row, and the log lists both, once each, in order.
    #[tokio::test]
    async fn a_first_delivery_stays_on_the_event_row_and_the_log_lists_every_attempt() {
        let (_dir, pool, user) = database_with_a_user().await;
        let event = NewEvent { user_id: user, kind: "message", payload: "{}".into(), dedupe_key: None, media: None };
        let mut conn = writer_connection(&pool).unwrap();
        let (id, _) = commit_turn(&mut conn, &[event], &[]).unwrap()[0].clone().unwrap();
        let delivered = |status: u16, body: &str| Outcome {
            id,
            user_id: user,
            kind: "message".into(),
            url: Some("http://127.0.0.1:9/hook/message".into()),
            status: Some(status),
            latency_ms: 3,
            error: None,
            response_body: Some(body.into()),
            attempts: 1,
            next: Next::Delivered,
        };
        let rows = || sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM webhook_attempts").fetch_one(&pool);

        commit_turn(&mut conn, &[], &[delivered(200, "first")]).unwrap();
        assert_eq!(rows().await.unwrap(), 0, "kept on the event row");
        let log = attempts(&pool, user, id).await.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!((log[0].number, log[0].status_code, log[0].latency_ms), (1, Some(200), 3));
        assert_eq!(log[0].response_body.as_deref(), Some("first"));
        assert_eq!(log[0].url, "http://127.0.0.1:9/hook/message");

        // After a resend the next first attempt cannot take the kept one's place.
        assert!(resend(&pool, user, id).await.unwrap());
        commit_turn(&mut conn, &[], &[delivered(204, "second")]).unwrap();
        assert_eq!(rows().await.unwrap(), 1);
        let log = attempts(&pool, user, id).await.unwrap();
        let seen: Vec<(i64, Option<i64>, Option<&str>)> =
            log.iter().map(|a| (a.number, a.status_code, a.response_body.as_deref())).collect();
        assert_eq!(seen, [(1, Some(200), Some("first")), (2, Some(204), Some("second"))]);
        assert!(attempts(&pool, user + 1, id).await.unwrap().is_empty(), "another user sees none");
    }
}
