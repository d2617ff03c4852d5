//! Log-in and sign-up forms. They are plain HTML forms posting to server functions, so they
//! work without JavaScript; errors come back on the redirect and show under the form.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::{LogIn, SignUp};
use crate::error::AppError;

#[component]
pub fn LoginPage() -> impl IntoView {
    // Made inside the route so an error sent back on a no-JavaScript redirect reaches it.
    let action = ServerAction::<LogIn>::new();
    view! {
        <Title text="Log in" />
        <section class="auth">
            <h1>"Log in"</h1>
            <ActionForm action attr:class="auth-form">
                <label>
                    "Username or e-mail"
                    <input name="login" autocomplete="username" required />
                </label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required />
                </label>
                <FormError result=action.value() />
                <button type="submit" class="button">"Log in"</button>
            </ActionForm>
            <p class="muted">"New to Bazaar? " <A href="/signup">"Create an account"</A></p>
        </section>
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    view! {
        <Title text="Sign up" />
        <section class="auth">
            <h1>"Create your account"</h1>
            <ActionForm action attr:class="auth-form">
                <label>
                    "Username"
                    <input name="username" autocomplete="username" required maxlength="39" />
                </label>
                <label>
                    "E-mail"
                    <input type="email" name="email" autocomplete="email" required />
                </label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="new-password" required minlength="8" />
                    <small class="muted">"At least 8 characters. Long passphrases are welcome."</small>
                </label>
                <FormError result=action.value() />
                <button type="submit" class="button">"Sign up"</button>
            </ActionForm>
            <p class="muted">"Already have an account? " <A href="/login">"Log in"</A></p>
        </section>
    }
}

#[component]
fn FormError(#[prop(into)] result: Signal<Option<Result<(), AppError>>>) -> impl IntoView {
    move || {
        result.get().and_then(Result::err).map(|err| {
            view! { <p class="form-error" role="alert" data-testid="form-error">{err.to_string()}</p> }
        })
    }
}
