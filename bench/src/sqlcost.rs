//! The outbox's SQL cost per event, without HTTP or channels: inserting events in
//! groups (as the supervisor's group commit does), claiming them in blocks, recording
//! outcomes in batches, on a fresh SQLite file.

use anyhow::Result;
use server::{config::Config, db, webhooks::outbox};
use std::time::Instant;

/// `bench sqlcost`: prints µs per event for each step.
pub async fn run() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = Config::for_tests(dir.path());
    let pool = server::open_database(&config).await?;
    let id: i64 = sqlx::query_scalar("INSERT INTO users (username, password_hash) VALUES ('u1', 'x') RETURNING id")
        .fetch_one(&pool)
        .await?;
    let total = 20000;
    let payload = serde_json::json!({"session":"u1","from":"6281234567890@s.whatsapp.net","message":"benchmark message 1234","media":{"image":null,"video":null,"document":null,"audio":null},"messageId":"BENCH1234","timestamp":1790000000,"pushName":"Bench","isGroup":false,"participant":null,"type":"text"});
    for group in [1usize, 8, 64] {
        let t = Instant::now();
        let mut n = 0;
        while n < total {
            let keys: Vec<String> = (n..n + group).map(|i| format!("{group}-{i}")).collect();
            let msgs: Vec<db::outbox::NewMessage> =
                keys.iter().map(|k| db::outbox::NewMessage { payload: &payload, dedupe_key: k, media: None }).collect();
            let mut conn = pool.acquire().await?;
            db::outbox::insert_messages(&mut conn, id, &msgs).await?;
            n += group;
        }
        let e = t.elapsed();
        println!("insert groups of {group}: {:.1} µs/event", e.as_secs_f64() * 1e6 / total as f64);
    }
    let t = Instant::now();
    let mut claimed_all = Vec::new();
    loop {
        let c = outbox::claim(&pool, server::clock::unix_ms(), server::clock::unix_ms() + 60000, 256, &[]).await?;
        if c.is_empty() {
            break;
        }
        claimed_all.extend(c);
    }
    println!(
        "claim blocks of 256: {:.1} µs/event ({} events)",
        t.elapsed().as_secs_f64() * 1e6 / claimed_all.len() as f64,
        claimed_all.len()
    );
    let t = Instant::now();
    for chunk in claimed_all.chunks(64) {
        let outcomes: Vec<outbox::Outcome> = chunk
            .iter()
            .map(|c| outbox::Outcome {
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
            })
            .collect();
        outbox::record(&pool, &outcomes).await?;
    }
    println!("record batches of 64: {:.1} µs/event", t.elapsed().as_secs_f64() * 1e6 / claimed_all.len() as f64);
    Ok(())
}
