//! Standard Webhooks signing, pure: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
//! keyed with the bytes behind a `whsec_…` secret.

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// A new secret: 32 random bytes, base64, with the `whsec_` prefix.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{PREFIX}{}", STANDARD.encode(bytes))
}

/// The key behind a `whsec_…` secret, decoded once and kept with the HMAC state it
/// starts from, since a user's every delivery is signed with it.
#[derive(Clone)]
pub struct Key(Hmac<Sha256>);

impl Key {
    /// None if the secret is not valid base64.
    pub fn parse(secret: &str) -> Option<Self> {
        let key = STANDARD.decode(secret.strip_prefix(PREFIX).unwrap_or(secret)).ok()?;
        <Hmac<Sha256> as Mac>::new_from_slice(&key).ok().map(Self)
    }

    /// One `v1,…` signature.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = self.0.clone();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// One `v1,…` signature, or None if the secret is not valid base64.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    Some(Key::parse(secret)?.sign(id, timestamp, body))
}

/// The `webhook-signature` header: one signature per active key, space-separated
/// (during a rotation both the new and the previous secret sign).
pub fn signature_header<'a>(keys: impl IntoIterator<Item = &'a Key>, id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.into_iter().map(|k| k.sign(id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from the Standard Webhooks specification.
    #[test]
    fn matches_the_specification_vector() {
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig.as_deref(), Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    }

    #[test]
    fn several_secrets_sign_side_by_side() {
        let (a, b) = (new_secret(), new_secret());
        let keys = [Key::parse(&a).unwrap(), Key::parse(&b).unwrap()];
        let header = signature_header(&keys, "msg_1", 1, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts, [sign(&a, "msg_1", 1, b"{}").unwrap(), sign(&b, "msg_1", 1, b"{}").unwrap()]);
        assert!(a.starts_with("whsec_") && a.len() > 40);
    }
}
