//! Where Charter may send a webhook. In production only `https` URLs, and never to an
//! address inside the operator's network: loopback, private, link-local (cloud metadata
//! services live there), shared, multicast or reserved ranges — whether the URL names the
//! address or a host name resolves to it (the worker checks every resolved address at
//! connection time, so a name cannot be re-pointed after it was checked). Development
//! allows `http` and local receivers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Which targets are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Targets {
    /// Production: public `https` endpoints only.
    Public,
    /// Development: any `http` or `https` endpoint, local ones included.
    Any,
}

impl Targets {
    /// What a deployment mode allows.
    pub fn for_mode(mode: crate::config::Mode) -> Targets {
        match mode {
            crate::config::Mode::Production => Targets::Public,
            crate::config::Mode::Development => Targets::Any,
        }
    }
}

const MAX_URL_LEN: usize = 2_000;

/// Checks a webhook URL; the error says what is wrong with it.
pub fn check_url(text: &str, targets: Targets) -> Result<Url, String> {
    if text.len() > MAX_URL_LEN {
        return Err(format!("at most {MAX_URL_LEN} characters"));
    }
    let url = Url::parse(text).map_err(|e| format!("not a URL ({e})"))?;
    match (url.scheme(), targets) {
        ("https", _) | ("http", Targets::Any) => {}
        ("http", Targets::Public) => return Err("must use https".into()),
        (other, _) => return Err(format!("must be an https URL, not `{other}:`")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password".into());
    }
    if url.fragment().is_some() {
        return Err("must not contain a fragment (#…)".into());
    }
    let host = url.host().ok_or("must name a host")?;
    if targets == Targets::Public {
        let refused = match &host {
            Host::Domain(d) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                d == "localhost" || d.ends_with(".localhost") || !d.contains('.')
            }
            Host::Ipv4(ip) => !ip_allowed(IpAddr::V4(*ip)),
            Host::Ipv6(ip) => !ip_allowed(IpAddr::V6(*ip)),
        };
        if refused {
            return Err(format!(
                "`{host}` is a local, private or reserved address; webhooks go to public hosts only"
            ));
        }
    }
    Ok(url)
}

/// Whether a production webhook may connect to `ip`.
pub fn ip_allowed(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_public(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_public(v4);
            }
            v6_public(v6)
        }
    }
}

fn v4_public(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0                                   // "this network"
        || (o[0] == 100 && (o[1] & 0xc0) == 64)        // 100.64.0.0/10, shared (CGNAT)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)     // 192.0.0.0/24, protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18)        // 198.18.0.0/15, benchmarking
        || o[0] >= 240) // 240.0.0.0/4, reserved
}

fn v6_public(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00                   // fc00::/7, unique local
        || (s[0] & 0xffc0) == 0xfe80                   // fe80::/10, link-local
        || (s[0] & 0xffc0) == 0xfec0                   // fec0::/10, site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8)          // documentation
        || (s[0] == 0x0064 && s[1] == 0xff9b)          // NAT64: reaches IPv4 inside
        || (s[0] == 0x2002)                            // 6to4: embeds an IPv4 address
        || s[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_takes_public_https_only() {
        for ok in [
            "https://hooks.example.com/charter",
            "https://93.184.215.14:8443/x?y=1",
            "https://[2606:4700::1111]/",
        ] {
            assert!(check_url(ok, Targets::Public).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("not a url", "not a URL"),
            ("http://hooks.example.com/", "https"),
            ("ftp://hooks.example.com/", "https URL"),
            ("https://localhost/x", "local"),
            ("https://api.localhost/x", "local"),
            ("https://intranet/x", "local"),
            ("https://127.0.0.1/", "local"),
            ("https://10.1.2.3/", "local"),
            ("https://172.16.0.1/", "local"),
            ("https://192.168.1.1/", "local"),
            ("https://169.254.169.254/latest/meta-data", "local"),
            ("https://100.64.0.1/", "local"),
            ("https://0.0.0.0/", "local"),
            ("https://[::1]/", "local"),
            ("https://[fd00::1]/", "local"),
            ("https://[fe80::1]/", "local"),
            ("https://[::ffff:127.0.0.1]/", "local"),
            ("https://[64:ff9b::a00:1]/", "local"),
            ("https://2130706433/", "local"), // 127.0.0.1 as one number
            ("https://user:pw@hooks.example.com/", "user name"),
            ("https://hooks.example.com/#frag", "fragment"),
        ] {
            let err = check_url(bad, Targets::Public).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn development_takes_local_http() {
        assert!(check_url("http://127.0.0.1:9000/hook", Targets::Any).is_ok());
        assert!(check_url("http://localhost/hook", Targets::Any).is_ok());
        assert!(check_url("ftp://localhost/hook", Targets::Any).is_err());
    }
}
