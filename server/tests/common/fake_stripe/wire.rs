//! What goes over the wire: Stripe's nested form encoding (`a[b][0][c]=v`; async-stripe's
//! serde_qs writes the brackets bare, other clients percent-encode them) and its error
//! bodies.
use serde_json::{json, Map, Value};

/// A form body or query string as nested JSON: every value a string, lists indexed
/// `[0]`, `[1]`… become arrays.
pub fn parse_params(raw: &[u8]) -> Value {
    let mut root = Value::Object(Map::new());
    for (key, value) in url::form_urlencoded::parse(raw) {
        let mut path = Vec::new();
        let (head, mut rest) = key.split_once('[').map_or((&*key, ""), |(h, r)| (h, r));
        path.push(head.to_owned());
        while let Some((segment, after)) = rest.split_once(']') {
            path.push(segment.to_owned());
            rest = after.strip_prefix('[').unwrap_or(after);
        }
        insert(&mut root, &path, value.into_owned());
    }
    arrays(root)
}

fn insert(node: &mut Value, path: &[String], value: String) {
    let Value::Object(map) = node else { return };
    match path {
        [] => {}
        [last] => {
            map.insert(last.clone(), Value::String(value));
        }
        [first, rest @ ..] => {
            let child = map
                .entry(first.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            insert(child, rest, value);
        }
    }
}

/// Objects keyed `0..n` become arrays, as Stripe reads them.
fn arrays(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let indexed =
                !map.is_empty() && (0..map.len()).all(|i| map.contains_key(&i.to_string()));
            if indexed {
                let mut map = map;
                Value::Array(
                    (0..map.len())
                        .map(|i| arrays(map.remove(&i.to_string()).unwrap_or(Value::Null)))
                        .collect(),
                )
            } else {
                Value::Object(map.into_iter().map(|(k, v)| (k, arrays(v))).collect())
            }
        }
        other => other,
    }
}

/// A string parameter at a JSON pointer such as `/line_items/0/price_data/currency`.
pub fn text(params: &Value, pointer: &str) -> Option<String> {
    params.pointer(pointer)?.as_str().map(str::to_owned)
}

/// An integer parameter; present but not a number is a 400, as Stripe answers.
pub fn integer(params: &Value, pointer: &str) -> Result<Option<i64>, ApiError> {
    text(params, pointer)
        .map(|raw| {
            raw.parse().map_err(|_| {
                ApiError::invalid(&param_name(pointer), &format!("Invalid integer: {raw}"))
            })
        })
        .transpose()
}

pub fn decimal(params: &Value, pointer: &str) -> Result<Option<f64>, ApiError> {
    text(params, pointer)
        .map(|raw| {
            raw.parse().map_err(|_| {
                ApiError::invalid(&param_name(pointer), &format!("Invalid decimal: {raw}"))
            })
        })
        .transpose()
}

pub fn required(params: &Value, pointer: &str) -> Result<String, ApiError> {
    text(params, pointer).ok_or_else(|| {
        let name = param_name(pointer);
        ApiError::invalid(&name, &format!("Missing required param: {name}."))
    })
}

/// `/a/0/b` as Stripe names it in errors: `a[0][b]`.
fn param_name(pointer: &str) -> String {
    let mut parts = pointer.trim_start_matches('/').split('/');
    let mut name = parts.next().unwrap_or_default().to_owned();
    for part in parts {
        name.push_str(&format!("[{part}]"));
    }
    name
}

/// Top-level parameters the endpoint does not know are refused, as Stripe does: a typo
/// in the provider shows up as a failing test rather than a silently ignored field.
pub fn known_params(params: &Value, known: &[&str]) -> Result<(), ApiError> {
    let Value::Object(map) = params else {
        return Ok(());
    };
    match map.keys().find(|key| !known.contains(&key.as_str())) {
        Some(unknown) => Err(ApiError::invalid(
            unknown,
            &format!("Received unknown parameter: {unknown}"),
        )),
        None => Ok(()),
    }
}

/// An error in Stripe's shape, with its HTTP status.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub body: Value,
}

impl ApiError {
    fn new(
        status: u16,
        kind: &str,
        message: &str,
        param: Option<&str>,
        code: Option<&str>,
    ) -> Self {
        let mut error = json!({ "type": kind, "message": message });
        if let Some(param) = param {
            error["param"] = json!(param);
        }
        if let Some(code) = code {
            error["code"] = json!(code);
            error["doc_url"] = json!(format!("https://stripe.com/docs/error-codes/{code}"));
        }
        Self {
            status,
            body: json!({ "error": error }),
        }
    }

    pub fn invalid(param: &str, message: &str) -> Self {
        Self::new(400, "invalid_request_error", message, Some(param), None)
    }

    /// `No such customer: 'cus_x'`, as Stripe says of an unknown id.
    pub fn missing(object: &str, id: &str, param: &str) -> Self {
        let status = if param == "id" { 404 } else { 400 };
        let message = format!("No such {object}: '{id}'");
        Self::new(
            status,
            "invalid_request_error",
            &message,
            Some(param),
            Some("resource_missing"),
        )
    }

    pub fn coded(param: Option<&str>, code: &str, message: &str) -> Self {
        Self::new(400, "invalid_request_error", message, param, Some(code))
    }

    pub fn unauthorized(message: &str) -> Self {
        Self::new(401, "invalid_request_error", message, None, None)
    }

    pub fn unknown_url(method: &str, path: &str) -> Self {
        let message = format!(
            "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
        );
        Self::new(404, "invalid_request_error", &message, None, None)
    }

    pub fn idempotency(key: &str) -> Self {
        let message = format!(
            "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
        );
        Self::new(400, "idempotency_error", &message, None, None)
    }

    /// What Stripe answers when it fails on its side.
    pub fn server(status: u16) -> Self {
        Self::new(
            status,
            "api_error",
            "Something went wrong on Stripe's end.",
            None,
            None,
        )
    }
}
