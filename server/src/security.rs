//! The security baseline every route inherits: cross-origin request refusal for anything that
//! can change state, a bound on server functions' bodies, and security headers on every response. The CSP nonce is made here, once
//! per request, and handed to the page renderer through the request's extensions so the
//! hydration scripts carry it.
use std::net::IpAddr;
use std::sync::Arc;

use axum::{
    body::Body,
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use domain::caller::SecureTransport;
use http::{header, request::Parts, HeaderMap, HeaderValue, Method, StatusCode};
use leptos::nonce::Nonce;
use leptos::prelude::{provide_context, use_context};

pub async fn headers(mut request: Request, next: Next) -> Response {
    let nonce = Nonce::new();
    request.extensions_mut().insert(nonce.clone());
    let personal = request.headers().contains_key(header::COOKIE)
        || request.headers().contains_key(header::AUTHORIZATION);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // What a signed-in caller sees (a new token, their sessions, a page with their name) must
    // not outlive the response in a browser's or a proxy's cache. Responses that say how they
    // may be cached (static assets, public downloads) keep their own rule.
    if personal && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(&nonce)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// The largest body a page's server function takes: its forms and small JSON, of which a model
/// card is the largest. Uploads go to the REST API, which streams them.
pub const SERVER_FN_BODY_LIMIT: usize = 2 << 20;

/// Reads a server function's body up to [`SERVER_FN_BODY_LIMIT`], answering 413 beyond it;
/// the server functions would otherwise fail on an oversized body with a 500.
pub async fn limit_server_fn_body(request: Request, next: Next) -> Response {
    let too_large = || {
        let message = format!(
            "the request body is larger than {} MiB",
            SERVER_FN_BODY_LIMIT >> 20
        );
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            axum::Json(serde_json::json!({ "error": message })),
        )
            .into_response()
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > SERVER_FN_BODY_LIMIT as u64) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, SERVER_FN_BODY_LIMIT).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(err) => {
            let over_limit = std::error::Error::source(&err)
                .is_some_and(|cause| cause.is::<http_body_util::LengthLimitError>());
            if over_limit {
                too_large()
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    "the request body could not be read",
                )
                    .into_response()
            }
        }
    }
}

/// Scripts only from this origin or carrying this request's nonce; wasm may be compiled
/// (hydration, the in-page demo); nothing may frame the site.
fn content_security_policy(nonce: &Nonce) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Called in the page renderer's context: use the nonce the response header names.
pub fn provide_request_nonce() {
    let nonce = use_context::<Parts>().and_then(|parts| parts.extensions.get::<Nonce>().cloned());
    if let Some(nonce) = nonce {
        provide_context(nonce);
    }
}

/// Which peers are reverse proxies whose `X-Forwarded-For`/`X-Forwarded-Proto` are believed,
/// and whether the public address is https (then every response is treated as https).
#[derive(Debug, Clone, Default)]
pub struct ProxyPolicy {
    pub trusted_proxies: Vec<IpAddr>,
    pub public_https: bool,
}

/// Records the caller's address (for rate limits and the audit log) and whether the request
/// came over https (for the cookie and HSTS). Only a trusted proxy may say so in headers:
/// otherwise the TCP peer is the only address that cannot be forged.
pub async fn client_origin(
    State(policy): State<Arc<ProxyPolicy>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |info| info.0.ip());
    let (ip, https) = if policy.trusted_proxies.contains(&peer) {
        let headers = request.headers();
        let forwarded = forwarded_client(headers, &policy.trusted_proxies).unwrap_or(peer);
        let proto_https = headers
            .get("x-forwarded-proto")
            .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"));
        (forwarded, proto_https)
    } else {
        (peer, request.uri().scheme_str() == Some("https"))
    };
    let https = https || policy.public_https;
    let extensions = request.extensions_mut();
    extensions.insert(domain::rate_limit::ClientIp(ip));
    extensions.insert(SecureTransport(https));
    let mut response = next.run(request).await;
    if https {
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

/// The right-most `X-Forwarded-For` address that is not one of our proxies: each proxy
/// appends the peer it saw, so addresses left of that could have been written by the client.
fn forwarded_client(headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .map(|raw| raw.parse::<IpAddr>().ok())
        .find(|ip| !ip.is_some_and(|ip| trusted.contains(&ip)))
        .flatten()
}

/// Refuses state-changing requests a browser sent on another site's behalf (CSRF), by the
/// `Sec-Fetch-Site` and `Origin` headers browsers attach. Safe methods never change state, and
/// requests with a bearer token carry no ambient cookies, so both pass. A request with neither
/// header passes only without cookies: that is a non-browser client, which cannot ride on a
/// visitor's session. With cookies it may be a browser that sends neither header (or a plugin
/// or proxy that strips them), so it is refused rather than trusted.
pub async fn same_origin_writes(request: Request, next: Next) -> Response {
    if is_safe(request.method()) || is_cross_site_write_allowed(request.headers()) {
        next.run(request).await
    } else {
        (StatusCode::FORBIDDEN, "cross-origin request refused").into_response()
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn is_cross_site_write_allowed(headers: &HeaderMap) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer ") && !headers.contains_key(header::COOKIE));
    if bearer {
        return true;
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    match (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        (None, _) => !headers.contains_key(header::COOKIE),
        (Some(origin), Some(host)) => origin_matches_host(origin.as_bytes(), host.as_bytes()),
        (Some(_), None) => false,
    }
}

fn origin_matches_host(origin: &[u8], host: &[u8]) -> bool {
    let authority = origin
        .strip_prefix(b"https://")
        .or_else(|| origin.strip_prefix(b"http://"));
    authority.is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn same_origin_and_non_browser_writes_pass() {
        assert!(is_cross_site_write_allowed(&headers(&[(
            "sec-fetch-site",
            "same-origin"
        )])));
        assert!(is_cross_site_write_allowed(&headers(&[
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000"),
        ])));
        assert!(is_cross_site_write_allowed(&headers(&[("host", "x")])));
        assert!(is_cross_site_write_allowed(&headers(&[
            ("cookie", "session=1"),
            ("origin", "http://x"),
            ("host", "x"),
        ])));
        assert!(is_cross_site_write_allowed(&headers(&[
            ("authorization", "Bearer bz_token"),
            ("sec-fetch-site", "cross-site"),
        ])));
    }

    #[test]
    fn cross_site_writes_are_refused() {
        assert!(!is_cross_site_write_allowed(&headers(&[(
            "sec-fetch-site",
            "cross-site"
        )])));
        assert!(!is_cross_site_write_allowed(&headers(&[(
            "sec-fetch-site",
            "same-site"
        )])));
        assert!(!is_cross_site_write_allowed(&headers(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:3000"),
        ])));
        assert!(!is_cross_site_write_allowed(&headers(&[
            ("origin", "null"),
            ("host", "a")
        ])));
        // Cookies with neither header: nothing shows where the request came from.
        assert!(!is_cross_site_write_allowed(&headers(&[
            ("cookie", "session=1"),
            ("host", "x")
        ])));
        // A bearer header does not excuse a request that also carries cookies.
        assert!(!is_cross_site_write_allowed(&headers(&[
            ("authorization", "Bearer bz_token"),
            ("cookie", "session=1"),
            ("sec-fetch-site", "cross-site"),
        ])));
    }

    #[test]
    fn the_forwarded_client_is_the_rightmost_untrusted_address() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.1")]);
        assert_eq!(
            forwarded_client(&h, &[proxy]),
            Some("203.0.113.9".parse().unwrap()),
            "a client-written address on the left is ignored"
        );
        let h = headers(&[("x-forwarded-for", "garbage")]);
        assert_eq!(forwarded_client(&h, &[proxy]), None);
        assert_eq!(forwarded_client(&HeaderMap::new(), &[proxy]), None);
    }
}
