//! The SSRF guard: which URLs an endpoint may have and which addresses a delivery may
//! connect to.
//!
//! A URL must be `https` (or `http` to a loopback host in staging), name a host (no user
//! info, no fragment), and every address its host resolves to must be public: private
//! (RFC 1918, CGNAT, unique-local), loopback (allowed in staging only, for local receivers),
//! link-local, cloud metadata (`169.254.169.254`, `fd00:ec2::254`), unspecified, multicast,
//! broadcast, documentation and reserved ranges are refused, including when written as an
//! IPv4-mapped or NAT64 IPv6 address. Resolution happens on every attempt ([`resolve`]) and
//! the caller connects to the address returned, never resolving the name again, so a DNS
//! answer that changes between the check and the connection (rebinding) cannot reach an
//! address that was not checked.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::domain::values::Environment;
use crate::domain::webhook::URL_MAX;

/// A vetted endpoint URL, split into what a delivery needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// TLS or not.
    pub https: bool,
    /// The host as written (a name, or an IP literal without brackets).
    pub host: String,
    /// The port (default 443 / 80).
    pub port: u16,
    /// Path and query (`/` at least).
    pub path: String,
}

impl Target {
    /// The `Host` header value.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Why a URL or an address is refused (the `detail` of a 422, the `error` of a delivery).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not an absolute http(s) URL we accept.
    #[error("{0}")]
    Url(&'static str),
    /// The host resolves to an address deliveries may not reach.
    #[error("resolves to a {0} address, which webhooks may not reach")]
    Address(&'static str),
    /// The host does not resolve.
    #[error("the host does not resolve")]
    Dns,
}

impl Refusal {
    /// The stable code of a delivery that failed for this reason.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Url(_) | Refusal::Address(_) => "address_refused",
            Refusal::Dns => "dns_failed",
        }
    }
}

/// Parses and checks a URL's shape for `environment` (no DNS yet).
pub fn parse_url(text: &str, environment: Environment) -> Result<Target, Refusal> {
    if text.len() > URL_MAX || text.bytes().any(|b| b.is_ascii_whitespace() || b < 0x20) {
        return Err(Refusal::Url(
            "must be a URL without spaces, at most 2048 characters",
        ));
    }
    if text.contains('#') {
        return Err(Refusal::Url("must not have a fragment"));
    }
    let uri: http::Uri = text
        .parse()
        .map_err(|_| Refusal::Url("must be an absolute https URL"))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(Refusal::Url("must be an absolute https URL")),
    };
    let authority = uri
        .authority()
        .ok_or(Refusal::Url("must be an absolute https URL"))?;
    if authority.as_str().contains('@') {
        return Err(Refusal::Url("must not carry user information"));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if host.is_empty() {
        return Err(Refusal::Url("must name a host"));
    }
    let ip = host.parse::<IpAddr>().ok();
    if ip.is_none() && !is_hostname(&host) {
        return Err(Refusal::Url("must name a valid host"));
    }
    if !https {
        let loopback_host = host == "localhost" || ip.is_some_and(|ip| ip.is_loopback());
        if environment != Environment::Staging || !loopback_host {
            return Err(Refusal::Url(
                "must be https (http is accepted only for loopback receivers in staging)",
            ));
        }
    }
    if let Some(ip) = ip {
        vet(ip, environment)?;
    }
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    if port == 0 {
        return Err(Refusal::Url("must have a valid port"));
    }
    let path = uri
        .path_and_query()
        .map_or("/".to_owned(), |p| p.as_str().to_owned());
    let path = if path.is_empty() {
        "/".to_owned()
    } else {
        path
    };
    Ok(Target {
        https,
        host,
        port,
        path,
    })
}

/// A DNS name: dot-separated labels of letters, digits and hyphens.
fn is_hostname(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        // All-numeric names are IP spellings (`2130706433`, `0x7f.1`) resolvers accept.
        && !host.split('.').all(|l| {
            l.bytes().all(|b| b.is_ascii_digit())
                || l.strip_prefix("0x").is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
        })
}

/// Whether a delivery in `environment` may connect to `ip`.
pub fn vet(ip: IpAddr, environment: Environment) -> Result<(), Refusal> {
    match ip {
        IpAddr::V4(v4) => vet_v4(v4, environment),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return vet_v4(v4, environment);
            }
            let seg = v6.segments();
            // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address.
            if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let o = v6.octets();
                return vet_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]), environment);
            }
            if v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
                return Err(Refusal::Address("cloud metadata"));
            }
            if v6.is_loopback() {
                return if environment == Environment::Staging {
                    Ok(())
                } else {
                    Err(Refusal::Address("loopback"))
                };
            }
            if v6.is_unspecified() {
                return Err(Refusal::Address("unspecified"));
            }
            if seg[0] & 0xffc0 == 0xfe80 {
                return Err(Refusal::Address("link-local"));
            }
            if seg[0] & 0xfe00 == 0xfc00 || seg[0] & 0xffc0 == 0xfec0 {
                return Err(Refusal::Address("private"));
            }
            if seg[0] & 0xff00 == 0xff00 {
                return Err(Refusal::Address("multicast"));
            }
            // IPv4-compatible (::a.b.c.d), discard, documentation, 6to4 of anything.
            if seg[..6] == [0; 6]
                || seg[..4] == [0x100, 0, 0, 0]
                || (seg[0] == 0x2001 && seg[1] == 0xdb8)
                || seg[0] == 0x2002
            {
                return Err(Refusal::Address("reserved"));
            }
            Ok(())
        }
    }
}

fn vet_v4(ip: Ipv4Addr, environment: Environment) -> Result<(), Refusal> {
    let o = ip.octets();
    if o == [169, 254, 169, 254] || o == [169, 254, 170, 2] {
        return Err(Refusal::Address("cloud metadata"));
    }
    if ip.is_loopback() {
        return if environment == Environment::Staging {
            Ok(())
        } else {
            Err(Refusal::Address("loopback"))
        };
    }
    if ip.is_link_local() {
        return Err(Refusal::Address("link-local"));
    }
    if ip.is_private() || (o[0] == 100 && (64..128).contains(&o[1])) {
        return Err(Refusal::Address("private"));
    }
    if o[0] == 0 || ip.is_broadcast() || o[0] >= 240 {
        return Err(Refusal::Address("reserved"));
    }
    if ip.is_multicast() {
        return Err(Refusal::Address("multicast"));
    }
    // Documentation, benchmarking and protocol-assignment ranges.
    if ip.is_documentation() || (o[0] == 198 && (o[1] == 18 || o[1] == 19)) || o[..3] == [192, 0, 0]
    {
        return Err(Refusal::Address("reserved"));
    }
    Ok(())
}

/// Resolves `target`'s host now and vets every address it gives: one refused address
/// refuses the host (a name pointing both inside and outside is not a receiver). Returns
/// the address to connect to.
pub async fn resolve(target: &Target, environment: Environment) -> Result<SocketAddr, Refusal> {
    if let Ok(ip) = target.host.parse::<IpAddr>() {
        vet(ip, environment)?;
        return Ok(SocketAddr::new(ip, target.port));
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|_| Refusal::Dns)?
        .collect();
    let first = *addrs.first().ok_or(Refusal::Dns)?;
    for a in &addrs {
        vet(a.ip(), environment)?;
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Environment::{Production, Staging};

    #[test]
    fn urls_must_be_https_except_loopback_in_staging() {
        let t = parse_url("https://hooks.example.com/idv?x=1", Production).expect("ok");
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("hooks.example.com", 443, "/idv?x=1")
        );
        assert!(parse_url("http://127.0.0.1:3000/hook", Staging).is_ok());
        assert!(parse_url("http://localhost:3000/hook", Staging).is_ok());
        assert!(parse_url("https://cafe.be/hook", Production).is_ok());
        for (bad, env) in [
            ("http://hooks.example.com/", Production),
            ("http://hooks.example.com/", Staging),
            ("http://127.0.0.1:3000/hook", Production),
            ("https://[::1]/hook", Production),
            ("https://10.0.0.1/hook", Staging),
            ("https://169.254.169.254/latest/meta-data", Staging),
            ("https://[::ffff:169.254.169.254]/", Staging),
            ("https://[fd00:ec2::254]/", Production),
            ("https://[fe80::1]/", Production),
            ("https://user:pw@hooks.example.com/", Production),
            ("https://hooks.example.com/#frag", Production),
            ("ftp://hooks.example.com/", Production),
            ("hooks.example.com/path", Production),
            ("https://2130706433/", Production),
            ("https://0x7f.1/", Production),
            ("https://exa mple.com/", Production),
            ("https://10.1/", Production),
            ("https:///nohost", Production),
        ] {
            assert!(parse_url(bad, env).is_err(), "{bad} in {env}");
        }
    }

    #[test]
    fn every_internal_range_is_refused() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "fc00::1",
            "fe80::1",
            "::",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "fd00:ec2::254",
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert!(vet(ip, Staging).is_err(), "{ip}");
            assert!(vet(ip, Production).is_err(), "{ip}");
        }
        for ip in ["127.0.0.1", "::1"] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert!(vet(ip, Staging).is_ok(), "{ip} staging");
            assert!(vet(ip, Production).is_err(), "{ip} production");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1::1"] {
            assert!(vet(ip.parse().expect("ip"), Production).is_ok(), "{ip}");
        }
    }

    #[tokio::test]
    async fn names_are_resolved_and_every_address_vetted() {
        let t = parse_url("http://localhost:9/hook", Staging).expect("shape");
        let addr = resolve(&t, Staging).await.expect("localhost is loopback");
        assert!(addr.ip().is_loopback() && addr.port() == 9);
        let t = parse_url("https://localhost:9/hook", Production).expect("shape");
        assert!(matches!(
            resolve(&t, Production).await,
            Err(Refusal::Address("loopback"))
        ));
    }
}
