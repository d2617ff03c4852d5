//! Pieces every form and signed-in page shares: the error line under a form, a success
//! notice, and what a page shows when its data was refused.
use leptos::prelude::*;
use leptos_router::components::A;

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

/// `message` once the last submission succeeded.
#[component]
pub fn FormDone<T>(
    #[prop(into)] result: Signal<Option<Result<T, AppError>>>,
    message: &'static str,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
{
    move || {
        matches!(result.get(), Some(Ok(_))).then(|| {
            view! { <p class="form-done" role="status" data-testid="form-done">{message}</p> }
        })
    }
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
