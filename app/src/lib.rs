//! The Leptos application shared by the server (SSR) and the browser (hydration).
//!
//! Pages live in one module each; `api` holds the request/response types that the
//! browser and the server both speak, so the wire format has one definition.

// Leptos' statically typed views nest deeply; the admin panel's exceeds the default.
#![recursion_limit = "256"]

mod admin;
pub mod api;
pub mod client;
mod dashboard;
mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

/// The HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/wa-gateway.css" />
        <Title text="WA Gateway" />
        <Router>
            <pages::Layout>
                <Routes fallback=|| view! { <pages::NotFound /> }>
                    <Route path=path!("/login") view=pages::LoginPage />
                    <Route path=path!("/admin") view=admin::AdminPage />
                    <Route path=path!("/dashboard") view=dashboard::DashboardPage />
                </Routes>
            </pages::Layout>
        </Router>
    }
}
