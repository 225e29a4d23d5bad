//! `[websub]` checked into [`WebSubSettings`] (#16): the push section,
//! kept apart from `validate.rs`, which checks the rest of the file.

use std::time::Duration;

use url::Url;

use super::Invalid;
use super::raw::RawWebSub;
use super::settings::{ServerSettings, WebSubSettings, defaults};
use super::validate::{bad, count};

/// `[websub]`. Push is on by default only where a hub could call us back:
/// `server.base_url` naming a host that is not a loopback or unspecified
/// address (nor `localhost`).
pub(super) fn validate(raw: RawWebSub, server: &ServerSettings) -> Result<WebSubSettings, Invalid> {
    let reachable = match server.base_url.host() {
        Some(url::Host::Ipv4(ip)) => !ip.is_loopback() && !ip.is_unspecified(),
        Some(url::Host::Ipv6(ip)) => !ip.is_loopback() && !ip.is_unspecified(),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name != "localhost" && !name.ends_with(".localhost")
        }
        None => false,
    };
    let lease = raw.lease.unwrap_or(defaults::WEBSUB_LEASE);
    lease_range("websub.lease", lease)?;
    let hub = raw
        .hub
        .map(|text| {
            Url::parse(&text)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| {
                    bad(
                        "websub.hub",
                        format!("{text:?} is not an http:// or https:// URL"),
                    )
                })
        })
        .transpose()?;
    let default_lease = raw.default_lease.unwrap_or(defaults::HUB_DEFAULT_LEASE);
    lease_range("websub.default_lease", default_lease)?;
    let max_lease = raw.max_lease.unwrap_or(defaults::HUB_MAX_LEASE);
    lease_range("websub.max_lease", max_lease)?;
    if default_lease > max_lease {
        return Err(bad(
            "websub.default_lease",
            "must not be longer than websub.max_lease",
        ));
    }
    let callback_timeout = raw
        .callback_timeout
        .unwrap_or(defaults::HUB_CALLBACK_TIMEOUT);
    if callback_timeout < Duration::from_secs(1) || callback_timeout > Duration::from_secs(60) {
        return Err(bad("websub.callback_timeout", "must be between 1s and 1m"));
    }
    let allowed_callbacks = raw
        .allowed_callbacks
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, host)| {
            let pattern = host.trim().trim_end_matches('.').to_ascii_lowercase();
            let bare = pattern.strip_prefix("*.").unwrap_or(&pattern);
            let valid = !bare.is_empty()
                && bare.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'[' | b']')
                });
            if valid {
                Ok(pattern)
            } else {
                Err(bad(
                    &format!("websub.allowed_callbacks[{i}]"),
                    format!("{host:?} is not a host name like example.org or *.example.org"),
                ))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(WebSubSettings {
        enabled: raw.enabled.unwrap_or(reachable),
        lease,
        hub,
        default_lease,
        max_lease,
        max_subscriptions: usize::try_from(
            raw.max_subscriptions
                .unwrap_or(defaults::HUB_MAX_SUBSCRIPTIONS),
        )
        .ok()
        .filter(|n| (1..=1_000_000).contains(n))
        .ok_or_else(|| bad("websub.max_subscriptions", "must be in 1..=1000000"))?,
        max_per_topic: count(
            "websub.max_per_topic",
            raw.max_per_topic,
            defaults::HUB_MAX_PER_TOPIC,
        )?,
        callback_timeout,
        allowed_callbacks,
    })
}

/// A lease of at least five minutes and at most a year.
fn lease_range(key: &str, lease: Duration) -> Result<(), Invalid> {
    if lease < Duration::from_secs(300) || lease > Duration::from_secs(365 * 86_400) {
        return Err(bad(key, "must be between 5m and 365d"));
    }
    Ok(())
}
