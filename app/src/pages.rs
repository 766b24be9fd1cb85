//! Page components: the shared layout, the login page and the admin/dashboard shells.

use crate::{api::LoginRequest, client};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    view! {
        <header class="topbar">
            <a class="brand" href="/">"WA Gateway"</a>
            <nav>
                <a href="/dashboard">"Dashboard"</a>
                <a href="/admin">"Admin"</a>
            </nav>
        </header>
        <main class="content">{children()}</main>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <section class="card">
            <h1>"Page not found"</h1>
            <p><a href="/">"Back to the start page"</a></p>
        </section>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let show_password = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let req = LoginRequest { username: username.get_untracked(), password: password.get_untracked() };
        pending.set(true);
        error.set(None);
        spawn_local(async move {
            match client::login(req).await {
                Ok(user) => {
                    password.set(String::new());
                    client::go_to(if user.is_admin { "/admin" } else { "/dashboard" });
                }
                Err(message) => {
                    error.set(Some(message));
                    pending.set(false);
                }
            }
        });
    };

    view! {
        <section class="card login">
            <h1>"Sign in"</h1>
            <form on:submit=on_submit>
                <label for="username">"Username"</label>
                <input
                    id="username"
                    name="username"
                    autocomplete="username"
                    required
                    bind:value=username
                />
                <label for="password">"Password"</label>
                <div class="password-row">
                    <input
                        id="password"
                        name="password"
                        autocomplete="current-password"
                        required
                        type=move || if show_password.get() { "text" } else { "password" }
                        bind:value=password
                    />
                    <button
                        type="button"
                        class="secondary"
                        aria-pressed=move || show_password.get().to_string()
                        on:click=move |_| show_password.update(|s| *s = !*s)
                    >
                        {move || if show_password.get() { "Hide" } else { "Show" }}
                    </button>
                </div>
                <button type="submit" disabled=move || pending.get()>
                    {move || if pending.get() { "Signing in…" } else { "Sign in" }}
                </button>
                <Show when=move || error.get().is_some()>
                    <p class="error" role="alert">{move || error.get().unwrap_or_default()}</p>
                </Show>
            </form>
        </section>
    }
}

#[component]
pub fn SignedInBar(user: RwSignal<Option<crate::api::UserView>>) -> impl IntoView {
    let logout = move |_| {
        spawn_local(async move {
            let _ = client::logout().await;
            client::go_to("/login");
        });
    };
    view! {
        <div class="whoami">
            <span data-testid="whoami">
                {move || user.get().map(|u| format!("Signed in as {}", u.username)).unwrap_or_default()}
            </span>
            <button class="secondary" on:click=logout>"Log out"</button>
        </div>
        <Show when=move || user.get().is_some_and(|u| u.default_password)>
            <p class="warning" role="alert">
                "This account still uses the default password. Change it now."
            </p>
        </Show>
    }
}
