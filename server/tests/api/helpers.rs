//! `TestApp`: spawns the gateway in-process on 127.0.0.1:0 with a temp database.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use server::{config::Config, Gateway};
use std::net::SocketAddr;
use tempfile::TempDir;
use tokio::sync::oneshot;

#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Basic(String, String),
    Bearer(String),
    Cookie(String),
}

pub fn basic(user: &str, password: &str) -> Auth {
    Auth::Basic(user.into(), password.into())
}

pub fn admin() -> Auth {
    basic("admin", "admin")
}

pub struct Response {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Response {
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }
}

/// The real engine with no way out (see `Config::use_offline_real_engine`).
pub fn offline(config: &mut Config) {
    config.use_offline_real_engine();
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub pool: sqlx::SqlitePool,
    pub config: Config,
    dir: Option<TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_tests(dir.path());
        configure(&mut config);
        Self::start(config, dir).await
    }

    /// Stops this gateway gracefully and starts a new one on the same data.
    pub async fn restart(mut self) -> Self {
        let dir = self.dir.take().expect("dir");
        let config = self.config.clone();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server stops cleanly");
        }
        self.pool.close().await;
        Self::start(config, dir).await
    }

    async fn start(config: Config, dir: TempDir) -> Self {
        let gateway = Gateway::build(config.clone()).await.expect("gateway builds");
        let addr = gateway.local_addr();
        let pool = gateway.state().pool.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(gateway.run(async {
            let _ = rx.await;
        }));
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { addr, client, pool, config, dir: Some(dir), shutdown: Some(tx), server: Some(server) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn builder(&self, method: Method, path: &str, auth: &Auth) -> reqwest::RequestBuilder {
        let req = self.client.request(method, self.url(path));
        match auth {
            Auth::None => req,
            Auth::Basic(u, p) => req.basic_auth(u, Some(p)),
            Auth::Bearer(t) => req.bearer_auth(t),
            Auth::Cookie(c) => req.header("cookie", format!("wa_session={c}")),
        }
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Response {
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        assert!(status.as_u16() < 500, "server error {status}: {body}");
        Response { status, headers, body }
    }

    pub async fn call(&self, method: Method, path: &str, auth: &Auth, body: Option<Value>) -> Response {
        let mut req = self.builder(method, path, auth);
        if let Some(body) = body {
            req = req.json(&body);
        }
        self.send(req).await
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> Response {
        self.call(Method::GET, path, auth, None).await
    }

    pub async fn create_user(&self, username: &str, password: &str) -> i64 {
        let r = self
            .call(Method::POST, "/admin/users", &admin(), Some(json!({"username": username, "password": password})))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body["data"]["id"].as_i64().unwrap()
    }

    pub async fn create_token(&self, auth: &Auth) -> (i64, String) {
        let r = self.call(Method::POST, "/dashboard/tokens", auth, Some(json!({"name": "ci"}))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        (r.body["data"]["id"].as_i64().unwrap(), r.body["data"]["secret"].as_str().unwrap().to_owned())
    }

    /// Every row of the tables a request could change, to prove a rejected one changed nothing.
    pub async fn snapshot(&self) -> Vec<String> {
        let mut rows: Vec<String> = sqlx::query_scalar(
            "SELECT printf('user %d %s %s %d %s %s %s', id, username, password_hash, is_admin, \
             quote(session_name), quote(callback_url), updated_at) FROM users ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap();
        let tokens: Vec<String> =
            sqlx::query_scalar("SELECT printf('token %d %d %s', id, user_id, name) FROM api_tokens ORDER BY id")
                .fetch_all(&self.pool)
                .await
                .unwrap();
        rows.extend(tokens);
        rows
    }
}

impl TestApp {
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.config.data_dir.clone()
    }

    pub async fn post(&self, path: &str, auth: &Auth) -> Response {
        self.call(Method::POST, path, auth, None).await
    }

    /// Starts `user`'s session and has the simulated phone scan it.
    /// A new user `name` (password `{name}-pw`, session `name`) with its phone linked.
    pub async fn linked(&self, name: &str, phone: &str) -> Auth {
        self.create_user(name, &format!("{name}-pw")).await;
        let user = basic(name, &format!("{name}-pw"));
        self.link(&user, name, phone).await;
        user
    }

    pub async fn link(&self, user: &Auth, session: &str, phone: &str) {
        let r = self.post("/dashboard/start-session", user).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = self
            .call(Method::POST, &format!("/sim/sessions/{session}/scan"), &admin(), Some(json!({"phone": phone})))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        self.wait_status(user, "connected").await;
    }

    /// Polls session-info until the status is `status` (10 s at most).
    pub async fn wait_status(&self, user: &Auth, status: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let r = self.get("/dashboard/session-info", user).await;
            if r.body["data"]["status"] == status {
                return r.body["data"].clone();
            }
            assert!(std::time::Instant::now() < deadline, "status never became {status}: {}", r.body);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub async fn outbox(&self, kind: &str) -> Vec<Value> {
        let rows: Vec<String> = sqlx::query_scalar("SELECT payload FROM webhook_events WHERE kind = ? ORDER BY id")
            .bind(kind)
            .fetch_all(&self.pool)
            .await
            .unwrap();
        rows.iter().map(|r| serde_json::from_str(r).unwrap()).collect()
    }

    pub async fn ws(&self, auth: &Auth) -> Ws {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{}/ws", self.addr).into_client_request().unwrap();
        let header = match auth {
            Auth::Basic(u, p) => {
                use base64::Engine;
                Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))))
            }
            Auth::Bearer(t) => Some(format!("Bearer {t}")),
            _ => None,
        };
        if let Some(h) = header {
            request.headers_mut().insert("authorization", h.parse().unwrap());
        }
        let (stream, _) = tokio_tungstenite::connect_async(request).await.expect("websocket connects");
        Ws { stream }
    }
}

pub struct Ws {
    stream: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
}

impl Ws {
    /// The next JSON event, or None if nothing arrives within `ms`.
    pub async fn next_within(&mut self, ms: u64) -> Option<Value> {
        use futures_util::StreamExt;
        loop {
            let msg = tokio::time::timeout(std::time::Duration::from_millis(ms), self.stream.next()).await.ok()??;
            if let Ok(tokio_tungstenite::tungstenite::Message::Text(text)) = msg {
                return Some(serde_json::from_str(&text).unwrap());
            }
        }
    }

    /// Skips events until one matches (10 s at most).
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Some(event) = self.next_within(500).await {
                if pred(&event) {
                    return event;
                }
            }
        }
        panic!("no websocket event: {what}");
    }
}
