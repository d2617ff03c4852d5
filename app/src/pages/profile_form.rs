//! The account page's profile: what the public page shows (display name, bio, links,
//! picture) and the forms that change it. The picture goes up by a plain form, with or
//! without JavaScript; the account page says how it went.
use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_query_map};

use crate::api::{RemoveAvatar, UpdateProfile};
use crate::components::avatar::Avatar;
use crate::components::forms::{kept, FieldError, FormDone, FormError};
use crate::wire::AccountOverview;

#[component]
pub fn ProfileEditor(
    account: AccountOverview,
    update: ServerAction<UpdateProfile>,
    remove: ServerAction<RemoveAvatar>,
) -> impl IntoView {
    let query = use_query_map();
    let picture = move || query.read().get("picture");
    let public_page = format!("/{}", account.username);
    let has_picture = account.avatar_url.is_some();
    view! {
        <section class="panel" id="profile">
            <h2>"Public profile"</h2>
            <p class="muted">"Shown on " <A href=public_page.clone()>{public_page.clone()}</A> " beside your models."</p>
            <div class="picture-row">
                <Avatar name=account.display_name.clone() url=account.avatar_url.clone() />
                <form method="post" action="/api/v1/me/avatar" enctype="multipart/form-data" class="picture-form">
                    <label>
                        "Picture"
                        <input type="file" name="avatar" required accept="image/png,image/jpeg,image/gif,image/webp" data-testid="avatar-file" />
                        <span class="hint">"PNG, JPEG, GIF or WebP, at most 1 MB."</span>
                    </label>
                    <button type="submit" class="button button-small" data-testid="upload-avatar">"Upload picture"</button>
                </form>
                {has_picture.then(|| view! {
                    <ActionForm action=remove attr:class="inline-form">
                        <button type="submit" class="link-button" data-testid="remove-avatar">"Remove picture"</button>
                    </ActionForm>
                })}
            </div>
            {move || match picture().as_deref() {
                Some("saved") => Some(view! { <p class="form-done" role="status" data-testid="picture-saved">"Picture saved."</p> }.into_any()),
                Some("refused") => Some(view! {
                    <p class="form-error" role="alert" data-testid="picture-refused">
                        "That picture was refused: it must be a PNG, JPEG, GIF or WebP image of at most 1 MB."
                    </p>
                }.into_any()),
                _ => None,
            }}
            <FormDone action=remove message="Picture removed." />
            <FormError result=remove.value() />
            <ActionForm action=update attr:class="stack-form" attr:data-testid="profile-form">
                <label>
                    "Display name"
                    <input type="text" name="display_name" maxlength="100" value={kept::<UpdateProfile>("display_name").unwrap_or_else(|| account.display_name.clone())} data-testid="display-name" />
                    <FieldError result=update.value() field="display_name" />
                </label>
                <label>
                    "Bio"
                    <textarea name="bio" rows="3" maxlength="400" data-testid="bio">{kept::<UpdateProfile>("bio").unwrap_or_else(|| account.bio.clone())}</textarea>
                    <FieldError result=update.value() field="bio" />
                </label>
                <label>
                    "Links"
                    <textarea name="links" rows="3" placeholder="https://example.org" data-testid="links">{kept::<UpdateProfile>("links").unwrap_or_else(|| account.links.join("\n"))}</textarea>
                    <span class="hint">"Up to five web addresses, one per line."</span>
                    <FieldError result=update.value() field="links" />
                </label>
                <FormError result=update.value() beside=&["display_name", "bio", "links"] />
                <FormDone action=update message="Profile saved." />
                <button type="submit" class="button" data-testid="save-profile">"Save profile"</button>
            </ActionForm>
        </section>
    }
}
