//! Outgoing HTTPS calls to third parties (OAuth providers, SNS signing certificates):
//! hyper-util + hyper-rustls (what the AWS SDK's own client is built from), rustls on
//! aws-lc — the provider the SDK already uses, so no second crypto stack — and the OS root
//! store. Every call is bounded in time and in answer size, and redirects are never
//! followed (a 3xx is answered as is; callers treat it like any non-2xx).

use std::{
    sync::{Arc, LazyLock},
    time::Duration,
};

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};

/// Everything a call may take (connect, TLS, answer): a slow third party must not hold
/// the Lambda.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Why a call gave no answer. The texts carry no URL, header or body: they may hold tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The URL or a header cannot make a request (a bug or bad configuration).
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// The client could not be built (TLS configuration).
    #[error("http client: {0}")]
    Client(String),
    /// Connection, TLS or protocol failure.
    #[error("unreachable")]
    Unreachable,
    #[error("timed out")]
    TimedOut,
    /// The answer broke off or exceeded `max_body`.
    #[error("answer unreadable or too large")]
    Body,
}

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// One client per process, built on first use: a cold start that never calls out does
/// not read the root store.
static CLIENT: LazyLock<Result<Client<Https, Full<Bytes>>, String>> = LazyLock::new(|| {
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) =
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if added == 0 {
        tracing::warn!("no root certificates found: outgoing HTTPS calls will fail");
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_connect_timeout(Some(TIMEOUT));
    // Plain http is for local fakes (auth's `OAUTH_<P>_BASE_URL`); callers that must
    // reach a real party over TLS check the scheme before calling (notify's SNS URLs).
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Ok(Client::builder(TokioExecutor::new()).build(https))
});

/// GET `url` with `headers`; the status and at most `max_body` bytes of the answer.
pub async fn get(
    url: &str,
    headers: &[(&str, &str)],
    max_body: usize,
) -> Result<(StatusCode, Bytes), OutboundError> {
    send(Method::GET, url, headers, None, max_body).await
}

/// POST a form (`application/x-www-form-urlencoded`) to `url`.
pub async fn post_form(
    url: &str,
    headers: &[(&str, &str)],
    form: &[(&str, &str)],
    max_body: usize,
) -> Result<(StatusCode, Bytes), OutboundError> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    send(
        Method::POST,
        url,
        headers,
        Some(("application/x-www-form-urlencoded", Bytes::from(body))),
        max_body,
    )
    .await
}

async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<(&'static str, Bytes)>,
    max_body: usize,
) -> Result<(StatusCode, Bytes), OutboundError> {
    let client = CLIENT
        .as_ref()
        .map_err(|e| OutboundError::Client(e.clone()))?;
    let mut req = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let payload = match body {
        Some((content_type, bytes)) => {
            req = req.header(header::CONTENT_TYPE, content_type);
            bytes
        }
        None => Bytes::new(),
    };
    let req = req
        .body(Full::new(payload))
        .map_err(|_| OutboundError::InvalidRequest("not a valid URL or header"))?;
    let call = async {
        let resp = client
            .request(req)
            .await
            .map_err(|_| OutboundError::Unreachable)?;
        let status = resp.status();
        let read = Limited::new(resp.into_body(), max_body).collect().await;
        match read {
            Ok(body) => Ok((status, body.to_bytes())),
            // A failure's body is informative at most: its status is the answer.
            Err(_) if !status.is_success() => Ok((status, Bytes::new())),
            Err(_) => Err(OutboundError::Body),
        }
    };
    tokio::time::timeout(TIMEOUT, call)
        .await
        .map_err(|_| OutboundError::TimedOut)?
}

#[cfg(test)]
mod tests {
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
    };

    use super::*;

    /// A one-shot local server answering `answer`; yields the request it read.
    async fn serve_once(answer: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            // The headers, then as many body bytes as content-length says.
            while !complete(&got) {
                let n = sock.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            sock.write_all(answer.as_bytes()).await.unwrap();
            sock.shutdown().await.ok();
            String::from_utf8_lossy(&got).into_owned()
        });
        (url, task)
    }

    fn complete(req: &[u8]) -> bool {
        let text = String::from_utf8_lossy(req).to_lowercase();
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            return false;
        };
        let len = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse::<usize>().unwrap());
        body.len() >= len
    }

    #[tokio::test]
    async fn a_get_answers_the_status_and_the_body_with_the_given_headers() {
        let (url, server) =
            serve_once("HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello")
                .await;
        let (status, body) = get(&format!("{url}/x"), &[("accept", "text/plain")], 1024)
            .await
            .unwrap();
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"hello"[..]));
        let req = server.await.unwrap().to_lowercase();
        assert!(req.starts_with("get /x http/1.1") && req.contains("accept: text/plain"));
    }

    #[tokio::test]
    async fn a_form_post_is_urlencoded() {
        let (url, server) =
            serve_once("HTTP/1.1 201 Created\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
        let (status, _) = post_form(&url, &[], &[("a", "1&"), ("b", "2 3")], 1024)
            .await
            .unwrap();
        assert_eq!(status, StatusCode::CREATED);
        let req = server.await.unwrap();
        assert!(req.contains("application/x-www-form-urlencoded"), "{req}");
        assert!(req.ends_with("a=1%26&b=2+3"), "{req}");
    }

    #[tokio::test]
    async fn redirects_are_answered_not_followed() {
        let (url, _server) = serve_once(
            "HTTP/1.1 302 Found\r\nlocation: http://169.254.169.254/\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await;
        let (status, _) = get(&url, &[], 1024).await.unwrap();
        assert_eq!(status, StatusCode::FOUND);
    }

    #[tokio::test]
    async fn an_answer_over_the_limit_is_refused() {
        let (url, _server) = serve_once(
            "HTTP/1.1 200 OK\r\ncontent-length: 10\r\nconnection: close\r\n\r\n0123456789",
        )
        .await;
        assert_eq!(get(&url, &[], 4).await.unwrap_err(), OutboundError::Body);
    }

    #[tokio::test]
    async fn a_url_or_header_that_cannot_make_a_request_is_refused_before_any_connection() {
        let invalid = OutboundError::InvalidRequest("not a valid URL or header");
        assert_eq!(get("not a url", &[], 1024).await.unwrap_err(), invalid);
        assert_eq!(
            get("http://127.0.0.1:9/", &[("bad header", "x")], 1024)
                .await
                .unwrap_err(),
            invalid
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        assert_eq!(
            get(&url, &[], 1024).await.unwrap_err(),
            OutboundError::Unreachable
        );
    }
}
