//! The SQLite pool, migrations, and the queries, grouped by table. The only other
//! module with SQL is `webhooks` (the outbox's claim/record API and per-user webhook
//! settings), so a schema change has two places to look.

use anyhow::Context;
use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    ConnectOptions, FromRow, SqlitePool,
};
use std::{str::FromStr, time::Duration};

static WRITE_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Takes the turn to write on the hot paths (outbox inserts, status transitions, claims,
/// outcome records). SQLite has one writer at a time; contending writers otherwise wait
/// in its busy handler, which sleeps 1, 2, 5, 10… ms per retry: under load that made the
/// webhook p99 5× worse (docs/PERFORMANCE.md). Queuing here costs no sleep.
/// One turn per process: a process serves one database (tests that run several
/// gateways side by side only queue a little more).
pub async fn write_turn() -> tokio::sync::MutexGuard<'static, ()> {
    WRITE_TURN.lock().await
}

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of every connection besides sqlx's typed ones (WAL, synchronous NORMAL,
/// foreign keys, busy timeout). Checkpoints run in `checkpoints`, not inside whichever
/// commit crosses the threshold: on these disks that moved ≈ 40% of the outbox writer's
/// time (docs/PERFORMANCE.md) onto a background task.
const PRAGMAS: &[(&str, &str)] = &[("wal_autocheckpoint", "0"), ("journal_size_limit", "134217728")];

/// A synchronous connection to the pool's database file with the pool's settings, for
/// code that owns a thread (the outbox writer); `foreign_keys` is left to the caller.
pub fn sync_connection(pool: &SqlitePool) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(pool.connect_options().get_filename())?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")?;
    for (key, value) in PRAGMAS {
        conn.pragma_update(None, key, value)?;
    }
    Ok(conn)
}

/// Opens (creating if needed) the database file and its folder.
pub async fn connect(url: &str) -> anyhow::Result<SqlitePool> {
    let mut options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("invalid DATABASE_URL {url:?}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    for (key, value) in PRAGMAS {
        options = options.pragma(*key, *value);
    }
    if let Some(parent) = options.get_filename().parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create database folder {}", parent.display()))?;
        }
    }
    SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open database {url:?}"))
}

/// Copies the write-ahead log back into the database file now and then, on a
/// connection of its own. Runs until aborted.
///
/// A PASSIVE checkpoint never blocks writers or readers, but under steady writes it never
/// catches up with the last frame either, and SQLite only starts the log over once it
/// has: measured, the log grew by ≈ 25 MB/s for as long as the load lasted, each new
/// page costing the kernel a zeroed page and a block. So when the log has grown past
/// `RESTART_ABOVE_FRAMES`, the checkpoint catches up and then copies the last frames
/// while it holds the write turn, and the next write reuses the
/// file from its start; `journal_size_limit` (128 MiB, above what one burst adds to the
/// threshold) trims a log left larger than that.
pub async fn checkpoints(pool: SqlitePool) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    let mut conn = None;
    loop {
        tick.tick().await;
        if let Err(e) = checkpoint(&pool, &mut conn, RESTART_ABOVE_FRAMES).await {
            tracing::warn!(error = %e, "checkpoint failed");
            conn = None;
        }
    }
}

async fn checkpoint(
    pool: &SqlitePool,
    conn: &mut Option<sqlx::SqliteConnection>,
    restart_above: i64,
) -> Result<(), sqlx::Error> {
    let c = own_connection(pool, conn).await?;
    // (busy, frames in the log, frames copied)
    let passive = "PRAGMA wal_checkpoint(PASSIVE)";
    let (_, mut frames, _): (i64, i64, i64) = sqlx::query_as(passive).fetch_one(&mut *c).await?;
    if frames > restart_above {
        // Catch up first without holding anyone up: each round copies what was written
        // during the one before, until that is little, so the writer waits only for the
        // frames of the last moment. (The log size a checkpoint answers is the one it
        // started from.)
        for _ in 0..4 {
            let (_, now, _): (i64, i64, i64) = sqlx::query_as(passive).fetch_one(&mut *c).await?;
            let written_meanwhile = now - frames;
            frames = now;
            if written_meanwhile <= CAUGHT_UP_FRAMES {
                break;
            }
        }
        // PASSIVE again, now with no writer between its frames: it copies the last ones,
        // and the next write starts the log over. (RESTART would also wait for readers,
        // in the busy handler's sleeps of up to 100 ms, while the writer waits for it.)
        let _turn = write_turn().await;
        sqlx::query(passive).execute(&mut *c).await?;
    }
    Ok(())
}

/// Frames written during a PASSIVE checkpoint few enough to copy while the writer waits.
const CAUGHT_UP_FRAMES: i64 = 256;

/// 16,384 pages of 4 KiB: 64 MiB of log, ≈ 2.5 s of writes at full load.
const RESTART_ABOVE_FRAMES: i64 = 16_384;

/// A connection of the caller's own, outside the pool (so it is not checked on every
/// acquire and does not keep the pool from closing): opened with the pool's options on
/// first use, and again after the caller dropped it (set `slot` to None after an error).
pub async fn own_connection<'a>(
    pool: &SqlitePool,
    slot: &'a mut Option<sqlx::SqliteConnection>,
) -> Result<&'a mut sqlx::SqliteConnection, sqlx::Error> {
    match slot {
        Some(c) => Ok(c),
        None => Ok(slot.insert(pool.connect_options().connect().await?)),
    }
}

const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

pub async fn migrate(pool: &SqlitePool) -> anyhow::Result<()> {
    sqlx::migrate!("../migrations").run(pool).await.context("applying migrations")
}

/// A round trip to the database, for readiness.
pub async fn ping(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}

/// True when SQLite reports a UNIQUE constraint violation (it gives no constraint name).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

pub mod users {
    use super::*;

    #[derive(Debug, Clone, FromRow)]
    pub struct UserRow {
        pub id: i64,
        pub username: String,
        pub password_hash: String,
        pub is_admin: bool,
        pub session_name: Option<String>,
        pub callback_url: Option<String>,
        pub session_status: String,
        pub default_password: bool,
        pub created_at: String,
        pub session_linked: bool,
        pub session_phone: Option<String>,
        pub session_push_name: Option<String>,
        pub session_reason: Option<String>,
    }

    impl UserRow {
        /// The session name in effect: the admin's choice, else the username.
        pub fn effective_session_name(&self) -> &str {
            self.session_name.as_deref().unwrap_or(&self.username)
        }
    }

    const COLUMNS: &str = "id, username, password_hash, is_admin, session_name, callback_url, \
                           session_status, default_password, created_at, session_linked, session_phone, \
                           session_push_name, session_reason";

    pub struct NewUser<'a> {
        pub username: &'a str,
        pub password_hash: &'a str,
        pub is_admin: bool,
        pub session_name: Option<&'a str>,
        pub callback_url: Option<&'a str>,
        pub default_password: bool,
    }

    pub async fn insert(pool: &SqlitePool, u: NewUser<'_>) -> Result<i64, sqlx::Error> {
        let row: (i64,) = sqlx::query_as(
            "INSERT INTO users (username, password_hash, is_admin, session_name, callback_url, default_password) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(u.username)
        .bind(u.password_hash)
        .bind(u.is_admin)
        .bind(u.session_name)
        .bind(u.callback_url)
        .bind(u.default_password)
        .fetch_one(pool)
        .await?;
        Ok(row.0)
    }

    pub async fn count(pool: &SqlitePool) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(pool).await
    }

    pub async fn by_id(pool: &SqlitePool, id: i64) -> Result<Option<UserRow>, sqlx::Error> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM users WHERE id = ?")))
            .bind(id)
            .fetch_optional(pool)
            .await
    }

    pub async fn by_username(pool: &SqlitePool, username: &str) -> Result<Option<UserRow>, sqlx::Error> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM users WHERE username = ?")))
            .bind(username)
            .fetch_optional(pool)
            .await
    }

    /// The user whose effective session name is `name` (case-insensitive).
    pub async fn by_session_name(pool: &SqlitePool, name: &str) -> Result<Option<UserRow>, sqlx::Error> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users WHERE COALESCE(session_name, username) = ? COLLATE NOCASE"
        )))
        .bind(name)
        .fetch_optional(pool)
        .await
    }

    pub async fn username_exists(pool: &SqlitePool, username: &str) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE username = ?)")
            .bind(username)
            .fetch_one(pool)
            .await
    }

    pub async fn list(pool: &SqlitePool) -> Result<Vec<UserRow>, sqlx::Error> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM users ORDER BY id"))).fetch_all(pool).await
    }

    /// Sets a new password hash and ends the user's browser logins in one transaction.
    pub async fn set_password(pool: &SqlitePool, id: i64, password_hash: &str) -> Result<bool, sqlx::Error> {
        let mut tx = pool.begin().await?;
        let done = sqlx::query(
            "UPDATE users SET password_hash = ?, default_password = 0, \
             updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?",
        )
        .bind(password_hash)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM browser_sessions WHERE user_id = ?").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Changes only the given settings; `Some(None)` clears a nullable one.
    pub async fn set_session_config(
        pool: &SqlitePool,
        id: i64,
        session_name: Option<Option<&str>>,
        callback_url: Option<Option<&str>>,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE users SET \
               session_name = CASE WHEN ?1 THEN ?2 ELSE session_name END, \
               callback_url = CASE WHEN ?3 THEN ?4 ELSE callback_url END, \
               callback_gone = CASE WHEN ?3 THEN 0 ELSE callback_gone END, \
               updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') \
             WHERE id = ?5",
        )
        .bind(session_name.is_some())
        .bind(session_name.flatten())
        .bind(callback_url.is_some())
        .bind(callback_url.flatten())
        .bind(id)
        .execute(pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The session columns a supervisor keeps; `linked: None` leaves the flag as it is.
    pub struct SessionState<'a> {
        pub status: &'a str,
        pub phone: Option<&'a str>,
        pub push_name: Option<&'a str>,
        pub reason: Option<&'a str>,
        pub linked: Option<bool>,
    }

    pub async fn set_session_state(
        conn: &mut sqlx::SqliteConnection,
        id: i64,
        s: &SessionState<'_>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE users SET session_status = ?, session_phone = ?, session_push_name = ?, session_reason = ?, \
             session_linked = COALESCE(?, session_linked) WHERE id = ?",
        )
        .bind(s.status)
        .bind(s.phone)
        .bind(s.push_name)
        .bind(s.reason)
        .bind(s.linked)
        .bind(id)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Sessions that were pairing or running but never linked cannot resume: mark them
    /// disconnected (at boot). Returns how many.
    pub async fn reset_unlinked_sessions(pool: &SqlitePool, reason: &str) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE users SET session_status = 'disconnected', session_reason = ? \
             WHERE session_linked = 0 AND session_status IN ('connecting', 'qr', 'connected')",
        )
        .bind(reason)
        .execute(pool)
        .await?;
        Ok(done.rows_affected())
    }

    pub async fn delete(pool: &SqlitePool, id: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM users WHERE id = ?").bind(id).execute(pool).await?;
        Ok(done.rows_affected() == 1)
    }
}

pub mod tokens {
    use super::*;

    #[derive(Debug, Clone, FromRow)]
    pub struct TokenRow {
        pub id: i64,
        pub name: String,
        pub prefix: String,
        pub created_at: String,
        pub last_used_at: Option<String>,
    }

    pub async fn insert(
        pool: &SqlitePool,
        user_id: i64,
        name: &str,
        token_hash: &[u8],
        prefix: &str,
    ) -> Result<TokenRow, sqlx::Error> {
        sqlx::query_as(
            "INSERT INTO api_tokens (user_id, name, token_hash, prefix) VALUES (?, ?, ?, ?) \
             RETURNING id, name, prefix, created_at, last_used_at",
        )
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(prefix)
        .fetch_one(pool)
        .await
    }

    pub async fn list(pool: &SqlitePool, user_id: i64) -> Result<Vec<TokenRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, name, prefix, created_at, last_used_at FROM api_tokens \
             WHERE user_id = ? ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await
    }

    /// Deletes a token only if it belongs to `user_id`, so ids of others reveal nothing.
    pub async fn delete(pool: &SqlitePool, user_id: i64, id: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE id = ? AND user_id = ?")
            .bind(id)
            .bind(user_id)
            .execute(pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The owner of a token. `last_used_at` is written at most once a minute so a busy
    /// client does not turn every request into a database write.
    pub async fn owner(pool: &SqlitePool, token_hash: &[u8]) -> Result<Option<i64>, sqlx::Error> {
        let row: Option<(i64, i64, bool)> = sqlx::query_as(
            "SELECT id, user_id, last_used_at IS NULL \
               OR last_used_at < strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-60 seconds') \
             FROM api_tokens WHERE token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(pool)
        .await?;
        let Some((id, user_id, stale)) = row else {
            return Ok(None);
        };
        if stale {
            sqlx::query("UPDATE api_tokens SET last_used_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?")
                .bind(id)
                .execute(pool)
                .await?;
        }
        Ok(Some(user_id))
    }
}

pub mod browser_sessions {
    use super::*;

    pub async fn insert(
        pool: &SqlitePool,
        token_hash: &[u8],
        user_id: i64,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO browser_sessions (token_hash, user_id, expires_at) VALUES (?, ?, ?)")
            .bind(token_hash)
            .bind(user_id)
            .bind(expires_at)
            .execute(pool)
            .await?;
        Ok(())
    }

    pub async fn owner(pool: &SqlitePool, token_hash: &[u8], now: i64) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT user_id FROM browser_sessions WHERE token_hash = ? AND expires_at > ?")
            .bind(token_hash)
            .bind(now)
            .fetch_optional(pool)
            .await
    }

    pub async fn delete(pool: &SqlitePool, token_hash: &[u8]) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM browser_sessions WHERE token_hash = ?").bind(token_hash).execute(pool).await?;
        Ok(())
    }

    pub async fn delete_expired(pool: &SqlitePool, now: i64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("DELETE FROM browser_sessions WHERE expires_at <= ?").bind(now).execute(pool).await?;
        Ok(done.rows_affected())
    }
}

pub mod session_events {
    use super::*;

    #[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
    pub struct SessionEventRow {
        pub id: i64,
        pub session: String,
        pub status: String,
        pub detail: Option<String>,
        pub created_at: String,
    }

    pub async fn insert(
        conn: &mut sqlx::SqliteConnection,
        user_id: i64,
        session: &str,
        status: &str,
        detail: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO session_events (user_id, session, status, detail) VALUES (?, ?, ?, ?)")
            .bind(user_id)
            .bind(session)
            .bind(status)
            .bind(detail)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// A page of a user's activity log, newest first.
    pub async fn page(
        pool: &SqlitePool,
        user_id: i64,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<SessionEventRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, session, status, detail, created_at FROM session_events \
             WHERE user_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
        )
        .bind(user_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await
    }

    pub async fn count(pool: &SqlitePool, user_id: i64) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM session_events WHERE user_id = ?").bind(user_id).fetch_one(pool).await
    }
}

/// The durable event outbox (`webhook_events`), written inside the caller's transaction.
pub mod outbox {
    use sqlx::SqliteConnection;

    /// The due time and lease of an event the gateway holds in memory for its first
    /// attempt: out of every SQL claim's range. A crash leaves it leased, and the next
    /// boot queues it again (`webhooks::outbox::recover`).
    pub const HELD: i64 = i64::MAX;

    /// An event to add; `dedupe_key` makes an engine's redelivery of a message a no-op.
    #[derive(Debug, Clone)]
    pub struct NewEvent {
        pub user_id: i64,
        pub kind: &'static str,
        pub payload: String,
        pub dedupe_key: Option<String>,
        pub media: Option<String>,
    }

    /// Adds one event held for its first attempt, inside the caller's transaction (the
    /// writer adds its turns with `webhooks::outbox::commit_turn`). Answers its row id and
    /// `webhook-id`, or None when its `dedupe_key` was stored before.
    pub async fn insert_held(conn: &mut SqliteConnection, e: &NewEvent) -> Result<Option<(i64, String)>, sqlx::Error> {
        let event_id = new_event_id();
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO webhook_events (event_id, user_id, kind, payload, dedupe_key, media, next_attempt_at, \
             lease_until) VALUES (?, ?, ?, ?, ?, ?, ?7, ?7) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        )
        .bind(&event_id)
        .bind(e.user_id)
        .bind(e.kind)
        .bind(&e.payload)
        .bind(&e.dedupe_key)
        .bind(&e.media)
        .bind(HELD)
        .fetch_optional(conn)
        .await?;
        Ok(id.map(|id| (id, event_id)))
    }

    /// Time-ordered (UUIDv7), so new ids append to the unique index instead of landing
    /// at random pages of it.
    pub fn new_event_id() -> String {
        format!("msg_{}", uuid::Uuid::now_v7().simple())
    }
}

#[cfg(test)]
mod tests {
    /// The log starts over once it passed the threshold: the next write lands at its
    /// start, which SQLite marks by bumping the checkpoint sequence number in the log's
    /// header (bytes 12..16), read from the file so the test itself checkpoints nothing.
    #[tokio::test]
    async fn a_long_log_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config::for_tests(dir.path());
        let pool = crate::open_database(&config).await.unwrap();
        let wal = dir.path().join("test.db-wal");
        let sequence = || {
            let header = std::fs::read(&wal).unwrap();
            u32::from_be_bytes(header[12..16].try_into().unwrap())
        };
        let write = || sqlx::query("INSERT INTO filler VALUES (zeroblob(4000))").execute(&pool);
        sqlx::query("CREATE TABLE filler (x BLOB)").execute(&pool).await.unwrap();
        for _ in 0..64 {
            write().await.unwrap();
        }
        let frames = std::fs::metadata(&wal).unwrap().len() / 4120;
        assert!(frames > 64, "{frames} frames");
        let before = sequence();
        write().await.unwrap();
        assert_eq!(sequence(), before, "without a checkpoint the log goes on");
        super::checkpoint(&pool, &mut None, 32).await.unwrap();
        write().await.unwrap();
        assert_eq!(sequence(), before + 1, "the write after the checkpoint starts the log over");
    }
}
