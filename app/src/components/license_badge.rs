use leptos::prelude::*;

use crate::wire::LicenseBadge;

#[component]
pub fn LicenseTag(license: LicenseBadge) -> impl IntoView {
    let class = format!("badge badge-license badge-{}", license.kind());
    view! { <span class=class title="License">{license.label()}</span> }
}

#[component]
pub fn PriceTag(license: LicenseBadge) -> impl IntoView {
    let free = license.price() == "Free";
    view! { <span class="price" class:price-free=free>{license.price()}</span> }
}
