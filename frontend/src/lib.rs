//! The browser entry point: hydrates the server-rendered page.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // `hydrate_lazy`: a lazily loaded page (app/src/lazy_pages.rs) is hydrated once its module
    // has arrived; the others at once, as `hydrate_body` would.
    leptos::mount::hydrate_lazy(app::App);
}
