//! Domain types that validate on construction: once a handler holds a `Username`, it is
//! a valid one. Each parse error names the JSON field it came from.

use std::fmt;

/// A rejected field, rendered as `Invalid <kind> field '<field>' on json[: <hint>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub kind: &'static str,
    pub field: &'static str,
    pub hint: Option<String>,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Invalid {} field '{}' on json", self.kind, self.field)?;
        if let Some(hint) = &self.hint {
            write!(f, ": {hint}")?;
        }
        Ok(())
    }
}

impl From<FieldError> for crate::error::ApiError {
    fn from(e: FieldError) -> Self {
        Self::BadRequest(e.to_string())
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// 3–32 characters of `[A-Za-z0-9_.-]`; safe to use in logs and never a path by itself.
fn parse_name(value: &str, kind: &'static str, field: &'static str) -> Result<String, FieldError> {
    let ok =
        (3..=32).contains(&value.len()) && value.chars().all(is_name_char) && value != "." && !value.starts_with("..");
    if ok {
        Ok(value.to_owned())
    } else {
        Err(FieldError { kind, field, hint: Some("use 3 to 32 characters of A-Z a-z 0-9 _ . -".into()) })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        parse_name(value, "username", "username").map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionName(String);

impl SessionName {
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        parse_name(value, "session name", "session_name").map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: long enough, and short enough that hashing it cannot be abused.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

pub const MAX_PASSWORD_BYTES: usize = 1024;

impl Password {
    pub fn parse(value: &str, min_len: usize, field: &'static str) -> Result<Self, FieldError> {
        let chars = value.chars().count();
        if chars < min_len || value.len() > MAX_PASSWORD_BYTES {
            return Err(FieldError {
                kind: "password",
                field,
                hint: Some(format!("use {min_len} to {MAX_PASSWORD_BYTES} characters")),
            });
        }
        Ok(Self(value.to_owned()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// An absolute http(s) URL with a host; webhooks go to `<url>/message` and `<url>/session`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackUrl(String);

impl CallbackUrl {
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let err = || FieldError { kind: "url", field: "callback_url", hint: None };
        if value.len() > 2048 || value.trim() != value {
            return Err(err());
        }
        let url = url::Url::parse(value).map_err(|_| err())?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(err());
        }
        Ok(Self(value.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A name for an API token, shown in the token list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(String);

impl TokenName {
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let trimmed = value.trim();
        if trimmed.is_empty() || trimmed.chars().count() > 64 || trimmed.chars().any(char::is_control) {
            return Err(FieldError {
                kind: "name",
                field: "name",
                hint: Some("use 1 to 64 printable characters".into()),
            });
        }
        Ok(Self(trimmed.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_charset_and_length() {
        for ok in ["abc", "testuser", "user-whatsapp", "a.b_c-1", &"x".repeat(32)] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
            assert!(SessionName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "ab", &"x".repeat(33), "a b", "../etc", "ä-user", "semi;colon", "a/b", "..."] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(CallbackUrl::parse("ftp://x").unwrap_err().to_string(), "Invalid url field 'callback_url' on json");
        assert!(SessionName::parse("x")
            .unwrap_err()
            .to_string()
            .starts_with("Invalid session name field 'session_name' on json"));
    }

    #[test]
    fn callback_urls_must_be_absolute_http() {
        for ok in ["https://api.example.com/webhook", "http://127.0.0.1:9000/", "https://webhook.site/unique-id"] {
            assert!(CallbackUrl::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "example.com", "file:///etc/passwd", "javascript:alert(1)", "http://", " https://a.b"] {
            assert!(CallbackUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_have_bounds_and_hide_in_debug() {
        assert!(Password::parse("test123", 6, "password").is_ok());
        assert!(Password::parse("short", 6, "password").is_err());
        assert!(Password::parse(&"x".repeat(2000), 6, "password").is_err());
        assert_eq!(format!("{:?}", Password::parse("secret1", 6, "password").unwrap()), "Password(***)");
    }

    #[test]
    fn token_names_are_trimmed_and_bounded() {
        assert_eq!(TokenName::parse("  ci  ").unwrap().as_str(), "ci");
        assert!(TokenName::parse("   ").is_err());
        assert!(TokenName::parse(&"n".repeat(65)).is_err());
    }
}

/// A phone number: digits with an optional leading `+`, spaces and dashes allowed;
/// kept as 7–15 digits (E.164 without the plus).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(value: &str, field: &'static str) -> Result<Self, FieldError> {
        let trimmed = value.trim();
        let body = trimmed.strip_prefix('+').unwrap_or(trimmed);
        let valid_chars = body.chars().all(|c| c.is_ascii_digit() || c == ' ' || c == '-');
        let digits: String = body.chars().filter(char::is_ascii_digit).collect();
        if !valid_chars || !(7..=15).contains(&digits.len()) {
            return Err(FieldError {
                kind: "phone",
                field,
                hint: Some("use 7 to 15 digits, e.g. +62 812 3456 7890".into()),
            });
        }
        Ok(Self(digits))
    }
    pub fn digits(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod phone_tests {
    use super::Phone;

    #[test]
    fn phones_are_normalised_to_digits() {
        assert_eq!(Phone::parse("+62 812-3456-7890", "phone").unwrap().digits(), "6281234567890");
        for bad in ["", "12345", "+62abc4567890", "1234567890123456", "++6281234567"] {
            assert!(Phone::parse(bad, "phone").is_err(), "{bad}");
        }
    }
}

/// Who a message goes to: a phone number (digits, optional `+`, spaces, dashes) or a
/// full JID (`@s.whatsapp.net`, `@g.us`, `@lid`). `is_group` makes a bare id a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient(String);

impl Recipient {
    pub fn parse(to: &str, is_group: bool) -> Result<Self, FieldError> {
        let err = || FieldError {
            kind: "recipient",
            field: "to",
            hint: Some("use a phone number like +62 812 3456 7890 or a JID like 12345@g.us".into()),
        };
        let to = to.trim();
        if let Some((user, server)) = to.split_once('@') {
            let user_ok = !user.is_empty()
                && user.len() <= 64
                && user.chars().all(|c| c.is_ascii_digit() || c == '-' || c == ':');
            return match server {
                "s.whatsapp.net" | "g.us" | "lid" if user_ok => Ok(Self(to.to_owned())),
                _ => Err(err()),
            };
        }
        if is_group {
            let ok = !to.is_empty() && to.len() <= 64 && to.chars().all(|c| c.is_ascii_digit() || c == '-');
            return if ok { Ok(Self(format!("{to}@g.us"))) } else { Err(err()) };
        }
        let phone = Phone::parse(to, "to").map_err(|_| err())?;
        Ok(Self(format!("{}@s.whatsapp.net", phone.digits())))
    }

    pub fn jid(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod recipient_tests {
    use super::Recipient;

    #[test]
    fn numbers_and_jids() {
        assert_eq!(Recipient::parse("+62 812-3456-7890", false).unwrap().jid(), "6281234567890@s.whatsapp.net");
        assert_eq!(Recipient::parse("120363012345", true).unwrap().jid(), "120363012345@g.us");
        assert_eq!(Recipient::parse("1234567890@s.whatsapp.net", false).unwrap().jid(), "1234567890@s.whatsapp.net");
        assert_eq!(Recipient::parse("99887766@lid", false).unwrap().jid(), "99887766@lid");
        for bad in ["", "abc", "123@evil.com", "@g.us", "12 34", "+1", "x@g.us"] {
            assert!(Recipient::parse(bad, false).is_err(), "{bad}");
        }
    }
}
