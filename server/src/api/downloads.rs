//! File downloads, streamed from object storage with HTTP range requests so a broken
//! download of a large file resumes where it stopped. `domain::downloads` decides who may
//! fetch what; this module only speaks HTTP.
use axum::{
    body::Body,
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
    Extension,
};
use domain::{AppState, Caller, DomainError};

use super::ApiError;

pub async fn file(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path((owner, slug, version, path)): Path<(String, String, String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let user = caller.as_ref().map(|Extension(c)| &c.user);
    let download =
        domain::downloads::authorize(&state, user, &owner, &slug, &version, &path).await?;
    let file = &download.file;
    let size = file.size as u64;
    let etag = format!("\"{}\"", file.sha256);
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    // A range is honoured only while the file is the one the client started on.
    let range = match headers.get(header::IF_RANGE) {
        Some(tag) if tag.as_bytes() != etag.as_bytes() => None,
        _ => headers.get(header::RANGE),
    };
    let (status, start, end) = match range.map(|r| parse_range(r.as_bytes(), size)) {
        None | Some(RangeRequest::Ignored) => (StatusCode::OK, 0, size),
        Some(RangeRequest::Bytes(start, end)) => (StatusCode::PARTIAL_CONTENT, start, end),
        Some(RangeRequest::Unsatisfiable) => {
            return Ok((
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{size}"))],
            )
                .into_response())
        }
    };
    // A HEAD (what clients send to learn the size and ETag first) transfers nothing: it is
    // neither counted nor read from storage.
    let transfers = method != Method::HEAD;
    if transfers && start == 0 {
        domain::downloads::count(&state, &download.listing).await?;
    }
    let body = if !transfers || start == end {
        Body::empty()
    } else {
        let stream = state
            .storage
            .stream_range(&file.object_key, start..end)
            .await
            .map_err(DomainError::from)?;
        Body::from_stream(stream)
    };
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, end - start)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::ETAG, etag)
        .header(
            header::CONTENT_DISPOSITION,
            content_disposition(file_name(&file.path)),
        )
        .header(
            header::CACHE_CONTROL,
            // Published files never change; files behind a license stay out of shared caches.
            if download.public {
                "public, max-age=31536000, immutable"
            } else {
                "private, no-store"
            },
        )
        .header("x-content-sha256", file.sha256.as_str());
    if status == StatusCode::PARTIAL_CONTENT {
        response = response.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", end - 1),
        );
    }
    Ok(response
        .body(body)
        .map_err(|e| DomainError::Internal(e.to_string()))?)
}

enum RangeRequest {
    /// Bytes `start..end` (end exclusive).
    Bytes(u64, u64),
    /// Not a single byte range: the whole file is sent, as RFC 9110 allows.
    Ignored,
    Unsatisfiable,
}

/// One `bytes=` range of a file of `size` bytes: `a-b`, `a-` or `-n`.
fn parse_range(value: &[u8], size: u64) -> RangeRequest {
    let Some(spec) = std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return RangeRequest::Ignored;
    };
    if spec.contains(',') {
        return RangeRequest::Ignored;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Ignored;
    };
    let (first, last) = (first.trim(), last.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    let (start, end) = match (first.is_empty(), last.is_empty()) {
        (true, false) => match parse(last) {
            Some(0) => return RangeRequest::Unsatisfiable,
            Some(n) => (size.saturating_sub(n), size),
            None => return RangeRequest::Ignored,
        },
        (false, _) => {
            let Some(start) = parse(first) else {
                return RangeRequest::Ignored;
            };
            match last.is_empty().then_some(u64::MAX).or(parse(last)) {
                Some(last) if start <= last => (start, last.saturating_add(1).min(size)),
                _ => return RangeRequest::Ignored,
            }
        }
        (true, true) => return RangeRequest::Ignored,
    };
    if start >= size {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Bytes(start, end)
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266).
fn content_disposition(name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// `GET /api/v1/models/{owner}/{slug}/versions/{version}/files`: the version's files, each
/// with its size, SHA-256 and whether the caller may download it (and why not).
pub async fn list(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path((owner, slug, version)): Path<(String, String, String)>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    use domain::downloads::FileAccess;
    let user = caller.as_ref().map(|Extension(c)| &c.user);
    let files = domain::downloads::version_files(&state, user, &owner, &slug, &version).await?;
    Ok(axum::Json(serde_json::json!({
        "files": files.into_iter().map(|listed| {
            let f = listed.file;
            serde_json::json!({
                "path": f.path,
                "size": f.size,
                "sha256": f.sha256,
                "demo": f.is_demo,
                "downloadable": listed.access.allowed(),
                "refusal": match listed.access {
                    FileAccess::Refused(reason) => Some(reason),
                    _ => None,
                },
            })
        }).collect::<Vec<_>>(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(value: &str, size: u64) -> Option<(u64, u64)> {
        match parse_range(value.as_bytes(), size) {
            RangeRequest::Bytes(a, b) => Some((a, b)),
            _ => None,
        }
    }

    #[test]
    fn single_ranges_resolve_against_the_size() {
        assert_eq!(bytes("bytes=0-9", 100), Some((0, 10)));
        assert_eq!(bytes("bytes=90-", 100), Some((90, 100)));
        assert_eq!(bytes("bytes=-10", 100), Some((90, 100)));
        assert_eq!(bytes("bytes=-500", 100), Some((0, 100)));
        assert_eq!(bytes("bytes=95-500", 100), Some((95, 100)));
    }

    #[test]
    fn odd_ranges_are_ignored_or_unsatisfiable() {
        assert!(matches!(
            parse_range(b"bytes=100-", 100),
            RangeRequest::Unsatisfiable
        ));
        assert!(matches!(
            parse_range(b"bytes=-0", 100),
            RangeRequest::Unsatisfiable
        ));
        for ignored in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=5-2",
            "bytes=x-",
            "bytes=-",
        ] {
            assert!(
                matches!(parse_range(ignored.as_bytes(), 100), RangeRequest::Ignored),
                "{ignored}"
            );
        }
    }

    #[test]
    fn names_survive_in_the_disposition() {
        let value = content_disposition("modèle \"v1\".onnx");
        let text = value.to_str().unwrap();
        assert!(text.starts_with("attachment; filename=\"mod_le _v1_.onnx\""));
        assert!(text.ends_with("filename*=UTF-8''mod%C3%A8le%20%22v1%22.onnx"));
    }
}
