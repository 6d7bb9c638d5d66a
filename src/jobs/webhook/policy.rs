//! Which callback URLs may be called: the SSRF guard.
//!
//! By default public addresses are allowed and loopback, private (RFC 1918, CGNAT, ULA),
//! link-local (incl. the cloud metadata address 169.254.169.254), unspecified, multicast,
//! broadcast and documentation ranges are denied, in every IPv6 spelling of them: an IPv4
//! address embedded in IPv6 (mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4
//! `2002:aabb:ccdd::`) is judged as that IPv4 address, and the IPv4-compatible (`::a.b.c.d`),
//! SIIT-translated (`::ffff:0:a.b.c.d`), local NAT64 (`64:ff9b:1::/48`) and Teredo (`2001::/32`)
//! ranges, which no public webhook receiver uses, are denied whole. The check runs on the addresses the host name
//! *resolves to*, and delivery then connects to exactly those addresses (no second lookup), so a
//! DNS answer that changes between check and connect cannot redirect the request. Hosts and
//! CIDR ranges can be allow-listed (e.g. `127.0.0.1/32` for a loopback test receiver).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::jobs::JobError;

/// A CIDR range such as `10.0.0.0/8` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parse `ADDR/PREFIX` or a bare address (a /32 or /128).
    pub fn parse(s: &str) -> Result<Self, JobError> {
        let bad = || JobError::BadRequest(format!("invalid CIDR range {s:?}"));
        let (a, p) = s.split_once('/').unwrap_or((s, ""));
        let addr: IpAddr = a.trim().parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if p.is_empty() {
            max
        } else {
            p.trim().parse::<u8>().map_err(|_| bad())?
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(IpNet { addr, prefix })
    }

    /// Whether `ip` lies in the range (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Ranges denied unless allow-listed.
const DENIED: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/96",
    "::ffff:0:0:0/96",
    "64:ff9b:1::/48",
    "100::/64",
    "2001::/32",
    "2001:10::/28",
    "2001:db8::/32",
    "3fff::/20",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
];

/// The IPv4 address a NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`) address routes to.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    if bits >> 32 == u128::from(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0)) >> 32 {
        return Some(Ipv4Addr::from(bits as u32));
    }
    if ip.segments()[0] == 0x2002 {
        return Some(Ipv4Addr::from((bits >> 80) as u32));
    }
    None
}

/// Whether `ip` is in a range that is denied by default (private, loopback, link-local, ...),
/// directly or through the IPv4 address it embeds.
pub fn is_internal(ip: IpAddr) -> bool {
    let denied = DENIED
        .iter()
        .any(|n| IpNet::parse(n).expect("valid built-in range").contains(ip));
    denied
        || match canonical(ip) {
            IpAddr::V6(v6) => embedded_v4(v6).is_some_and(|v4| is_internal(IpAddr::V4(v4))),
            IpAddr::V4(_) => false,
        }
}

/// A parsed callback URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackTarget {
    /// `true` for https.
    pub https: bool,
    /// Host name or address literal (without IPv6 brackets).
    pub host: String,
    /// Port (explicit, or 80/443).
    pub port: u16,
}

/// The callback allow-list.
#[derive(Debug, Clone)]
pub struct CallbackPolicy {
    allowed_hosts: Vec<String>,
    allowed_nets: Vec<IpNet>,
    allow_public: bool,
}

impl Default for CallbackPolicy {
    /// Public addresses allowed, internal ranges denied, nothing allow-listed.
    fn default() -> Self {
        CallbackPolicy {
            allowed_hosts: Vec::new(),
            allowed_nets: Vec::new(),
            allow_public: true,
        }
    }
}

impl CallbackPolicy {
    /// Also allow this host name (case-insensitive), whatever it resolves to.
    pub fn allow_host(mut self, host: &str) -> Self {
        self.allowed_hosts.push(host.to_ascii_lowercase());
        self
    }

    /// Also allow addresses in `cidr` (e.g. `127.0.0.1/32`, `10.1.0.0/16`).
    pub fn allow_net(mut self, cidr: &str) -> Result<Self, JobError> {
        self.allowed_nets.push(IpNet::parse(cidr)?);
        Ok(self)
    }

    /// Allow only allow-listed hosts and ranges (deny the public internet too).
    pub fn deny_public(mut self) -> Self {
        self.allow_public = false;
        self
    }

    /// Whether a connection to `ip` is allowed.
    pub fn ip_allowed(&self, ip: IpAddr) -> bool {
        self.allowed_nets.iter().any(|n| n.contains(ip)) || (self.allow_public && !is_internal(ip))
    }

    /// Parse and syntax-check a callback URL (http/https, a host, no credentials).
    pub fn parse_url(url: &str) -> Result<CallbackTarget, JobError> {
        let bad = |why: &str| JobError::BadRequest(format!("callback_url {url:?}: {why}"));
        let uri: hyper::Uri = url.parse().map_err(|_| bad("not a URL"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad("scheme must be http or https")),
        };
        let auth = uri.authority().ok_or_else(|| bad("no host"))?;
        if auth.as_str().contains('@') {
            return Err(bad("credentials in the URL are not allowed"));
        }
        let host = auth.host().trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("no host"));
        }
        // The port as written: `Authority::port` reads an out-of-range one (99999) as absent.
        let written = auth.as_str();
        let port_text = if written.ends_with(']') {
            None
        } else {
            written.rsplit_once(':').map(|(_, p)| p)
        };
        let port = match port_text {
            None => {
                if https {
                    443
                } else {
                    80
                }
            }
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(bad("port must be 1..=65535")),
                Ok(n) => n,
            },
        };
        Ok(CallbackTarget {
            https,
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// Check `url` and resolve its host: the addresses delivery may connect to. Refused (bad
    /// request) if the URL is malformed, the name does not resolve, or any resolved address is
    /// not allowed (a name with one internal address among public ones is refused).
    pub async fn resolve(&self, url: &str) -> Result<(CallbackTarget, Vec<SocketAddr>), JobError> {
        let target = Self::parse_url(url)?;
        let addrs: Vec<SocketAddr> = match target.host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, target.port)],
            Err(_) => tokio::net::lookup_host((target.host.as_str(), target.port))
                .await
                .map_err(|e| JobError::BadRequest(format!("callback host {:?}: {e}", target.host)))?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(JobError::BadRequest(format!(
                "callback host {:?} has no addresses",
                target.host
            )));
        }
        if self.allowed_hosts.contains(&target.host) {
            return Ok((target, addrs));
        }
        if let Some(a) = addrs.iter().find(|a| !self.ip_allowed(a.ip())) {
            return Err(JobError::BadRequest(format!(
                "callback host {:?} resolves to {} which is not allowed",
                target.host,
                a.ip()
            )));
        }
        Ok((target, addrs))
    }
}
