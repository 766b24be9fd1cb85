//! The user service: every rule about creating, configuring and deleting users lives
//! here, shared by the REST handlers and (later) the Leptos server functions.

use crate::{
    auth::hash_password,
    config::Config,
    db::{self, users::UserRow},
    domain::{CallbackUrl, Password, SessionName, Username},
    error::{ApiError, ApiResult},
};
use crate::{sessions::Sessions, webhooks::Targets};
use app::api::{CreateUserRequest, SessionConfigRequest, UserView};
use sqlx::SqlitePool;
use std::sync::Arc;

pub struct Users {
    pool: SqlitePool,
    min_password_length: usize,
    sessions: Arc<Sessions>,
    /// Told when a callback URL changes or a user goes.
    targets: Arc<Targets>,
}

pub fn view(row: &UserRow) -> UserView {
    UserView {
        id: row.id,
        username: row.username.clone(),
        is_admin: row.is_admin,
        session_name: row.effective_session_name().to_owned(),
        callback_url: row.callback_url.clone(),
        status: row.session_status.clone(),
        created_at: row.created_at.clone(),
        default_password: row.default_password,
    }
}

/// Statuses in which a session holds a live engine client and so cannot be renamed.
fn is_running(status: &str) -> bool {
    matches!(status, "connecting" | "qr" | "connected")
}

impl Users {
    pub fn new(pool: SqlitePool, config: &Config, sessions: Arc<Sessions>, targets: Arc<Targets>) -> Self {
        Self { pool, min_password_length: config.min_password_length, sessions, targets }
    }

    pub fn parse_password(&self, value: &str, field: &'static str) -> ApiResult<Password> {
        Ok(Password::parse(value, self.min_password_length, field)?)
    }

    /// Creates the first admin on an empty database (id 1, as the seed's examples assume).
    pub async fn ensure_admin(&self, config: &Config) -> anyhow::Result<()> {
        if db::users::count(&self.pool).await? > 0 {
            return Ok(());
        }
        let username = Username::parse(&config.admin_user).map_err(|e| anyhow::anyhow!("ADMIN_USER: {e}"))?;
        let (password, is_default) = match &config.admin_password {
            Some(p) => (p.expose().to_owned(), false),
            None => ("admin".to_owned(), true),
        };
        let hash = hash_password(&password).await?;
        db::users::insert(
            &self.pool,
            db::users::NewUser {
                username: username.as_str(),
                password_hash: &hash,
                is_admin: true,
                session_name: None,
                callback_url: None,
                default_password: is_default,
            },
        )
        .await?;
        tracing::info!(admin = username.as_str(), "created the admin user");
        Ok(())
    }

    /// Warns loudly for every admin that still has the built-in default password.
    pub async fn warn_default_passwords(&self) -> anyhow::Result<()> {
        for user in db::users::list(&self.pool).await? {
            if user.default_password {
                tracing::warn!(
                    user = %user.username,
                    "the admin still uses the DEFAULT PASSWORD 'admin': change it now \
                     (PUT /admin/users/{}/password) or set ADMIN_PASSWORD before first start",
                    user.id
                );
            }
        }
        Ok(())
    }

    pub async fn create(&self, req: CreateUserRequest) -> ApiResult<UserView> {
        let username = Username::parse(&req.username)?;
        let password = self.parse_password(&req.password, "password")?;
        let session_name = req.session_name.as_deref().map(SessionName::parse).transpose()?;
        let callback_url = req.callback_url.as_deref().map(CallbackUrl::parse).transpose()?;
        if db::users::username_exists(&self.pool, username.as_str()).await? {
            return Err(ApiError::BadRequest("Username already exists".into()));
        }
        let hash = hash_password(password.expose()).await?;
        let inserted = db::users::insert(
            &self.pool,
            db::users::NewUser {
                username: username.as_str(),
                password_hash: &hash,
                is_admin: false,
                session_name: session_name.as_ref().map(SessionName::as_str),
                callback_url: callback_url.as_ref().map(CallbackUrl::as_str),
                default_password: false,
            },
        )
        .await;
        let id = match inserted {
            Ok(id) => id,
            Err(e) if db::is_unique_violation(&e) => {
                // Lost a race on the username, or the name is another user's session name.
                return Err(if db::users::username_exists(&self.pool, username.as_str()).await? {
                    ApiError::BadRequest("Username already exists".into())
                } else {
                    let name = session_name.as_ref().map_or(username.as_str(), SessionName::as_str);
                    session_name_taken(name)
                });
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(user_id = id, "user created");
        self.get(id).await
    }

    pub async fn list(&self) -> ApiResult<Vec<UserView>> {
        Ok(db::users::list(&self.pool).await?.iter().map(view).collect())
    }

    pub async fn get(&self, id: i64) -> ApiResult<UserView> {
        self.row(id).await.map(|row| view(&row))
    }

    async fn row(&self, id: i64) -> ApiResult<UserRow> {
        db::users::by_id(&self.pool, id).await?.ok_or_else(user_not_found)
    }

    pub async fn set_password(&self, id: i64, password: &str) -> ApiResult<UserView> {
        let password = self.parse_password(password, "password")?;
        self.row(id).await?;
        let hash = hash_password(password.expose()).await?;
        if !db::users::set_password(&self.pool, id, &hash).await? {
            return Err(user_not_found());
        }
        tracing::info!(user_id = id, "password changed");
        self.get(id).await
    }

    /// Applies only the keys present in the request (`callback_url: null` clears it).
    pub async fn set_session_config(&self, id: i64, req: SessionConfigRequest) -> ApiResult<UserView> {
        let session_name = parse_nullable(&req.session_name, SessionName::parse)?;
        let callback_url = parse_nullable(&req.callback_url, CallbackUrl::parse)?;
        let current = self.row(id).await?;
        if let Some(name) = &session_name {
            let new_name = name.as_ref().map_or(current.username.as_str(), SessionName::as_str);
            let renaming = !new_name.eq_ignore_ascii_case(current.effective_session_name());
            if renaming && is_running(&current.session_status) {
                return Err(ApiError::Conflict(format!(
                    "Session '{}' is running; disconnect it before renaming",
                    current.effective_session_name()
                )));
            }
        }
        let updated = db::users::set_session_config(
            &self.pool,
            id,
            session_name.as_ref().map(|n| n.as_ref().map(SessionName::as_str)),
            callback_url.as_ref().map(|c| c.as_ref().map(CallbackUrl::as_str)),
        )
        .await;
        match updated {
            Ok(true) => {}
            Ok(false) => return Err(user_not_found()),
            Err(e) if db::is_unique_violation(&e) => {
                let name = match &session_name {
                    Some(Some(name)) => name.as_str(),
                    _ => current.username.as_str(),
                };
                return Err(session_name_taken(name));
            }
            Err(e) => return Err(e.into()),
        }
        self.targets.forget(id);
        tracing::info!(user_id = id, "session config changed");
        self.get(id).await
    }

    /// Deletes a user: its session is logged out and its keys and media removed first;
    /// tokens, logins, the activity log and pending events go with the row.
    pub async fn delete(&self, id: i64, acting_admin: i64) -> ApiResult<()> {
        if id == acting_admin {
            return Err(ApiError::BadRequest("You cannot delete your own account".into()));
        }
        let user = self.row(id).await?;
        self.sessions.logout(&user, "the user was deleted").await?;
        if !db::users::delete(&self.pool, id).await? {
            return Err(user_not_found());
        }
        self.targets.forget(id);
        self.sessions.remove_media(id).await;
        tracing::info!(user_id = id, "user deleted");
        Ok(())
    }
}

/// Parses a "missing / null / value" field: `None` = leave, `Some(None)` = clear.
fn parse_nullable<T, E: Into<ApiError>>(
    value: &Option<Option<String>>,
    parse: impl Fn(&str) -> Result<T, E>,
) -> ApiResult<Option<Option<T>>> {
    match value {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(v)) => parse(v).map(|t| Some(Some(t))).map_err(Into::into),
    }
}

fn user_not_found() -> ApiError {
    ApiError::NotFound("User not found".into())
}

fn session_name_taken(name: &str) -> ApiError {
    ApiError::Conflict(format!("Session name '{name}' is already in use"))
}
