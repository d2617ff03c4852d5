//! Who is looking at the page, known on the first render without a round trip: the server
//! reads it from the request (its authentication layer already found the session) and ships
//! it with the page; the browser updates it on log-in and log-out.
use leptos::prelude::*;
use leptos::server::SharedValue;

use crate::wire::Viewer;

#[derive(Clone, Copy)]
pub struct ViewerState(pub RwSignal<Option<Viewer>>);

pub fn provide_viewer() {
    let initial = SharedValue::new(request_viewer).into_inner();
    provide_context(ViewerState(RwSignal::new(initial)));
}

pub fn use_viewer() -> RwSignal<Option<Viewer>> {
    expect_context::<ViewerState>().0
}

#[cfg(feature = "ssr")]
fn request_viewer() -> Option<Viewer> {
    // Not `signed_in()`: an anonymous visitor is no error, and must not set a 401.
    crate::api::request::caller()
        .filter(|caller| caller.session_token().is_some())
        .map(|caller| crate::api::accounts::viewer(&caller.user))
}

#[cfg(not(feature = "ssr"))]
fn request_viewer() -> Option<Viewer> {
    None
}
