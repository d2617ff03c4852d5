//! The publisher's sales dashboard: revenue per day over the last 30 days as a bar chart,
//! and sales per model and offer.
use leptos::prelude::*;
use leptos_meta::Title;

use leptos::server_fn::ServerFn;

use crate::api::{sales_dashboard, SetUpPayouts};
use crate::wire::{SalesDashboard, SalesDay};

#[component]
pub fn SalesPage() -> impl IntoView {
    let report = Resource::new(|| (), |_| sales_dashboard());
    view! {
        <Title text="Sales" />
        <h1>"Sales"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading sales…"</p> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(report) => view! { <Dashboard report /> }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Dashboard(report: SalesDashboard) -> impl IntoView {
    let total: u32 = report.days.iter().map(|d| d.sales).sum();
    let refunded = (report.refunded > 0).then(|| {
        view! { <p class="muted">{format!("{} refunded or lost to a dispute, not counted.", report.refunded)}</p> }
    });
    let rows = report.by_offer.clone();
    let payouts = match report.payouts.as_str() {
        "active" => view! { <p data-testid="payouts">"Payouts are on: each sale pays into your account, less the platform's fee."</p> }.into_any(),
        state => view! {
            <p data-testid="payouts">{if state == "pending" {
                "Payout onboarding is not finished."
            } else {
                "Set up payouts to be paid for each sale (less the platform's fee) straight into your own account."
            }}</p>
            // A plain form: the answer is the provider's onboarding page.
            <form method="post" action=SetUpPayouts::url() class="inline-form">
                <button type="submit" class="button button-small" data-testid="set-up-payouts">
                    {if state == "pending" { "Continue setting up payouts" } else { "Set up payouts" }}
                </button>
            </form>
        }.into_any(),
    };
    view! {
        <section class="panel" aria-labelledby="payouts-heading">
            <h2 id="payouts-heading">"Payouts"</h2>
            {payouts}
        </section>
        <section class="panel" aria-labelledby="chart-heading">
            <h2 id="chart-heading">{format!("Revenue, last 30 days{}", if report.currency.is_empty() { String::new() } else { format!(" ({})", report.currency) })}</h2>
            <p data-testid="sales-total">{if total == 1 { "1 sale".to_owned() } else { format!("{total} sales") }}</p>
            <RevenueChart days=report.days.clone() />
            {refunded}
        </section>
        <section class="panel" aria-labelledby="offers-sold-heading">
            <h2 id="offers-sold-heading">"By model and offer"</h2>
            {if rows.is_empty() {
                view! { <p class="muted" data-testid="no-sales">"No sales yet."</p> }.into_any()
            } else {
                view! {
                    <div class="table-scroll">
                        <table class="data-table stack-on-phone" data-testid="sales-by-offer">
                            <thead><tr>
                                <th scope="col">"Model"</th><th scope="col">"Offer"</th>
                                <th scope="col" class="num">"Sales"</th><th scope="col" class="num">"Revenue"</th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|r| view! {
                                    <tr>
                                        <td>{r.model}</td>
                                        <td data-label="Offer">{r.offer}</td>
                                        <td class="num" data-label="Sales">{r.sales}</td>
                                        <td class="num" data-label="Revenue">{r.revenue}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
    }
}

/// Bars of revenue per day, drawn as SVG; each bar's title tells its day and figures.
#[component]
fn RevenueChart(days: Vec<SalesDay>) -> impl IntoView {
    const WIDTH: f64 = 600.0;
    const HEIGHT: f64 = 160.0;
    let most = days
        .iter()
        .map(|d| d.revenue_minor)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let step = WIDTH / days.len().max(1) as f64;
    let first = days.first().map(|d| d.day.clone()).unwrap_or_default();
    let last = days.last().map(|d| d.day.clone()).unwrap_or_default();
    let peak = days
        .iter()
        .max_by_key(|d| d.revenue_minor)
        .map(|d| d.revenue.clone())
        .unwrap_or_default();
    view! {
        <figure class="sales-chart">
            <svg viewBox=format!("0 0 {WIDTH} {}", HEIGHT + 2.0) role="img" aria-label="Revenue per day" data-testid="sales-chart" preserveAspectRatio="none">
                <line x1="0" y1=HEIGHT x2=WIDTH y2=HEIGHT class="axis" />
                {days.into_iter().enumerate().map(|(i, d)| {
                    let h = (d.revenue_minor as f64 / most * (HEIGHT - 4.0)).max(if d.sales > 0 { 2.0 } else { 0.0 });
                    view! {
                        <rect x=format!("{:.1}", i as f64 * step + 1.0) y=format!("{:.1}", HEIGHT - h)
                            width=format!("{:.1}", (step - 2.0).max(1.0)) height=format!("{h:.1}")
                            class="bar" data-sales=d.sales>
                            <title>{format!("{}: {} sales, {}", d.day, d.sales, d.revenue)}</title>
                        </rect>
                    }
                }).collect_view()}
            </svg>
            <figcaption class="chart-axis">
                <span>{first}</span>
                <span>{format!("highest day: {peak}")}</span>
                <span>{last}</span>
            </figcaption>
        </figure>
    }
}
