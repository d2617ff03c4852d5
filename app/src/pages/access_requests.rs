//! The publisher's queue of requests to download their gated models: approve or decline.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{access_queue, DecideAccess};
use crate::components::forms::FormError;
use crate::wire::AccessRequestEntry;

#[component]
pub fn AccessRequestsPage() -> impl IntoView {
    let decide = ServerAction::<DecideAccess>::new();
    let queue = Resource::new(move || decide.version().get(), |_| access_queue());
    view! {
        <Title text="Access requests" />
        <h1>"Access requests"</h1>
        <p class="muted">"People who accepted the terms of your gated models and wait for your decision."</p>
        <FormError result=decide.value() />
        <Suspense fallback=|| view! { <p class="loading">"Loading requests…"</p> }>
            {move || Suspend::new(async move {
                match queue.await {
                    Ok(rows) if rows.is_empty() => view! {
                        <p class="muted" data-testid="no-requests">"No requests wait for you."</p>
                    }.into_any(),
                    Ok(rows) => view! {
                        <ul class="access-requests" data-testid="access-requests">
                            {rows.into_iter().map(|row| view! { <Request row decide /> }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Request(row: AccessRequestEntry, decide: ServerAction<DecideAccess>) -> impl IntoView {
    let on_behalf = (row.licensee != row.requester).then(|| format!(" for {}", row.licensee));
    let data_model = row.model.clone();
    view! {
        <li class="panel access-request" data-model=data_model>
            <p>
                <strong>{row.requester.clone()}</strong>{on_behalf}
                " asks to download "<strong>{row.model.clone()}</strong>
            </p>
            <p class="muted">
                {format!("Accepted the terms on {} UTC · terms SHA-256 {}…", row.requested_at, &row.terms_sha256[..12.min(row.terms_sha256.len())])}
            </p>
            <div class="deleted-actions">
                <ActionForm action=decide attr:class="inline-form">
                    <input type="hidden" name="request_id" value=row.id />
                    <input type="hidden" name="approve" value="true" />
                    <button type="submit" class="button button-small" data-testid="approve">"Approve"</button>
                </ActionForm>
                <ActionForm action=decide attr:class="inline-form">
                    <input type="hidden" name="request_id" value=row.id />
                    <input type="hidden" name="approve" value="false" />
                    <button type="submit" class="button button-secondary button-small" data-testid="decline">"Decline"</button>
                </ActionForm>
            </div>
        </li>
    }
}
