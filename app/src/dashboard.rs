//! The user's dashboard: one session, followed live over `/ws`.

use crate::{
    api::{SessionInfo, StartSessionResponse, UserView},
    client,
    pages::SignedInBar,
};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Deserialize, PartialEq)]
struct Delivery {
    id: i64,
    kind: String,
    state: String,
    attempts: i64,
    last_status: Option<i64>,
    last_error: Option<String>,
    created_at: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
struct Page<T> {
    items: Vec<T>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
struct SessionEvent {
    id: i64,
    status: String,
    detail: Option<String>,
    created_at: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Secret {
    secret: String,
}

fn label(status: &str) -> &'static str {
    match status {
        "connected" => "Connected",
        "connecting" => "Connecting…",
        "qr" => "Scan the QR code",
        "logged_out" => "Logged out",
        _ => "Disconnected",
    }
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    let user = RwSignal::new(None::<UserView>);
    let info = RwSignal::new(None::<SessionInfo>);
    let deliveries = RwSignal::new(Vec::<Delivery>::new());
    let events = RwSignal::new(Vec::<SessionEvent>::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let load_lists = move || {
        spawn_local(async move {
            if let Ok(page) = client::get::<Page<Delivery>>("/dashboard/deliveries?per_page=10").await {
                deliveries.set(page.items);
            }
            if let Ok(page) = client::get::<Page<SessionEvent>>("/dashboard/events?per_page=10").await {
                events.set(page.items);
            }
        });
    };
    let load_info = move || {
        spawn_local(async move {
            if let Ok(i) = client::get::<SessionInfo>("/dashboard/session-info").await {
                info.set(Some(i));
            }
        });
    };

    Effect::new(move |_| {
        spawn_local(async move {
            match client::me().await {
                Ok(Some(me)) => user.set(Some(me)),
                Ok(None) => return client::go_to("/login"),
                Err(e) => error.set(Some(e)),
            }
            load_info();
            load_lists();
            client::follow_live(
                move |event: Value| match event["type"].as_str() {
                    Some("status") => {
                        info.update(|i| {
                            if let Some(i) = i {
                                i.status = event["status"].as_str().unwrap_or_default().to_owned();
                                i.is_connected = i.status == "connected";
                                i.qr = event["qr"].as_str().map(str::to_owned);
                                i.phone = event["phone"].as_str().map(str::to_owned).or(i.phone.take());
                                i.reason = event["reason"].as_str().map(str::to_owned);
                                i.pair_code = event["pair_code"].as_str().map(str::to_owned);
                            }
                        });
                        if event["qr"].is_null() {
                            load_lists();
                        }
                    }
                    Some("delivery") => load_lists(),
                    _ => {}
                },
                load_info,
            );
        });
    });

    let connect = move |_| {
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match client::call::<StartSessionResponse, ()>("POST", "/dashboard/start-session", None).await {
                Ok(r) => info.update(|i| {
                    if let Some(i) = i {
                        i.status = r.status;
                        i.is_connected = i.status == "connected";
                        i.qr = r.qr;
                    }
                }),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let disconnect = move |_| {
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            if let Err(e) = client::call::<Value, ()>("POST", "/dashboard/disconnect-session", None).await {
                error.set(Some(e));
            }
            busy.set(false);
        });
    };

    view! {
        <section class="card">
            <h1>"Dashboard"</h1>
            <SignedInBar user />
            <Show when=move || error.get().is_some()>
                <p class="error" role="alert">{move || error.get().unwrap_or_default()}</p>
            </Show>
            <div class="session-head">
                <h2>"Session " <code>{move || info.get().map(|i| i.session_name).unwrap_or_default()}</code></h2>
                <span
                    class=move || format!("badge {}", info.get().map(|i| i.status).unwrap_or_default())
                    data-testid="status"
                    role="status"
                    aria-live="polite"
                >
                    {move || label(&info.get().map(|i| i.status).unwrap_or_default())}
                </span>
            </div>
            <p class="muted">
                {move || info.get().and_then(|i| i.reason).unwrap_or_default()}
                {move || info.get().and_then(|i| i.phone).map(|p| format!(" · Phone: +{p}")).unwrap_or_default()}
            </p>
            <Show when=move || info.get().is_some_and(|i| i.qr.is_some())>
                <img
                    class="qr"
                    data-testid="qr"
                    alt="QR code: open WhatsApp → Linked devices → Link a device"
                    src=move || info.get().and_then(|i| i.qr).unwrap_or_default()
                />
            </Show>
            <div class="actions">
                <button
                    on:click=connect
                    disabled=move || busy.get() || info.get().is_some_and(|i| i.is_connected)
                >
                    "Connect Session"
                </button>
                <button
                    class="secondary"
                    on:click=disconnect
                    disabled=move || busy.get()
                >
                    "Disconnect"
                </button>
            </div>
        </section>
        <CallbackForm info />
        <WebhookSecret />
        <section class="card">
            <h2>"Recent deliveries"</h2>
            <button class="secondary" on:click=move |_| {
                spawn_local(async move {
                    let _ = client::call::<Value, ()>("POST", "/dashboard/deliveries/resend-failed", None).await;
                    load_lists();
                });
            }>"Resend failed"</button>
            <table data-testid="deliveries">
                <thead><tr><th>"Event"</th><th>"State"</th><th>"Attempts"</th><th>"Last answer"</th><th>"Created"</th></tr></thead>
                <tbody>
                    <For each=move || deliveries.get() key=|d| (d.id, d.state.clone(), d.attempts) let:d>
                        <tr>
                            <td>{d.kind.clone()}</td>
                            <td class=format!("state {}", d.state)>{d.state.clone()}</td>
                            <td>{d.attempts}</td>
                            <td>{d.last_status.map(|s| s.to_string()).or(d.last_error.clone()).unwrap_or_default()}</td>
                            <td>{d.created_at.clone()}</td>
                        </tr>
                    </For>
                </tbody>
            </table>
        </section>
        <section class="card">
            <h2>"Session activity"</h2>
            <ul class="events" data-testid="events">
                <For each=move || events.get() key=|e| e.id let:e>
                    <li><code>{e.status.clone()}</code>" "{e.detail.clone().unwrap_or_default()}" "<span class="muted">{e.created_at.clone()}</span></li>
                </For>
            </ul>
        </section>
    }
}

#[component]
fn CallbackForm(info: RwSignal<Option<SessionInfo>>) -> impl IntoView {
    let url = RwSignal::new(String::new());
    let message = RwSignal::new(None::<(bool, String)>);
    Effect::new(move |_| {
        if let Some(current) = info.get().and_then(|i| i.callback_url) {
            if url.get_untracked().is_empty() {
                url.set(current);
            }
        }
    });
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let value = url.get_untracked();
        let body = serde_json::json!({ "callback_url": if value.trim().is_empty() { Value::Null } else { Value::from(value) } });
        spawn_local(async move {
            match client::call::<UserView, Value>("PUT", "/dashboard/callback", Some(&body)).await {
                Ok(u) => {
                    info.update(|i| {
                        if let Some(i) = i {
                            i.callback_url = u.callback_url.clone();
                        }
                    });
                    message.set(Some((true, "Callback URL updated".into())));
                }
                Err(e) => message.set(Some((false, e))),
            }
        });
    };
    view! {
        <section class="card">
            <h2>"Callback URL"</h2>
            <form on:submit=submit>
                <label for="callback">"Webhooks go to {callback}/message and {callback}/session"</label>
                <input id="callback" type="url" placeholder="https://api.example.com/webhook" bind:value=url />
                <button type="submit">"Update Callback URL"</button>
                <Show when=move || message.get().is_some()>
                    <p
                        class=move || if message.get().is_some_and(|m| m.0) { "ok" } else { "error" }
                        role="status"
                        data-testid="callback-message"
                    >
                        {move || message.get().map(|m| m.1).unwrap_or_default()}
                    </p>
                </Show>
            </form>
        </section>
    }
}

#[component]
fn WebhookSecret() -> impl IntoView {
    let secret = RwSignal::new(None::<String>);
    let reveal = move |url: &'static str, method: &'static str| {
        spawn_local(async move {
            if let Ok(s) = client::call::<Secret, ()>(method, url, None).await {
                secret.set(Some(s.secret));
            }
        });
    };
    view! {
        <section class="card">
            <h2>"Webhook signing secret"</h2>
            <p class="muted">"Verify the webhook-signature header (Standard Webhooks) with this secret."</p>
            <code data-testid="secret">{move || secret.get().unwrap_or_else(|| "whsec_••••••••".into())}</code>
            <div class="actions">
                <button class="secondary" on:click=move |_| reveal("/dashboard/webhook-secret", "GET")>"Reveal"</button>
                <button class="secondary" on:click=move |_| reveal("/dashboard/webhook-secret/rotate", "POST")>"Rotate"</button>
            </div>
        </section>
    }
}
