//! Pieces every form and signed-in page shares: the error under a form or beside a field, a
//! success notice, what was typed into a form refused without JavaScript, and what a page
//! shows when its data was refused.
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::{components::A, hooks::use_query_map};

use crate::error::AppError;
use crate::pages::not_found::NotFound;

/// The error of the last submission, if it failed, except one about a field listed in
/// `beside`: that one shows beside its field ([`FieldError`]).
#[component]
pub fn FormError<T>(
    #[prop(into)] result: Signal<Option<Result<T, AppError>>>,
    #[prop(optional)] beside: &'static [&'static str],
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
{
    form_error(last_error(result), beside)
}

/// The last submission's error when it is about `field`, shown beside that field.
#[component]
pub fn FieldError<T>(
    #[prop(into)] result: Signal<Option<Result<T, AppError>>>,
    field: &'static str,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
{
    field_error(last_error(result), field)
}

// The views below are not generic: every form shares one copy of them in the wasm bundle.

fn last_error<T>(result: Signal<Option<Result<T, AppError>>>) -> Signal<Option<AppError>>
where
    T: Clone + Send + Sync + 'static,
{
    Signal::derive(move || result.get().and_then(Result::err))
}

fn form_error(error: Signal<Option<AppError>>, beside: &'static [&'static str]) -> AnyView {
    (move || {
        error
            .get()
            .filter(|err| !err.field().is_some_and(|field| beside.contains(&field)))
            .map(|err| {
                view! { <p class="form-error" role="alert" data-testid="form-error">{err.to_string()}</p> }
            })
    })
    .into_any()
}

fn field_error(error: Signal<Option<AppError>>, field: &'static str) -> AnyView {
    (move || {
        error
            .get()
            .filter(|err| err.field() == Some(field))
            .map(|err| {
                view! { <span class="field-error" role="alert" data-testid="field-error" data-field=field>{err.to_string()}</span> }
            })
    })
    .into_any()
}

/// The address parameter naming the server function whose form, posted without JavaScript,
/// succeeded; the server adds it to the redirect back.
pub const DONE_PARAM: &str = "__done";
/// The cookie holding what was typed into a form whose post without JavaScript failed.
pub const KEPT_FORM_COOKIE: &str = "bazaar_form";

/// `message` once the last submission of `action` succeeded, with or without JavaScript.
#[component]
pub fn FormDone<S>(action: ServerAction<S>, message: &'static str) -> impl IntoView
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    let value = action.value();
    let succeeded = Signal::derive(move || value.get().map(|result| result.is_ok()));
    form_done(succeeded, S::PATH, message)
}

fn form_done(
    succeeded: Signal<Option<bool>>,
    path: &'static str,
    message: &'static str,
) -> AnyView {
    let query = use_query_map();
    (move || {
        // Without JavaScript the action has no value: the address says what happened.
        let done = succeeded
            .get()
            .unwrap_or_else(|| query.read().get(DONE_PARAM).as_deref() == Some(path));
        done.then(
            || view! { <p class="form-done" role="status" data-testid="form-done">{message}</p> },
        )
    })
    .into_any()
}

/// What the person typed into `field` of the form that posts to `S`, when that post failed
/// without JavaScript and this page shows again; `None` otherwise (passwords are never kept).
pub fn kept<S: ServerFn>(field: &str) -> Option<String> {
    kept_value(S::PATH, field)
}

#[cfg(feature = "ssr")]
fn kept_value(path: &str, field: &str) -> Option<String> {
    let parts = use_context::<http::request::Parts>()?;
    let cookie = parts
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(KEPT_FORM_COOKIE)?.strip_prefix('='))?;
    let fields: Vec<(String, String)> = form_urlencoded::parse(cookie.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let for_this_form = fields.iter().any(|(k, v)| k == "__path" && v == path);
    for_this_form
        .then(|| fields.into_iter().find(|(k, _)| k == field).map(|(_, v)| v))
        .flatten()
}

// In the browser the server's HTML already holds the kept values.
#[cfg(not(feature = "ssr"))]
fn kept_value(_path: &str, _field: &str) -> Option<String> {
    None
}

/// What a page shows instead of its content when the server refused it.
pub fn refusal(err: AppError) -> AnyView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(err.status());
    }
    match err {
        AppError::Unauthenticated(_) => view! {
            <section class="auth notice">
                <h1>"Log in to continue"</h1>
                <p>"This page is about your account."</p>
                <A href="/login" attr:class="button">"Log in"</A>
            </section>
        }
        .into_any(),
        AppError::NotFound(_) => view! { <NotFound /> }.into_any(),
        AppError::Forbidden(message) => view! {
            <section class="notice" data-testid="forbidden">
                <h1>"You can't open this page"</h1>
                <p class="error" role="alert">{message}</p>
                <A href="/" attr:class="button">"Back to the models"</A>
            </section>
        }
        .into_any(),
        err => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
    }
}
