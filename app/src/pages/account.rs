//! Log-in, sign-up and getting back into an account. Plain HTML forms posting to server
//! functions, so they work without JavaScript; errors come back on the redirect and show
//! under the form.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::A,
    hooks::{use_params_map, use_query_map},
};

use inspect::names::USERNAME_RULE;

use crate::api::{ForgotPassword, LogIn, ResetPassword, SignUp, VerifyEmail};
use crate::components::forms::{kept, FieldError, FormError};
use crate::viewer::use_viewer;
use crate::wire::Viewer;

/// Puts the viewer a log-in or sign-up returned into the header.
fn remember_viewer(result: impl Into<Signal<Option<Result<Viewer, crate::error::AppError>>>>) {
    let result: Signal<_> = result.into();
    let viewer = use_viewer();
    Effect::new(move || {
        if let Some(Ok(me)) = result.get() {
            viewer.set(Some(me));
        }
    });
}

#[component]
pub fn LoginPage() -> impl IntoView {
    // Made inside the route so an error sent back on a no-JavaScript redirect reaches it.
    let action = ServerAction::<LogIn>::new();
    remember_viewer(action.value());
    let query = use_query_map();
    let after_reset = move || query.read().get("reset").is_some();
    let after_verify = move || query.read().get("verified").is_some();
    view! {
        <Title text="Log in" />
        <section class="auth">
            <h1>"Log in"</h1>
            <Show when=after_reset>
                <p class="form-done" role="status">"Your password is changed. Log in with the new one."</p>
            </Show>
            <Show when=after_verify>
                <p class="form-done" role="status">"Thank you: your e-mail address is confirmed."</p>
            </Show>
            <ActionForm action attr:class="auth-form">
                <label>
                    "Username or e-mail"
                    <input name="login" autocomplete="username" required value={kept::<LogIn>("login")} />
                </label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required />
                </label>
                <FormError result=action.value() />
                <button type="submit" class="button">"Log in"</button>
            </ActionForm>
            <p class="muted">
                <A href="/forgot-password">"Forgot your password?"</A>
                " · New to Bazaar? "
                <A href="/signup">"Create an account"</A>
            </p>
        </section>
    }
}

/// A sign-up ends at "check your e-mail" (the answer is the same for a taken address). On
/// an install that sends no e-mail and that only this machine reaches, the link is shown
/// here too, since the newcomer has no other way to it than the server's log.
#[component]
pub fn SignupPage() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    let query = use_query_map();
    let sent = move || query.read().get("sent").is_some();
    let confirm_link = move || {
        query
            .read()
            .get("confirm")
            .filter(|token| crate::api::is_token(token))
            .map(|token| format!("/verify-email/{token}"))
    };
    view! {
        <Title text="Sign up" />
        <section class="auth">
            <h1>"Create your account"</h1>
            <Show
                when=sent
                fallback=move || view! {
                    <ActionForm action attr:class="auth-form">
                        <label>
                            "Username"
                            <input name="username" autocomplete="username" required value={kept::<SignUp>("username")}
                                maxlength=USERNAME_RULE.max pattern=USERNAME_RULE.html_pattern() />
                            <small class="muted">{USERNAME_RULE.hint()}</small>
                            <FieldError result=action.value() field="username" />
                        </label>
                        <label>
                            "E-mail"
                            <input type="email" name="email" autocomplete="email" required value={kept::<SignUp>("email")} />
                            <FieldError result=action.value() field="email" />
                        </label>
                        <label>
                            "Password"
                            <input type="password" name="password" autocomplete="new-password" required minlength="8" />
                            <small class="muted">"At least 8 characters. Long passphrases are welcome."</small>
                            <FieldError result=action.value() field="password" />
                        </label>
                        <FormError result=action.value() beside=&["username", "email", "password"] />
                        <button type="submit" class="button">"Sign up"</button>
                    </ActionForm>
                    <p class="muted">"Already have an account? " <A href="/login">"Log in"</A></p>
                }
            >
                <div class="form-done" role="status" data-testid="sign-up-sent">
                    <p><strong>"Confirm your e-mail address to finish."</strong></p>
                    <p>"We have sent a link to the address you gave. Open it within two days to finish creating your account; it works once."</p>
                </div>
                {move || confirm_link().map(|href| view! {
                    <p class="muted" data-testid="local-mail">
                        "This Bazaar sends no e-mail and only this computer can reach it, so here is the link (it is in the server's log too): "
                        <a href=href data-testid="confirm-link">"confirm your e-mail address"</a>
                    </p>
                })}
            </Show>
        </section>
    }
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = ServerAction::<ForgotPassword>::new();
    let query = use_query_map();
    let sent = move || query.read().get("sent").is_some();
    view! {
        <Title text="Reset your password" />
        <section class="auth">
            <h1>"Reset your password"</h1>
            <p class="muted">"Enter your account's e-mail address; we will send you a link to choose a new password."</p>
            <ActionForm action attr:class="auth-form">
                <label>
                    "E-mail"
                    <input type="email" name="email" autocomplete="email" required value={kept::<ForgotPassword>("email")} />
                </label>
                <FormError result=action.value() />
                <Show when=sent>
                    <p class="form-done" role="status" data-testid="form-done">
                        "If an account uses this address, a reset link is on its way. It works once, within an hour."
                    </p>
                </Show>
                <button type="submit" class="button">"Send the link"</button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let action = ServerAction::<ResetPassword>::new();
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    view! {
        <Title text="Choose a new password" />
        <section class="auth">
            <h1>"Choose a new password"</h1>
            <p class="muted">"Every device logged in to your account will be logged out."</p>
            <ActionForm action attr:class="auth-form">
                <input type="hidden" name="token" value=token />
                <label>
                    "New password"
                    <input type="password" name="password" autocomplete="new-password" required minlength="8" />
                    <FieldError result=action.value() field="password" />
                </label>
                <FormError result=action.value() beside=&["password"] />
                <button type="submit" class="button">"Set the password"</button>
            </ActionForm>
        </section>
    }
}

/// Confirming is a POST (a button), so a mail scanner fetching the link confirms nothing; it
/// logs the browser in when it has no session yet.
#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let action = ServerAction::<VerifyEmail>::new();
    remember_viewer(action.value());
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    view! {
        <Title text="Confirm your e-mail address" />
        <section class="auth">
            <h1>"Confirm your e-mail address"</h1>
            <p class="muted">"Confirming finishes creating your account and logs you in."</p>
            <ActionForm action attr:class="auth-form">
                <input type="hidden" name="token" value=token />
                <FormError result=action.value() />
                <button type="submit" class="button">"Confirm"</button>
            </ActionForm>
        </section>
    }
}
