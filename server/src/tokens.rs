//! API tokens: a user creates bearer tokens for REST clients and revokes them. Only a
//! hash is stored; the secret is returned once, at creation.

use crate::{
    auth::new_api_token,
    db::{self, tokens::TokenRow},
    domain::TokenName,
    error::{ApiError, ApiResult},
};
use app::api::{CreatedToken, TokenView};
use sqlx::SqlitePool;

/// More than enough for any real deployment; stops a runaway script filling the table.
const MAX_TOKENS_PER_USER: usize = 50;

pub struct Tokens {
    pool: SqlitePool,
}

fn view(row: TokenRow) -> TokenView {
    TokenView {
        id: row.id,
        name: row.name,
        prefix: row.prefix,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
    }
}

impl Tokens {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    pub async fn create(&self, user_id: i64, name: &str) -> ApiResult<CreatedToken> {
        let name = TokenName::parse(name)?;
        if db::tokens::list(&self.pool, user_id).await?.len() >= MAX_TOKENS_PER_USER {
            return Err(ApiError::Conflict(format!("At most {MAX_TOKENS_PER_USER} tokens per user; revoke one first")));
        }
        let (secret, hash, prefix) = new_api_token();
        let row = db::tokens::insert(&self.pool, user_id, name.as_str(), &hash, &prefix).await?;
        tracing::info!(user_id, token_id = row.id, "api token created");
        Ok(CreatedToken { token: view(row), secret })
    }

    pub async fn list(&self, user_id: i64) -> ApiResult<Vec<TokenView>> {
        Ok(db::tokens::list(&self.pool, user_id).await?.into_iter().map(view).collect())
    }

    pub async fn revoke(&self, user_id: i64, id: i64) -> ApiResult<()> {
        if db::tokens::delete(&self.pool, user_id, id).await? {
            tracing::info!(user_id, token_id = id, "api token revoked");
            Ok(())
        } else {
            Err(ApiError::NotFound("Token not found".into()))
        }
    }
}
