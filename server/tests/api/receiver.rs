//! A real HTTP webhook receiver on 127.0.0.1 that records every request and answers
//! as a test scripts it.

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
    Router,
};
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

#[derive(Clone, Debug)]
pub enum Behavior {
    Ok,
    /// 500 for the first n requests, then 200.
    FailFirst(usize),
    Status(u16),
    /// 429 with `Retry-After: secs` for the first request, then 200.
    RetryAfterOnce(u64),
    /// Never answers in time.
    Hang,
}

#[derive(Clone, Debug)]
pub struct Hit {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Hit {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
    }
}

#[derive(Clone)]
struct Shared {
    hits: Arc<Mutex<Vec<Hit>>>,
    behavior: Arc<Mutex<Behavior>>,
}

pub struct Receiver {
    pub url: String,
    shared: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn handle(State(s): State<Shared>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let index = {
        let mut hits = s.hits.lock().unwrap();
        hits.push(Hit { path: uri.path().to_owned(), headers, body, at: Instant::now() });
        hits.len() - 1
    };
    let behavior = s.behavior.lock().unwrap().clone();
    match behavior {
        Behavior::Ok => (StatusCode::OK, "ok").into_response(),
        Behavior::FailFirst(n) if index < n => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        Behavior::FailFirst(_) => StatusCode::NO_CONTENT.into_response(),
        Behavior::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        Behavior::RetryAfterOnce(secs) if index == 0 => {
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", secs.to_string())], "slow down").into_response()
        }
        Behavior::RetryAfterOnce(_) => StatusCode::OK.into_response(),
        Behavior::Hang => {
            tokio::time::sleep(Duration::from_secs(120)).await;
            StatusCode::OK.into_response()
        }
    }
}

impl Receiver {
    pub async fn start(behavior: Behavior) -> Self {
        Self::start_on(0, behavior).await
    }

    pub async fn start_on(port: u16, behavior: Behavior) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Shared { hits: Arc::default(), behavior: Arc::new(Mutex::new(behavior)) };
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url: format!("http://127.0.0.1:{port}/hooks"), shared, server }
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived whose path ends with `suffix`.
    pub async fn wait_for(&self, suffix: &str, n: usize) -> Vec<Hit> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let hits: Vec<Hit> = self.hits().into_iter().filter(|h| h.path.ends_with(suffix)).collect();
            if hits.len() >= n {
                return hits;
            }
            assert!(Instant::now() < deadline, "only {} of {n} {suffix} webhooks arrived", hits.len());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
