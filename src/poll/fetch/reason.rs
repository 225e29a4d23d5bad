//! What a failed fetch is called: in the words of its deepest cause, and
//! whether it was this machine's fault rather than the source's.

/// Why a connection could not be made, in the words of its deepest cause
/// (#18: a refused connection showed "error sending request for url (…):
/// client error (Connect): tcp connect error: Connection refused (os error
/// 111)"): `connection refused`, `no such host: …`, `TLS: …`.
pub(super) fn connect_reason(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut deepest = e;
    while let Some(c) = cause {
        if let Some(tls) = c.downcast_ref::<rustls::Error>() {
            return format!("TLS: {}", tls_reason(tls));
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            // An io::Error's source() skips the error it wraps: look inside.
            if let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return format!("TLS: {}", tls_reason(tls));
            }
            use std::io::ErrorKind as K;
            let said = match io.kind() {
                K::ConnectionRefused => Some("connection refused"),
                K::ConnectionReset => Some("connection reset"),
                K::TimedOut => Some("connection timed out"),
                K::HostUnreachable => Some("host unreachable"),
                K::NetworkUnreachable => Some("network unreachable"),
                _ => None,
            };
            if let Some(said) = said {
                return said.to_owned();
            }
        }
        deepest = c;
        cause = c.source();
    }
    let text = deepest.to_string();
    if text.contains("failed to lookup address") || text.contains("Name or service not known") {
        return format!("no such host ({text})");
    }
    text
}

/// A TLS failure as an operator reads it (#18: `Other(OtherError(
/// CaUsedAsEndEntity))` was shown as it came).
fn tls_reason(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(cert) => match cert {
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "the certificate is not valid for this name".to_owned()
            }
            C::Expired | C::ExpiredContext { .. } => "the certificate has expired".to_owned(),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "the certificate is not valid yet".to_owned()
            }
            C::UnknownIssuer => {
                "the certificate is not trusted (unknown issuer, or self-signed)".to_owned()
            }
            C::Revoked => "the certificate has been revoked".to_owned(),
            C::BadSignature => "the certificate's signature is bad".to_owned(),
            other => {
                let text = format!("{other:?}");
                if text.contains("CaUsedAsEndEntity") {
                    "the server presents a CA certificate as its own".to_owned()
                } else {
                    format!("invalid certificate ({text})")
                }
            }
        },
        rustls::Error::AlertReceived(alert) => {
            format!("the server refused the handshake ({alert:?})")
        }
        rustls::Error::NoCertificatesPresented => "the server sent no certificate".to_owned(),
        other => other.to_string(),
    }
}

/// Whether `e` or one of its causes is this machine running out of
/// something (see [`exhausted`]).
pub(super) fn caused_by_exhaustion(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>().is_some_and(exhausted) {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Whether an I/O error says this machine ran out of file descriptors
/// (its own or the system's), memory, socket buffers or disk.
pub(super) fn exhausted(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::ENOBUFS | libc::ENOSPC)
    )
}

/// The error and its causes on one line: reqwest's own message alone
/// ("error sending request") does not say what went wrong.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_failure_is_said_in_words_an_operator_reads() {
        #[derive(Debug)]
        struct Wrapper(std::io::Error);
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("client error (Connect)")
            }
        }
        impl std::error::Error for Wrapper {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let tls = |e: rustls::Error| {
            connect_reason(&Wrapper(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                e,
            )))
        };
        assert_eq!(
            tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
            )),
            "TLS: the certificate is not valid for this name"
        );
        assert_eq!(
            tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            )),
            "TLS: the certificate is not trusted (unknown issuer, or self-signed)"
        );
        let refused = Wrapper(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(connect_reason(&refused), "connection refused");
    }
}
