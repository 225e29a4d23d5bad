//! Which addresses are this machine's or a private network's, and the
//! resolver that keeps a redirect from leading a fetch to them (#20).

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use url::Url;

/// Which hosts may resolve to loopback, private or link-local addresses,
/// and what to say of one that may not and resolves to nothing else.
pub trait Trust: Send + Sync + 'static {
    fn trusts(&self, host: &str) -> bool;
    /// The error for a refused host, given its name.
    fn refusal(&self, host: &str) -> String;
}

/// The fetcher's trust: the hosts wiredesk was asked to fetch (a source's
/// own, its proxy, where it moved), as they become known.
impl Trust for Mutex<HashSet<String>> {
    fn trusts(&self, host: &str) -> bool {
        self.lock().is_ok_and(|hosts| hosts.contains(host))
    }

    fn refusal(&self, host: &str) -> String {
        format!(
            "{host} resolves only to loopback, private or link-local addresses, and was \
             reached by a redirect from a source elsewhere (set poll.allow_private = true to allow it)"
        )
    }
}

/// Resolves names as the system does, but leaves out loopback, private and
/// link-local addresses for any host `T` does not trust. The fetcher uses it
/// for hosts reached only by a redirect (#20): a public source's `301` to a
/// name that resolves to 127.0.0.1 or 10.0.0.5 would have wiredesk fetch
/// from its own ports or a service behind the firewall. The WebSub hub uses
/// it for subscribers' callbacks (#16). Judging the addresses the
/// connection will use, not the name, also stops a name that changes its
/// answer between a check and the connection.
pub struct PublicOnly<T: ?Sized> {
    pub trust: Arc<T>,
}

impl<T: Trust + ?Sized> reqwest::dns::Resolve for PublicOnly<T> {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        let trust = Arc::clone(&self.trust);
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let admitted = admit(found, trust.trusts(&host)).ok_or_else(|| trust.refusal(&host))?;
            Ok(Box::new(admitted.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The addresses a connection may use among those a host resolved to
/// (`found`): all of them when the host is trusted; otherwise the public
/// ones, and `None` when it has none.
fn admit(found: Vec<SocketAddr>, trusted: bool) -> Option<Vec<SocketAddr>> {
    if trusted {
        return Some(found);
    }
    let public: Vec<SocketAddr> = found
        .iter()
        .copied()
        .filter(|a| !is_local_ip(a.ip()))
        .collect();
    if public.is_empty() && !found.is_empty() {
        return None;
    }
    Some(public)
}

/// Whether `url` names this machine or a private network: a loopback,
/// private, link-local, shared (100.64/10) or unspecified address, or
/// `localhost`. A public source redirected there would have wiredesk fetch
/// from the daemon's own ports or a service behind the firewall and show
/// the answer as the source's error (#20). A name is judged as written, not
/// resolved.
pub fn is_local(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => is_local_ip(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_local_ip(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        None => true,
    }
}

/// Whether `ip` is on this machine or a private network (see [`is_local`]).
pub fn is_local_ip(ip: IpAddr) -> bool {
    let v4 = |ip: std::net::Ipv4Addr| {
        ip.is_loopback()
            || ip.is_private()
            || ip.is_link_local()
            || ip.is_unspecified()
            || ip.is_broadcast()
            || (ip.octets()[0] == 100 && (ip.octets()[1] & 0xc0) == 64)
    };
    match ip {
        IpAddr::V4(ip) => v4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(mapped) => v4(mapped),
            None => {
                let first = ip.segments()[0];
                ip.is_loopback()
                    || ip.is_unspecified()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(url: &str) -> bool {
        is_local(&Url::parse(url).unwrap())
    }

    #[test]
    fn loopback_private_and_link_local_addresses_are_local_public_ones_are_not() {
        for url in [
            "http://127.0.0.1:9090/metrics",
            "http://localhost/",
            "http://LOCALHOST./",
            "http://admin.localhost/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
        ] {
            assert!(local(url), "{url}");
        }
        for url in [
            "https://news.example/feed",
            "http://93.184.216.34/",
            "http://100.128.0.1/",
            "http://[2001:db8::1]/",
            "http://localhost.example/",
        ] {
            assert!(!local(url), "{url}");
        }
    }

    fn addr(text: &str) -> SocketAddr {
        SocketAddr::new(text.parse().unwrap(), 0)
    }

    #[test]
    fn a_name_reached_by_redirect_connects_only_to_its_public_addresses() {
        let name = "feeds.example";
        // Only local addresses: refused, naming the host and the way out.
        let inside = vec![addr("127.0.0.1"), addr("10.0.0.5"), addr("::1")];
        assert!(admit(inside.clone(), false).is_none());
        let refused = Mutex::new(HashSet::new()).refusal(name);
        assert!(
            refused.contains("feeds.example") && refused.contains("poll.allow_private"),
            "{refused}"
        );
        // Mixed: the public ones only, never the local one (a name that
        // answers both cannot steer the connection inside).
        let mixed = vec![addr("192.168.1.1"), addr("93.184.216.34")];
        assert_eq!(admit(mixed, false).unwrap(), vec![addr("93.184.216.34")]);
        // A host the operator wrote (or allow_private): all of them.
        assert_eq!(admit(inside.clone(), true).unwrap(), inside);
    }
}
