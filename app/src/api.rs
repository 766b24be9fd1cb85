//! Wire types shared by the REST API, the server functions and the browser.
//!
//! Request types reject unknown fields so a typo in a client is a clear 400
//! instead of a silently ignored key.

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use utoipa::ToSchema;

/// A user as every API answer shows it: never a password hash, token or secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub is_admin: bool,
    /// The effective session name (the username unless the admin set one).
    pub session_name: String,
    pub callback_url: Option<String>,
    /// Last known status of the user's WhatsApp session.
    pub status: String,
    pub created_at: String,
    /// True while this account still uses the built-in default password.
    pub default_password: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub session_name: Option<String>,
    #[serde(default)]
    pub callback_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetPasswordRequest {
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChangeOwnPasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// `PUT /admin/users/:id/session-config`: only the keys present change;
/// `"callback_url": null` clears the callback, `"session_name": null` resets the
/// session name to the username.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SessionConfigRequest {
    #[serde(default, with = "double_option")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub session_name: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub callback_url: Option<Option<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    pub name: String,
}

/// An API token as listed: the secret itself is only ever shown once, at creation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    /// The first characters of the token, to tell tokens apart.
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct CreatedToken {
    #[serde(flatten)]
    pub token: TokenView,
    /// The bearer token; store it now, it cannot be read again.
    pub secret: String,
}

/// `{"callback_url": …}` is required here (null clears it); a missing key is an error.
impl CallbackRequest {
    pub fn into_session_config(self) -> SessionConfigRequest {
        SessionConfigRequest { session_name: None, callback_url: self.callback_url }
    }
}

/// Tells a missing key (`None`) apart from an explicit `null` (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Option<String>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_config_tells_missing_from_null() {
        let missing: SessionConfigRequest = serde_json::from_str(r#"{"session_name":"x"}"#).unwrap();
        assert_eq!(missing.callback_url, None);
        assert_eq!(missing.session_name, Some(Some("x".into())));
        let null: SessionConfigRequest = serde_json::from_str(r#"{"callback_url":null}"#).unwrap();
        assert_eq!(null.callback_url, Some(None));
        let set: SessionConfigRequest = serde_json::from_str(r#"{"callback_url":"https://a.b"}"#).unwrap();
        assert_eq!(set.callback_url, Some(Some("https://a.b".into())));
    }

    #[test]
    fn callback_request_needs_the_key() {
        assert!(serde_json::from_str::<CallbackRequest>("{}").is_err());
        let null: CallbackRequest = serde_json::from_str(r#"{"callback_url":null}"#).unwrap();
        assert_eq!(null.callback_url, Some(None));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_json::from_str::<CreateUserRequest>(r#"{"username":"a","password":"b","x":1}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `x`"));
    }
}

/// `GET /dashboard/session-info`: the caller's one session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct SessionInfo {
    pub session_name: String,
    pub callback_url: Option<String>,
    pub is_connected: bool,
    /// `disconnected`, `connecting`, `qr`, `connected` or `logged_out`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_name: Option<String>,
    /// The current QR code as a PNG data URL, while waiting for a scan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pair_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `POST /dashboard/start-session`: a QR code to scan, or a message when connected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct StartSessionResponse {
    pub session_name: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CallbackRequest {
    /// An absolute http(s) URL, or null to clear it. Required.
    #[serde(with = "double_option")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub callback_url: Option<Option<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PairCodeRequest {
    /// The phone number to link, digits with optional `+`, spaces or dashes.
    pub phone: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct PairCodeResponse {
    pub session_name: String,
    pub pair_code: String,
}

/// A session as `GET /session` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct SessionView {
    pub session: String,
    pub user_id: i64,
    pub status: String,
    pub is_connected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
