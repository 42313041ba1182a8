//! Stripe's webhook signature: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`,
//! each `v1` an HMAC-SHA256, keyed with the endpoint secret's text, of `"{t}.{body}"`.
//! Several `v1` values appear while a secret is being rolled: one match is enough. The
//! timestamp must be within the tolerance of now, either way, so a captured request cannot
//! be replayed later.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Stripe's own libraries' default: five minutes.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp (t=) or no v1 signature")]
    Malformed,
    #[error("the Stripe-Signature timestamp is more than {TOLERANCE_SECS} seconds from now")]
    OutsideTolerance,
    #[error("no v1 signature in the Stripe-Signature header matches this body")]
    NoMatch,
}

/// The `v1` signature of `body` at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes a key of any length"),
    };
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    mac
}

/// Checks `header` against `body` at `now` (unix seconds); returns the signed timestamp.
pub fn verify(
    secret: &str,
    header: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => {
                timestamp = Some(t.parse::<i64>().map_err(|_| SignatureError::Malformed)?)
            }
            Some(("v1", s)) => signatures.extend(hex::decode(s).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now.abs_diff(timestamp) > TOLERANCE_SECS as u64 {
        return Err(SignatureError::OutsideTolerance);
    }
    // verify_slice compares in constant time.
    let expected = mac(secret, timestamp, body);
    if signatures
        .iter()
        .any(|s| expected.clone().verify_slice(s).is_ok())
    {
        Ok(timestamp)
    } else {
        Err(SignatureError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"invoice.paid"}"#;

    #[test]
    fn accepts_any_matching_v1_within_tolerance() {
        let t = 1_800_000_000;
        let good = sign(SECRET, t, BODY);
        let other = sign("whsec_old", t, BODY);
        let header = format!("t={t},v1={other},v1={good},v0=ignored");
        assert_eq!(verify(SECRET, Some(&header), BODY, t + 299), Ok(t));
        assert_eq!(verify(SECRET, Some(&header), BODY, t - 299), Ok(t));
        // Stripe's documented example shape: hex of the HMAC of "t.body".
        assert_eq!(good.len(), 64);
    }

    #[test]
    fn refuses_what_it_should() {
        let t = 1_800_000_000;
        let sig = sign(SECRET, t, BODY);
        let header = format!("t={t},v1={sig}");
        assert_eq!(verify(SECRET, None, BODY, t), Err(SignatureError::Missing));
        assert_eq!(
            verify(SECRET, Some(&format!("v1={sig}")), BODY, t),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(SECRET, Some(&format!("t={t}")), BODY, t),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(SECRET, Some(&header), BODY, t + 301),
            Err(SignatureError::OutsideTolerance)
        );
        assert_eq!(
            verify(SECRET, Some(&header), b"{\"id\":\"evt_2\"}", t),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify("whsec_other", Some(&header), BODY, t),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(SECRET, Some(&format!("t={},v1={sig}", i64::MIN)), BODY, t),
            Err(SignatureError::OutsideTolerance)
        );
        // The timestamp is signed: moving it breaks the signature.
        let moved = format!("t={},v1={sig}", t + 1);
        assert_eq!(
            verify(SECRET, Some(&moved), BODY, t),
            Err(SignatureError::NoMatch)
        );
    }
}
