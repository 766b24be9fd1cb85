//! Authentication: Basic (cached verification), Bearer tokens, browser cookies,
//! password changes, deletion, and throttling of repeated failures.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn basic_auth_rejects_wrong_and_missing_credentials() {
    let app = TestApp::spawn().await;
    for auth in [Auth::None, basic("admin", "nope"), basic("ghost", "admin"), Auth::Bearer("wag_unknown".into())] {
        let r = app.get("/admin/users", &auth).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(r.headers["www-authenticate"], "Basic realm=\"WA Gateway\"");
        assert!(["Unauthorized", "Invalid credentials"].contains(&r.message()), "{}", r.body);
    }
    let garbage =
        app.send(app.builder(Method::GET, "/admin/users", &Auth::None).header("authorization", "Basic %%%")).await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
    assert_eq!(garbage.message(), "Unauthorized");
}

#[tokio::test]
async fn passwords_may_contain_colons_and_unicode() {
    let app = TestApp::spawn().await;
    let r = app
        .call(Method::POST, "/admin/users", &admin(), Some(json!({"username": "colon", "password": "a:b:cé€"})))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(app.get("/auth/me", &basic("colon", "a:b:cé€")).await.status, StatusCode::OK);
    assert_eq!(app.get("/auth/me", &basic("colon", "a:b")).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_password_change_invalidates_cached_credentials_and_browser_logins() {
    let app = TestApp::spawn().await;
    let id = app.create_user("carol", "first-pw").await;
    let old = basic("carol", "first-pw");
    // Twice: the second call is served from the verification cache.
    assert_eq!(app.get("/auth/me", &old).await.status, StatusCode::OK);
    assert_eq!(app.get("/auth/me", &old).await.status, StatusCode::OK);
    let cookie = login(&app, "carol", "first-pw").await;
    assert_eq!(app.get("/auth/me", &Auth::Cookie(cookie.clone())).await.status, StatusCode::OK);

    let r = app
        .call(Method::PUT, &format!("/admin/users/{id}/password"), &admin(), Some(json!({"password": "second-pw"})))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(app.get("/auth/me", &old).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/auth/me", &Auth::Cookie(cookie)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/auth/me", &basic("carol", "second-pw")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_deleted_user_cannot_authenticate_by_any_means() {
    let app = TestApp::spawn().await;
    let id = app.create_user("dave", "dave-pw").await;
    let pw = basic("dave", "dave-pw");
    assert_eq!(app.get("/auth/me", &pw).await.status, StatusCode::OK);
    let (_, token) = app.create_token(&pw).await;
    let cookie = login(&app, "dave", "dave-pw").await;

    let r = app.call(Method::DELETE, &format!("/admin/users/{id}"), &admin(), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["data"]["message"], "User deleted");
    for auth in [pw, Auth::Bearer(token), Auth::Cookie(cookie)] {
        assert_eq!(app.get("/auth/me", &auth).await.status, StatusCode::UNAUTHORIZED, "{auth:?}");
    }
    assert_eq!(app.get(&format!("/admin/users/{id}"), &admin()).await.status, StatusCode::NOT_FOUND);
}

async fn login(app: &TestApp, username: &str, password: &str) -> String {
    let r = app
        .call(Method::POST, "/auth/login", &Auth::None, Some(json!({"username": username, "password": password})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let set_cookie = r.headers["set-cookie"].to_str().unwrap().to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(set_cookie.contains(attr), "{set_cookie} lacks {attr}");
    }
    set_cookie.split(';').next().unwrap().trim_start_matches("wa_session=").to_owned()
}

#[tokio::test]
async fn browser_login_and_logout() {
    let app = TestApp::spawn().await;
    let bad =
        app.call(Method::POST, "/auth/login", &Auth::None, Some(json!({"username": "admin", "password": "x"}))).await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert!(bad.headers.get("set-cookie").is_none());

    let cookie = login(&app, "admin", "admin").await;
    let me = app.get("/auth/me", &Auth::Cookie(cookie.clone())).await;
    assert_eq!(me.body["data"]["username"], "admin");
    assert_eq!(me.body["data"]["default_password"], true, "the panel warns about the default password");

    let out = app.call(Method::POST, "/auth/logout", &Auth::Cookie(cookie.clone()), None).await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(app.get("/auth/me", &Auth::Cookie(cookie)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/auth/me", &Auth::Cookie("forged".into())).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn api_tokens_are_shown_once_hashed_at_rest_and_revocable() {
    let app = TestApp::spawn().await;
    app.create_user("erin", "erin-pw").await;
    let erin = basic("erin", "erin-pw");
    let (id, secret) = app.create_token(&erin).await;
    assert!(secret.starts_with("wag_"));

    let me = app.get("/auth/me", &Auth::Bearer(secret.clone())).await;
    assert_eq!(me.body["data"]["username"], "erin");
    let list = app.get("/dashboard/tokens", &erin).await;
    let listed = list.body.to_string();
    assert!(!listed.contains(&secret), "the list must never show the secret");
    assert_eq!(list.body["data"][0]["name"], "ci");
    assert!(list.body["data"][0]["last_used_at"].is_string(), "use is recorded");
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM api_tokens").fetch_one(&app.pool).await.unwrap();
    assert!(!String::from_utf8_lossy(&stored).contains(&secret));

    let r = app.call(Method::DELETE, &format!("/dashboard/tokens/{id}"), &erin, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(app.get("/auth/me", &Auth::Bearer(secret)).await.status, StatusCode::UNAUTHORIZED);
    let again = app.call(Method::DELETE, &format!("/dashboard/tokens/{id}"), &erin, None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn users_change_their_own_password_with_the_current_one() {
    let app = TestApp::spawn().await;
    app.create_user("frank", "frank-pw").await;
    let frank = basic("frank", "frank-pw");
    let wrong = app
        .call(
            Method::PUT,
            "/auth/password",
            &frank,
            Some(json!({"current_password": "nope", "new_password": "frank-pw2"})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let short = app
        .call(Method::PUT, "/auth/password", &frank, Some(json!({"current_password": "frank-pw", "new_password": "x"})))
        .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    assert!(short.message().starts_with("Invalid password field 'new_password' on json"), "{}", short.message());
    let ok = app
        .call(
            Method::PUT,
            "/auth/password",
            &frank,
            Some(json!({"current_password": "frank-pw", "new_password": "frank-pw2"})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(app.get("/auth/me", &basic("frank", "frank-pw2")).await.status, StatusCode::OK);
    assert_eq!(app.get("/auth/me", &frank).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_admin_can_change_its_own_password_which_clears_the_warning() {
    let app = TestApp::spawn().await;
    let r =
        app.call(Method::PUT, "/admin/users/1/password", &admin(), Some(json!({"password": "better-secret"}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["data"]["default_password"], false);
    assert_eq!(app.get("/auth/me", &admin()).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/auth/me", &basic("admin", "better-secret")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn admin_credentials_come_from_the_environment_when_set() {
    let app = TestApp::spawn_with(|c| {
        c.admin_user = "root".into();
        c.admin_password = Some(server::config::Secret::new("s3cret-pw"));
    })
    .await;
    let me = app.get("/auth/me", &basic("root", "s3cret-pw")).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["data"]["id"], 1);
    assert_eq!(me.body["data"]["is_admin"], true);
    assert_eq!(me.body["data"]["default_password"], false);
    assert_eq!(app.get("/auth/me", &admin()).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn repeated_failures_slow_down_that_client_and_username_only() {
    let app = TestApp::spawn_with(|c| c.auth_failures_per_minute = 3).await;
    app.create_user("grace", "grace-pw").await;
    let attacker = basic("grace", "guess");
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(app.get("/auth/me", &attacker).await.status.as_u16());
    }
    assert_eq!(&statuses[..3], &[401, 401, 401]);
    assert_eq!(statuses[4], 429, "{statuses:?}");
    let limited = app.get("/auth/me", &attacker).await;
    assert!(limited.headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert!(limited.message().starts_with("Too many failed login attempts"));
    // Another account from the same client is unaffected.
    assert_eq!(app.get("/auth/me", &admin()).await.status, StatusCode::OK);
    // The browser login path shares the throttle.
    let r = app
        .call(Method::POST, "/auth/login", &Auth::None, Some(json!({"username": "grace", "password": "grace-pw"})))
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}
