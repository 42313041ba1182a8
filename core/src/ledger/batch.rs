//! Checking many Ed25519 signatures over record hashes at once. A log's signatures are
//! nearly all by one or two keys, so the batch equation groups the keys' terms: one
//! multiscalar multiplication of `n + keys + 1` points instead of `2n + 1`, and no
//! transcript hashing — about twice as fast as a generic batch. Any failure falls back to
//! `verify_strict` one by one, which decides.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha512};

use super::merkle::Hash;

/// The cofactored batch equation with random 128-bit weights `z_i`:
/// `8·( (−Σ z_i s_i)·B + Σ z_i R_i + Σ_keys (Σ_{i of key} z_i k_i)·A ) = 0`, where
/// `k_i = SHA-512(R_i ‖ A_i ‖ M_i) mod ℓ`. False when any `s` is non-canonical or any `R`
/// does not decode or is encoded non-canonically (those fail `verify_strict` too), or when
/// the equation does not hold. Being cofactored, like every batch equation (ed25519-dalek's
/// own included), it also accepts an `R` with a small torsion component that
/// `verify_strict` refuses: such a signature can only come from the key's holder, and it
/// says nothing different about the record's hash.
/// Whether a point encoding has `y ≥ p` (`decompress` would reduce it; `verify_strict`
/// refuses it by comparing with the canonical re-encoding).
fn non_canonical(bytes: &[u8; 32]) -> bool {
    bytes[31] & 0x7f == 0x7f && bytes[1..31].iter().all(|b| *b == 0xff) && bytes[0] >= 0xed
}

fn batch_verifies(items: &[(Hash, Signature, VerifyingKey)]) -> bool {
    let mut weights = vec![0u8; 16 * items.len()];
    if getrandom::fill(&mut weights).is_err() {
        return false;
    }
    let mut scalars: Vec<Scalar> = Vec::with_capacity(items.len() + 3);
    let mut points: Vec<EdwardsPoint> = Vec::with_capacity(items.len() + 3);
    let mut keys: Vec<(VerifyingKey, Scalar)> = Vec::new();
    let mut base = Scalar::ZERO;
    for ((hash, sig, key), w) in items.iter().zip(weights.chunks_exact(16)) {
        let mut z = [0u8; 32];
        z[..16].copy_from_slice(w);
        let z = Scalar::from_bytes_mod_order(z);
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(*sig.s_bytes())) else {
            return false;
        };
        if non_canonical(sig.r_bytes()) {
            return false;
        }
        let Some(r) = CompressedEdwardsY(*sig.r_bytes()).decompress() else {
            return false;
        };
        let k = Scalar::from_hash(
            Sha512::new()
                .chain_update(sig.r_bytes())
                .chain_update(key.as_bytes())
                .chain_update(hash),
        );
        base -= z * s;
        scalars.push(z);
        points.push(r);
        match keys.iter_mut().find(|(k2, _)| k2 == key) {
            Some((_, c)) => *c += z * k,
            None => keys.push((*key, z * k)),
        }
    }
    for (key, c) in keys {
        scalars.push(c);
        points.push(key.to_edwards());
    }
    scalars.push(base);
    points.push(ED25519_BASEPOINT_POINT);
    EdwardsPoint::vartime_multiscalar_mul(scalars, points)
        .mul_by_cofactor()
        .is_identity()
}

/// The positions of the signatures over record hashes that do not verify as
/// `verify_strict` would have it: checked as one batch and one by one only
/// when the batch fails.
pub fn failing_signatures(items: &[(Hash, Signature, VerifyingKey)]) -> Vec<usize> {
    if items.is_empty() {
        return Vec::new();
    }
    let small_order_r = items.iter().any(|(_, s, _)| r_is_small_order(s));
    if !small_order_r && batch_verifies(items) {
        return Vec::new();
    }
    items
        .iter()
        .enumerate()
        .filter(|(_, (h, s, k))| k.verify_strict(h, s).is_err())
        .map(|(i, _)| i)
        .collect()
}

/// Batch verification does not reject a small-order R as `verify_strict` does; check it
/// by encoding instead of decompressing every R (a field square root each).
fn r_is_small_order(sig: &Signature) -> bool {
    SMALL_ORDER_ENCODINGS.contains(sig.r_bytes())
}

/// Every 32-byte string that decompresses to a point of small order: the eight torsion
/// points' encodings with either sign bit, and the non-canonical encodings `y + p` of the
/// ones with `y < 19` (y = 0 and y = 1). Each candidate is kept only if it really decodes to
/// a small-order point, so the table is derived, not typed in.
static SMALL_ORDER_ENCODINGS: std::sync::LazyLock<Vec<[u8; 32]>> = std::sync::LazyLock::new(|| {
    use curve25519_dalek::constants::EIGHT_TORSION;
    use curve25519_dalek::edwards::CompressedEdwardsY;
    // p = 2^255 - 19, little endian.
    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    let mut candidates: Vec<[u8; 32]> = Vec::new();
    for point in EIGHT_TORSION.iter() {
        let c = point.compress().to_bytes();
        let mut flipped = c;
        flipped[31] ^= 0x80;
        candidates.push(c);
        candidates.push(flipped);
    }
    for small_y in [0u8, 1] {
        let mut y = p;
        y[0] = y[0].wrapping_add(small_y);
        let mut flipped = y;
        flipped[31] |= 0x80;
        candidates.push(y);
        candidates.push(flipped);
    }
    let mut out: Vec<[u8; 32]> = candidates
        .into_iter()
        .filter(|c| {
            CompressedEdwardsY(*c)
                .decompress()
                .is_some_and(|pt| pt.is_small_order())
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
});

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn small_order_r_values_are_recognised() {
        use curve25519_dalek::constants::EIGHT_TORSION;
        assert!(SMALL_ORDER_ENCODINGS.len() >= 8);
        for t in EIGHT_TORSION.iter() {
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(&t.compress().to_bytes());
            assert!(r_is_small_order(&Signature::from_bytes(&sig)));
        }
        // A real signature's R is not.
        let key = ed25519_dalek::SigningKey::from_bytes(&[1u8; 32]);
        let sig = ed25519_dalek::Signer::sign(&key, b"m");
        assert!(!r_is_small_order(&sig));
    }
    #[test]
    fn non_canonical_points_are_recognised() {
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        assert!(non_canonical(&p));
        p[0] = 0xec;
        assert!(!non_canonical(&p));
        assert!(!non_canonical(
            &ED25519_BASEPOINT_POINT.compress().to_bytes()
        ));
    }

    #[test]
    fn the_batch_agrees_with_verify_strict() {
        let keys = [
            SigningKey::from_bytes(&[1u8; 32]),
            SigningKey::from_bytes(&[2u8; 32]),
        ];
        let mut items: Vec<(Hash, Signature, VerifyingKey)> = (0..100u8)
            .map(|i| {
                let key = &keys[usize::from(i % 3 == 0)];
                let hash: Hash = Sha512::digest([i]).as_slice()[..32].try_into().unwrap();
                (hash, key.sign(&hash), key.verifying_key())
            })
            .collect();
        assert!(batch_verifies(&items));
        assert!(failing_signatures(&items).is_empty());
        // A changed hash, a signature by the other key, a non-canonical s: each is found.
        items[7].0[0] ^= 1;
        items[42].2 = keys[0].verifying_key();
        let mut sig = items[90].1.to_bytes();
        sig[63] |= 0xf0;
        items[90].1 = Signature::from_bytes(&sig);
        assert!(!batch_verifies(&items));
        let expected: Vec<usize> = items
            .iter()
            .enumerate()
            .filter(|(_, (h, s, k))| k.verify_strict(h, s).is_err())
            .map(|(i, _)| i)
            .collect();
        assert_eq!(failing_signatures(&items), expected);
        assert_eq!(expected, vec![7, 42, 90]);
    }
}
