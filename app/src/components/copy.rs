//! A button that copies a value (a hash, a new token) to the clipboard. It needs JavaScript,
//! so it appears only once the page is hydrated; the value itself is always in the page.
use leptos::prelude::*;

#[component]
pub fn CopyButton(text: String, #[prop(default = "Copy")] label: &'static str) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    // Effects run only in the browser, after hydration.
    Effect::new(move || hydrated.set(true));
    let copied = RwSignal::new(false);
    let copy = move |_| {
        write_to_clipboard(&text);
        copied.set(true);
    };
    move || {
        hydrated.get().then(|| {
            view! {
                <button type="button" class="copy-button" data-testid="copy" on:click=copy.clone()>
                    {move || if copied.get() { "Copied" } else { label }}
                </button>
            }
        })
    }
}

#[cfg(feature = "hydrate")]
fn write_to_clipboard(text: &str) {
    if let Some(window) = web_sys::window() {
        // The promise settles on its own; a refusal leaves the value on screen to copy by hand.
        let _ = window.navigator().clipboard().write_text(text);
    }
}

#[cfg(not(feature = "hydrate"))]
fn write_to_clipboard(_text: &str) {}
