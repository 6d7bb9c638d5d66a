//! Which callback URLs may be called: the SSRF guard.
//!
//! By default public addresses are allowed and loopback, private (RFC 1918, CGNAT, ULA),
//! link-local (incl. the cloud metadata address 169.254.169.254), unspecified, multicast,
//! broadcast and documentation ranges are denied. The check runs on the addresses the host name
//! *resolves to*, and delivery then connects to exactly those addresses (no second lookup), so a
//! DNS answer that changes between check and connect cannot redirect the request. Hosts and
//! CIDR ranges can be allow-listed (e.g. `127.0.0.1/32` for a loopback test receiver).

use std::net::{IpAddr, SocketAddr};

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
    "::/128",
    "::1/128",
    "64:ff9b::/96",
    "100::/64",
    "2001:db8::/32",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
];

/// Whether `ip` is in a range that is denied by default (private, loopback, link-local, ...).
pub fn is_internal(ip: IpAddr) -> bool {
    DENIED
        .iter()
        .any(|n| IpNet::parse(n).expect("valid built-in range").contains(ip))
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
        let port = auth.port_u16().unwrap_or(if https { 443 } else { 80 });
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
