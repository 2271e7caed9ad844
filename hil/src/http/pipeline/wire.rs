//! HTTP/1.1 bytes of the pipelined client: a request head and body appended to the
//! connection's output buffer, and responses cut from its input buffer with `httparse`
//! (`Content-Length` or `chunked` bodies; a response delimited only by the connection's
//! close cannot be pipelined and is an error).

use sim_core::tcec::wire::envelope::CONTENT_TYPE as TCEC_CONTENT_TYPE;
use sim_core::tcec::{HttpResponse, OutboundRequest};

use super::super::client::{MAX_RESPONSE_BYTES, Target};

/// Header lines accepted in one response.
const MAX_HEADERS: usize = 32;

/// A response the client cannot use; the connection is closed with every request on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The request's path or `Authorization` holds bytes a header line cannot carry.
    #[error("request not encodable: {0}")]
    BadRequest(String),
    /// The response head is not HTTP/1.x.
    #[error("malformed response head: {0}")]
    Head(String),
    /// A `Content-Length` that is not a number, or a chunk size that is not hex.
    #[error("malformed body framing: {0}")]
    Framing(String),
    /// The body is larger than [`MAX_RESPONSE_BYTES`].
    #[error("response body of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// Neither `Content-Length` nor `chunked`: the body runs to the close of the connection.
    #[error("response {0} without a length cannot be pipelined")]
    NoLength(u16),
}

/// One response cut from the input.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed.
    Partial,
    /// An interim `1xx` response of this many bytes, answering no request.
    Interim(usize),
    /// A final response of this many bytes; `close` when the server ends the connection
    /// after it.
    Final {
        /// Bytes consumed.
        len: usize,
        /// Status and body.
        response: HttpResponse,
        /// `Connection: close` (or HTTP/1.0 without keep-alive).
        close: bool,
    },
}

/// Appends `request` for `target` to `out`: one `POST` with `Host`, `Content-Type`,
/// `Authorization` if any and `Content-Length`. Nothing is appended on error.
pub fn encode(
    out: &mut Vec<u8>,
    target: &Target,
    request: &OutboundRequest,
) -> Result<(), WireError> {
    let path_ok = |s: &str| s.bytes().all(|b| b.is_ascii_graphic());
    if !path_ok(&target.base_path) || !path_ok(&request.path) || !request.path.starts_with('/') {
        return Err(WireError::BadRequest(format!("path {:?}", request.path)));
    }
    let header_ok = |s: &str| s.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b));
    if let Some(auth) = &request.authorization
        && !header_ok(auth)
    {
        return Err(WireError::BadRequest("authorization header".to_owned()));
    }
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(target.base_path.as_bytes());
    out.extend_from_slice(request.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(target.authority.as_bytes());
    out.extend_from_slice(b"\r\ncontent-type: ");
    out.extend_from_slice(TCEC_CONTENT_TYPE.as_bytes());
    if let Some(auth) = &request.authorization {
        out.extend_from_slice(b"\r\nauthorization: ");
        out.extend_from_slice(auth.as_bytes());
    }
    out.extend_from_slice(b"\r\ncontent-length: ");
    push_decimal(out, request.body.len());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(&request.body);
    Ok(())
}

fn push_decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(i..).unwrap_or_default());
}

/// How the body after the head is delimited.
enum Framing {
    Length(usize),
    Chunked,
}

/// Cuts the first response from `input`.
pub fn parse(input: &[u8]) -> Result<Parsed, WireError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Response::new(&mut headers);
    let head_len = match head.parse(input) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(e) => return Err(WireError::Head(e.to_string())),
    };
    let status = head.code.unwrap_or(0);
    if (100..200).contains(&status) && status != 101 {
        return Ok(Parsed::Interim(head_len));
    }
    let mut close = head.version == Some(0);
    let mut framing = None;
    for h in head.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("").trim();
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = value
                .parse::<usize>()
                .map_err(|_| WireError::Framing(format!("content-length {value:?}")))?;
            framing = Some(Framing::Length(n));
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if value.to_ascii_lowercase().ends_with("chunked") {
                framing = Some(Framing::Chunked);
            }
        } else if h.name.eq_ignore_ascii_case("connection") {
            let value = value.to_ascii_lowercase();
            close = value.contains("close") || (close && !value.contains("keep-alive"));
        }
    }
    let rest = input.get(head_len..).unwrap_or_default();
    let bodiless = status == 204 || status == 304;
    let (body_len, body) = match framing {
        _ if bodiless => (0, Vec::new()),
        Some(Framing::Length(n)) if n > MAX_RESPONSE_BYTES => return Err(WireError::TooLarge(n)),
        Some(Framing::Length(n)) => match rest.get(..n) {
            Some(b) => (n, b.to_vec()),
            None => return Ok(Parsed::Partial),
        },
        Some(Framing::Chunked) => match dechunk(rest)? {
            Some(done) => done,
            None => return Ok(Parsed::Partial),
        },
        None => return Err(WireError::NoLength(status)),
    };
    Ok(Parsed::Final {
        len: head_len + body_len,
        response: HttpResponse { status, body },
        close,
    })
}

/// A whole chunked body at the start of `input` (bytes consumed, body), `None` if
/// incomplete. Chunk extensions and trailers are skipped.
fn dechunk(input: &[u8]) -> Result<Option<(usize, Vec<u8>)>, WireError> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let Some(line) = line_at(input, at) else {
            return Ok(None);
        };
        let size_text = std::str::from_utf8(line).unwrap_or("");
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| WireError::Framing(format!("chunk size {size_text:?}")))?;
        at += line.len() + 2;
        if size == 0 {
            // Trailers, then an empty line.
            loop {
                let Some(trailer) = line_at(input, at) else {
                    return Ok(None);
                };
                at += trailer.len() + 2;
                if trailer.is_empty() {
                    return Ok(Some((at, body)));
                }
            }
        }
        if size > MAX_RESPONSE_BYTES.saturating_sub(body.len()) {
            return Err(WireError::TooLarge(body.len().saturating_add(size)));
        }
        let Some(chunk) = input.get(at..at + size) else {
            return Ok(None);
        };
        body.extend_from_slice(chunk);
        at += size;
        match input.get(at..at + 2) {
            Some(b"\r\n") => at += 2,
            Some(_) => return Err(WireError::Framing("chunk not ended by CRLF".to_owned())),
            None => return Ok(None),
        }
    }
}

/// The line starting at `at` without its CRLF, `None` if no CRLF follows yet.
fn line_at(input: &[u8], at: usize) -> Option<&[u8]> {
    let rest = input.get(at..)?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    rest.get(..end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::tcec::wire::Interface;
    use sim_core::tcec::{PeerId, RequestId};
    use sim_core::time::{Duration, Instant};

    fn target(base: &str) -> Target {
        crate::http::Routes::new()
            .with(PeerId(0), base)
            .unwrap()
            .target(PeerId(0))
            .unwrap()
            .clone()
    }

    fn request(auth: Option<&str>) -> OutboundRequest {
        OutboundRequest {
            id: RequestId(1),
            peer: PeerId(0),
            interface: Interface::QueryToken,
            path: "/shevcs/v1.0/query_token".into(),
            authorization: auth.map(str::to_owned),
            body: b"{\"a\":1}".to_vec(),
            intended_send: Instant::ZERO,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn requests_are_encoded_with_host_length_and_base_path() {
        let mut out = Vec::new();
        encode(
            &mut out,
            &target("http://h:81/api/"),
            &request(Some("Bearer t")),
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            format!(
                "POST /api/shevcs/v1.0/query_token HTTP/1.1\r\nhost: h:81\r\n\
                 content-type: {TCEC_CONTENT_TYPE}\r\nauthorization: Bearer t\r\n\
                 content-length: 7\r\n\r\n{{\"a\":1}}"
            )
        );
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let mut req = httparse::Request::new(&mut headers);
        assert!(req.parse(text.as_bytes()).unwrap().is_complete());
    }

    #[test]
    fn header_injection_is_refused() {
        let mut out = Vec::new();
        let r = request(Some("Bearer t\r\nx: y"));
        assert!(encode(&mut out, &target("http://h"), &r).is_err());
        let r = OutboundRequest {
            path: "/a b".into(),
            ..request(None)
        };
        assert!(encode(&mut out, &target("http://h"), &r).is_err());
        assert!(out.is_empty());
        push_decimal(&mut out, 0);
        push_decimal(&mut out, 1_234_567);
        assert_eq!(out, b"01234567");
    }

    #[test]
    fn pipelined_responses_are_cut_in_order() {
        let two = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nabHTTP/1.1 500 E\r\nContent-Length: 1\r\nConnection: close\r\n\r\nz";
        let Parsed::Final {
            len,
            response,
            close,
        } = parse(two).unwrap()
        else {
            panic!("first response incomplete")
        };
        assert_eq!(
            (response.status, response.body.as_slice(), close),
            (200, &b"ab"[..], false)
        );
        let Parsed::Final {
            len: len2,
            response,
            close,
        } = parse(&two[len..]).unwrap()
        else {
            panic!("second response incomplete")
        };
        assert_eq!(
            (response.status, response.body.as_slice(), close),
            (500, &b"z"[..], true)
        );
        assert_eq!(len + len2, two.len());
        // Every prefix is partial, never an error.
        for end in 0..len {
            assert_eq!(parse(&two[..end]).unwrap(), Parsed::Partial, "prefix {end}");
        }
    }

    #[test]
    fn chunked_interim_and_unframed_responses() {
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n1\r\nd\r\n0\r\nt: 1\r\n\r\nNEXT";
        let Parsed::Final { len, response, .. } = parse(chunked).unwrap() else {
            panic!("chunked incomplete")
        };
        assert_eq!(
            (response.body.as_slice(), &chunked[len..]),
            (&b"abcd"[..], &b"NEXT"[..])
        );
        for end in 0..len {
            assert_eq!(
                parse(&chunked[..end]).unwrap(),
                Parsed::Partial,
                "prefix {end}"
            );
        }
        assert_eq!(
            parse(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap(),
            Parsed::Interim(25)
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\n\r\n"),
            Err(WireError::NoLength(200))
        );
        assert!(parse(b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n").is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n").is_err());
        assert!(parse(b"SMTP ready\r\n\r\n").is_err());
        let big = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
            MAX_RESPONSE_BYTES + 1
        );
        assert!(matches!(parse(big.as_bytes()), Err(WireError::TooLarge(_))));
        let Parsed::Final { close, .. } = parse(b"HTTP/1.0 204 No\r\n\r\n").unwrap() else {
            panic!("204 incomplete")
        };
        assert!(close);
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse(&bytes);
            let mut prefixed = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
            prefixed.extend_from_slice(&bytes);
            let _ = parse(&prefixed);
        }
    }
}
