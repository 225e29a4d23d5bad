//! Content codings: which one a reader accepts (`Accept-Encoding`, RFC 9110
//! §12.5.3), and compressing a page once per coding.
//!
//! Compression happens here rather than in a middleware so that the
//! compressed bytes are cached with the page: a burst of readers asking for
//! gzip compresses once, not once per request.

use std::io::Write;

use axum::body::Bytes;
use axum::http::{HeaderMap, header};

/// A content coding the server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Identity,
    Gzip,
    Brotli,
}

impl Coding {
    /// The `Content-Encoding` value, `None` for identity.
    pub fn header(self) -> Option<&'static str> {
        match self {
            Coding::Identity => None,
            Coding::Gzip => Some("gzip"),
            Coding::Brotli => Some("br"),
        }
    }
}

/// The coding to answer with: the offered coding with the highest `q`
/// (Brotli before gzip on a tie), identity when none is acceptable.
pub fn negotiate(headers: &HeaderMap) -> Coding {
    let mut best = (Coding::Identity, 0.0_f32);
    let mut star = None;
    let (mut br, mut gzip) = (None, None);
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for part in value.split(',') {
            let mut pieces = part.split(';');
            let name = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match name.as_str() {
                "br" => br = Some(q),
                "gzip" | "x-gzip" => gzip = Some(q),
                "*" => star = Some(q),
                _ => {}
            }
        }
    }
    for (coding, q) in [(Coding::Brotli, br), (Coding::Gzip, gzip)] {
        let q = q.or(star).unwrap_or(0.0);
        if q > best.1 {
            best = (coding, q);
        }
    }
    best.0
}

/// `body` compressed with `coding`.
pub fn compress(body: &[u8], coding: Coding) -> Bytes {
    match coding {
        Coding::Identity => Bytes::copy_from_slice(body),
        Coding::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            // Writing to a Vec cannot fail.
            let _ = encoder.write_all(body);
            Bytes::from(encoder.finish().unwrap_or_default())
        }
        Coding::Brotli => {
            // Quality 6 of 11: most of the gain, a few milliseconds per page;
            // the result is cached, so it is paid once per change.
            let mut encoder = brotli::CompressorWriter::new(Vec::new(), 4096, 6, 22);
            let _ = encoder.write_all(body);
            Bytes::from(encoder.into_inner())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn pick(accept: &str) -> Coding {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(accept).unwrap(),
        );
        negotiate(&h)
    }

    #[test]
    fn the_best_accepted_coding_is_chosen() {
        assert_eq!(negotiate(&HeaderMap::new()), Coding::Identity);
        assert_eq!(pick("gzip"), Coding::Gzip);
        assert_eq!(pick("gzip, deflate, br"), Coding::Brotli);
        assert_eq!(pick("br;q=0.5, gzip"), Coding::Gzip);
        assert_eq!(pick("br;q=0, gzip;q=0"), Coding::Identity);
        assert_eq!(pick("*"), Coding::Brotli);
        assert_eq!(pick("*;q=0.1, gzip;q=0.5"), Coding::Gzip);
        assert_eq!(pick("deflate, identity"), Coding::Identity);
    }

    #[test]
    fn compressed_bytes_decompress_to_the_original() {
        use std::io::Read;
        let body = "<feed>".repeat(1000);
        let mut out = String::new();
        flate2::read::GzDecoder::new(&compress(body.as_bytes(), Coding::Gzip)[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, body);
        let mut out = String::new();
        brotli::Decompressor::new(&compress(body.as_bytes(), Coding::Brotli)[..], 4096)
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, body);
    }
}
