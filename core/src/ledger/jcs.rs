//! RFC 8785 JSON Canonicalization Scheme, written directly into a byte buffer.
//!
//! Hashing canonical bytes is on the hot path of every append and every verification, so
//! this writer avoids the intermediate buffers and key re-parsing of a generic serialiser.
//! It is checked against the RFC's examples and cross-checked against the `serde_jcs`
//! crate in the tests.
//!
//! - Objects: members sorted by the UTF-16 code units of their names, recursively.
//! - Strings: `"` `\` and the control characters escaped (`\b \t \n \f \r`, otherwise
//!   `\u00xx` in lower case), everything else as UTF-8.
//! - Numbers: as IEEE 754 doubles, formatted like ECMAScript's `Number.prototype.toString`.

use std::cmp::Ordering;

use serde_json::{Number, Value};

/// Integers up to 2^53 print the same as their double; larger ones go through `f64`.
const EXACT_INT: u64 = 1 << 53;

pub fn to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(&mut out, value);
    out
}

pub fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            // Always sort: serde_json's map order depends on a crate feature
            // (`preserve_order`) that any dependency may switch on.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| utf16_cmp(a.0, b.0));
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, k);
                out.push(b':');
                write_value(out, v);
            }
            out.push(b'}');
        }
    }
}

/// Compares two strings by their UTF-16 code units, as RFC 8785 §3.2.3 requires.
pub fn utf16_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

pub fn write_number(out: &mut Vec<u8>, n: &Number) {
    if let Some(u) = n.as_u64().filter(|u| *u <= EXACT_INT) {
        write_u64(out, u);
    } else if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= EXACT_INT) {
        if i < 0 {
            out.push(b'-');
        }
        write_u64(out, i.unsigned_abs());
    } else {
        // serde_json numbers are always finite.
        let f = n.as_f64().unwrap_or(0.0);
        let mut buf = ryu_js::Buffer::new();
        out.extend_from_slice(buf.format_finite(f).as_bytes());
    }
}

pub fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

pub fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0A => b"\\n",
            0x0C => b"\\f",
            0x0D => b"\\r",
            0x00..=0x1F => &[],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0xF) as usize]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The largest magnitude up to which every integer is exact in canonical JSON (2^53).
pub const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// The path of the first number in `v` (`arguments.a[2]`) whose magnitude is beyond
/// [`MAX_EXACT`]: RFC 8785 writes numbers as IEEE-754 doubles, so such a number's canonical
/// form (and any digest of it) is shared with its neighbours. Callers refuse it and ask
/// for a string instead.
pub fn first_inexact_number(v: &Value, path: &str) -> Option<String> {
    match v {
        Value::Number(n) => {
            let big = match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => i.unsigned_abs() > 1 << 53,
                (None, Some(u), _) => u > 1 << 53,
                (_, _, Some(f)) => f.abs() > MAX_EXACT,
                _ => true,
            };
            big.then(|| path.to_string())
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| first_inexact_number(x, &format!("{path}[{i}]"))),
        Value::Object(map) => map
            .iter()
            .find_map(|(k, x)| first_inexact_number(x, &format!("{path}.{k}"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_beyond_two_to_the_53_are_named() {
        let v: Value = serde_json::from_str(
            r#"{"ok": [9007199254740992, -9007199254740992, 1.5], "n": {"big": 9007199254740993}}"#,
        )
        .unwrap();
        assert_eq!(
            first_inexact_number(&v, "arguments"),
            Some("arguments.n.big".into())
        );
        let v: Value = serde_json::from_str(r#"[1e300]"#).unwrap();
        assert_eq!(first_inexact_number(&v, "a"), Some("a[0]".into()));
        let v: Value = serde_json::from_str(r#"{"id": "9007199254740993", "x": 2}"#).unwrap();
        assert_eq!(first_inexact_number(&v, "a"), None);
    }
    use serde_json::json;

    /// Our writer agrees with the `serde_jcs` crate on a spread of awkward values.
    #[test]
    #[allow(clippy::excessive_precision)] // RFC 8785's own example literal
    fn agrees_with_serde_jcs() {
        let values = vec![
            json!(null),
            json!([
                true,
                false,
                null,
                0,
                -0.0,
                1,
                -1,
                1.5,
                1e21,
                1e-7,
                123456789012345678u64
            ]),
            json!({"b": 1, "a": {"d": [], "c": {}}, "": "empty key"}),
            json!({"\u{e000}": 1, "\u{1f600}": 2, "z": 3, "é": 4}),
            json!(
                "quotes \" backslash \\ controls \u{0} \u{1f} \u{7f} \n\r\t\u{8}\u{c} unicode é 😀 \u{2028}"
            ),
            json!({"n": [9007199254740992u64, 9007199254740993u64, -9007199254740993i64, 18446744073709551615u64]}),
            json!([
                0.1,
                0.2,
                0.30000000000000004,
                333333333.33333329,
                4.5,
                2e-3,
                1e30,
                -5e-324
            ]),
        ];
        for v in values {
            let ours = String::from_utf8(to_vec(&v)).unwrap();
            let theirs = serde_jcs::to_string(&v).unwrap();
            assert_eq!(ours, theirs, "for {v}");
        }
    }

    #[test]
    fn utf16_order_differs_from_code_point_order_above_the_bmp() {
        // U+E000 < U+1F600 by code point, but 0xE000 > 0xD83D (the high surrogate).
        assert_eq!(utf16_cmp("\u{e000}", "\u{1f600}"), Ordering::Greater);
        assert_eq!("\u{e000}".cmp("\u{1f600}"), Ordering::Less);
        let out = String::from_utf8(to_vec(&json!({"\u{e000}": 1, "\u{1f600}": 2}))).unwrap();
        assert_eq!(out, "{\"\u{1f600}\":2,\"\u{e000}\":1}");
    }
}
