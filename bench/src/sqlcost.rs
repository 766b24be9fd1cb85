//! The outbox's SQL cost per event, without HTTP or channels, on a fresh SQLite file:
//! writer turns that insert events in groups or record outcomes in batches, and the paths that are not taken per event on the hot path (reading held
//! events back after a restart, claiming due retries).

use anyhow::Result;
use server::{config::Config, db::outbox::NewEvent, webhooks::outbox};
use sqlx::SqlitePool;
use std::time::Instant;

const TOTAL: usize = 20_000;

fn per_event(t: Instant, n: usize) -> f64 {
    t.elapsed().as_secs_f64() * 1e6 / n as f64
}

async fn insert(pool: &SqlitePool, user_id: i64, group: usize) -> Result<()> {
    let payload = serde_json::json!({"session":"u1","from":"6281234567890@s.whatsapp.net","message":"benchmark message 1234","media":{"image":null,"video":null,"document":null,"audio":null},"messageId":"BENCH1234","timestamp":1790000000,"pushName":"Bench","isGroup":false,"participant":null,"type":"text"}).to_string();
    let mut conn = outbox::writer_connection(pool)?;
    let t = Instant::now();
    for start in (0..TOTAL).step_by(group) {
        let events: Vec<NewEvent> = (start..start + group)
            .map(|i| NewEvent {
                user_id,
                kind: "message",
                payload: payload.clone(),
                dedupe_key: Some(format!("{group}-{i}")),
                media: None,
            })
            .collect();
        outbox::commit_turn(&mut conn, &events, &[])?;
    }
    println!("| insert, groups of {group} | {:.1} µs |", per_event(t, TOTAL));
    Ok(())
}

fn delivered(c: &outbox::Claimed) -> outbox::Outcome {
    outbox::Outcome {
        id: c.id,
        user_id: c.user_id,
        kind: c.kind.clone(),
        url: Some("http://127.0.0.1:1/hook/message".into()),
        status: Some(200),
        latency_ms: 1,
        error: None,
        response_body: Some("ok".into()),
        attempts: 1,
        next: outbox::Next::Delivered,
    }
}

/// `bench sqlcost`: prints µs per event for each step, as a table.
pub async fn run() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = Config::for_tests(dir.path());
    let pool = server::open_database(&config).await?;
    let user_id: i64 =
        sqlx::query_scalar("INSERT INTO users (username, password_hash) VALUES ('u1', 'x') RETURNING id")
            .fetch_one(&pool)
            .await?;
    println!("| step | per event |");
    println!("|---|---:|");
    let mut conn = pool.acquire().await?;
    let t = Instant::now();
    for _ in 0..2000 {
        sqlx::query("SELECT 1").execute(&mut *conn).await?;
    }
    println!("| (a statement round trip: SELECT 1) | {:.1} µs |", per_event(t, 2000));
    drop(conn);
    for group in [1usize, 8, 64, 256, 1024] {
        insert(&pool, user_id, group).await?;
    }
    let t = Instant::now();
    let held = outbox::recover(&pool).await?;
    println!("| recover {} held events (after a restart) | {:.1} µs |", held.len(), per_event(t, held.len()));
    let t = Instant::now();
    let mut loaded = Vec::new();
    for block in held.chunks(256) {
        let ids: Vec<i64> = block.iter().map(|(id, _)| *id).collect();
        loaded.extend(outbox::load(&pool, &ids).await?);
    }
    println!("| read held events back, blocks of 256 | {:.1} µs |", per_event(t, loaded.len()));
    let half = loaded.len() / 2;
    let mut conn = outbox::writer_connection(&pool)?;
    let t = Instant::now();
    for chunk in loaded[..half].chunks(256) {
        let outcomes: Vec<outbox::Outcome> = chunk.iter().map(delivered).collect();
        outbox::commit_turn(&mut conn, &[], &outcomes)?;
    }
    println!("| record outcomes, batches of 256 | {:.1} µs |", per_event(t, half));
    // The rest as retries due now: what a claim costs.
    sqlx::query("UPDATE webhook_events SET lease_until = 0, next_attempt_at = 0 WHERE state = 'pending'")
        .execute(&pool)
        .await?;
    let t = Instant::now();
    let mut claimed = 0;
    loop {
        let now = server::clock::unix_ms();
        let block = outbox::claim(&pool, now, now + 60_000, 256, &[]).await?;
        if block.is_empty() {
            break;
        }
        claimed += block.len();
    }
    println!("| claim due retries, blocks of 256 ({claimed} due) | {:.1} µs |", per_event(t, claimed));
    Ok(())
}
