//! What a form posted without JavaScript comes back to. Leptos answers such a post (one that
//! asks for HTML) with a redirect to the page it came from, with the error in the address
//! when it failed. Here that redirect also says which form succeeded (`__done=<function
//! path>`, for `FormDone`), and a failed post keeps what the person typed (never a password)
//! in a one-minute cookie, which the page puts back into the form (`forms::kept`) and which
//! the next page load clears.
use axum::{
    body::Body,
    extract::Request,
    http::{header, HeaderMap, HeaderValue, Method},
    middleware::Next,
    response::Response,
};
use domain::caller::SecureTransport;

use crate::security::SERVER_FN_BODY_LIMIT;

pub use app::components::forms::{DONE_PARAM, KEPT_FORM_COOKIE};

/// Browsers keep cookies of about 4 KB; longer fields (a model card, say) are left out.
const KEPT_FORM_MAX_BYTES: usize = 3000;

pub async fn remember_outcome(request: Request, next: Next) -> Response {
    let is_form_post = request.method() == Method::POST
        && request.uri().path().starts_with("/api/")
        && asks_for_html(request.headers())
        && is_url_encoded(request.headers());
    if !is_form_post {
        let clear = request.method() == Method::GET && carries_kept_form(request.headers());
        let mut response = next.run(request).await;
        if clear {
            set_kept_cookie(&mut response, "", 0, false);
        }
        return response;
    }
    let function = request.uri().path().to_owned();
    let https = request
        .extensions()
        .get::<SecureTransport>()
        .is_some_and(|s| s.0);
    let referer = request.headers().get(header::REFERER).cloned();
    let (parts, body) = request.into_parts();
    // The body limit outside this layer has already read and bounded it.
    let Ok(form) = axum::body::to_bytes(body, SERVER_FN_BODY_LIMIT).await else {
        return next.run(Request::from_parts(parts, Body::empty())).await;
    };
    let mut response = next
        .run(Request::from_parts(parts, Body::from(form.clone())))
        .await;
    let Some(location) = response
        .headers()
        .get(header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| url::Url::parse(l).ok())
    else {
        return response;
    };
    let failed = location.query_pairs().any(|(k, _)| k == "__err");
    let back_where_it_came_from = referer
        .and_then(|r| url::Url::parse(r.to_str().ok()?).ok())
        .is_some_and(|r| r.path() == location.path());
    if failed {
        let kept = kept_fields(&function, &form);
        set_kept_cookie(&mut response, &kept, 60, https);
    }
    if back_where_it_came_from {
        let location = with_done(location, (!failed).then_some(function.as_str()));
        if let Ok(value) = HeaderValue::from_str(location.as_str()) {
            response.headers_mut().insert(header::LOCATION, value);
        }
    }
    response
}

fn asks_for_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

fn is_url_encoded(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

fn carries_kept_form(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|c| {
            c.trim_start()
                .strip_prefix(KEPT_FORM_COOKIE)
                .is_some_and(|rest| rest.starts_with('='))
        })
}

/// The posted fields, passwords left out, with the function they went to, as one
/// URL-encoded string (which is also a valid cookie value). The longest fields are dropped
/// until it fits.
fn kept_fields(function: &str, form: &[u8]) -> String {
    let mut fields: Vec<(String, String)> = url::form_urlencoded::parse(form)
        .filter(|(name, _)| !name.contains("password"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    loop {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("__path", function)
            .extend_pairs(fields.iter())
            .finish();
        if encoded.len() <= KEPT_FORM_MAX_BYTES || fields.is_empty() {
            return encoded;
        }
        let longest = (0..fields.len())
            .max_by_key(|&i| fields[i].1.len())
            .unwrap_or_default();
        fields.remove(longest);
    }
}

fn set_kept_cookie(response: &mut Response, value: &str, max_age: u32, https: bool) {
    let secure = if https { "; Secure" } else { "" };
    let cookie = format!(
        "{KEPT_FORM_COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    );
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
}

/// `location` with the success marker of an earlier post removed and, on success, this one's.
fn with_done(mut location: url::Url, done: Option<&str>) -> url::Url {
    let pairs: Vec<(String, String)> = location
        .query_pairs()
        .filter(|(k, _)| k != DONE_PARAM)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut query = location.query_pairs_mut();
        query.clear();
        query.extend_pairs(pairs.iter());
        if let Some(function) = done {
            query.append_pair(DONE_PARAM, function);
        }
    }
    if location.query() == Some("") {
        location.set_query(None);
    }
    location
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_fields_leave_passwords_out_and_fit_a_cookie() {
        let kept = kept_fields(
            "/api/sign_up",
            b"username=ada&email=ada%40example.org&password=hunter2hunter2&new_password=x",
        );
        assert_eq!(
            kept,
            "__path=%2Fapi%2Fsign_up&username=ada&email=ada%40example.org"
        );
        let card = "x".repeat(10_000);
        let kept = kept_fields(
            "/api/create_model",
            format!("slug=a&card={card}").as_bytes(),
        );
        assert_eq!(kept, "__path=%2Fapi%2Fcreate_model&slug=a");
        assert!(HeaderValue::from_str(&kept).is_ok());
    }

    #[test]
    fn done_marks_replace_earlier_ones() {
        let url = url::Url::parse("http://h/settings?__done=%2Fapi%2Fa&tab=1").unwrap();
        assert_eq!(
            with_done(url.clone(), Some("/api/b")).as_str(),
            "http://h/settings?tab=1&__done=%2Fapi%2Fb"
        );
        assert_eq!(with_done(url, None).as_str(), "http://h/settings?tab=1");
    }
}
