//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `"{webhook-id}.{webhook-timestamp}.{body}"`, keyed with the secret's bytes; secrets are
//! shown as `whsec_<base64>`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::keys::{KeyError, fill_random};

const PREFIX: &str = "whsec_";
/// 32 random bytes (the specification allows 24 to 64).
pub const SECRET_LEN: usize = 32;

/// A new endpoint secret's bytes.
pub fn generate() -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let mut bytes = Zeroizing::new(vec![0u8; SECRET_LEN]);
    fill_random(&mut bytes)?;
    Ok(bytes)
}

/// The secret as shown once to the person who created the endpoint.
pub fn display(secret: &[u8]) -> Zeroizing<String> {
    Zeroizing::new(format!("{PREFIX}{}", STANDARD.encode(secret)))
}

/// The bytes of a `whsec_…` secret.
pub fn parse(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let b64 = text.strip_prefix(PREFIX)?;
    STANDARD.decode(b64).ok().map(Zeroizing::new)
}

/// The `webhook-signature` header's value for one attempt.
pub fn sign(secret: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes a key of any length"),
    };
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_specifications_example() {
        // The example of the Standard Webhooks specification's reference libraries.
        let secret = parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_round_trip_and_differ() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(*a, *b);
        let shown = display(&a);
        assert!(shown.starts_with("whsec_"));
        assert_eq!(*parse(&shown).unwrap(), *a);
        assert!(parse("sk_nope").is_none());
    }
}
