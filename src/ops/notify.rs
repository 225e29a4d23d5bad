//! systemd's readiness protocol (`Type=notify`): every call is a no-op when
//! `NOTIFY_SOCKET` is not set, and a failure to notify is logged, never
//! fatal.

use std::time::Duration;

use sd_notify::NotifyState;

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// `READY=1` with a status line: the store is open and the listener bound.
pub fn ready(status: &str) {
    let status = one_line(status);
    send(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

/// `STATUS=…`: a one-line summary shown by `systemctl status`.
pub fn status(status: &str) {
    let status = one_line(status);
    send(&[NotifyState::Status(&status)]);
}

/// `WATCHDOG=1`: the scheduler loop is alive.
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// `STOPPING=1`: shutdown has begun.
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// How often to send `WATCHDOG=1`: half the `WatchdogSec` systemd set for
/// this process, or `None` without a watchdog.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|d| d / 2)
}

/// A status must be one line: the protocol is newline-separated.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_line_never_carries_a_newline_into_the_protocol() {
        assert_eq!(one_line("a\nb\rc\u{1b}d"), "a b c d");
    }
}
