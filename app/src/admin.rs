//! The admin panel: every user with their session name, callback URL and live status;
//! create, edit session config, change password, delete. Server errors show inline.

use crate::{api::UserView, client, pages::SignedInBar};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use serde_json::{json, Value};

/// Empty form fields mean "not given" (so the server applies its defaults).
fn optional(value: String) -> Value {
    if value.trim().is_empty() {
        Value::Null
    } else {
        Value::from(value.trim().to_owned())
    }
}

/// Asks the browser to confirm (always "yes" during server rendering, which never acts).
fn confirm(question: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window().and_then(|w| w.confirm_with_message(question).ok()).unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = question;
        true
    }
}

#[component]
pub fn AdminPage() -> impl IntoView {
    let me = RwSignal::new(None::<UserView>);
    let users = RwSignal::new(Vec::<UserView>::new());
    let notice = RwSignal::new(None::<(bool, String)>);
    let editing = RwSignal::new(None::<UserView>);

    let reload = move || {
        spawn_local(async move {
            match client::get::<Vec<UserView>>("/admin/users").await {
                Ok(list) => users.set(list),
                Err(e) => notice.set(Some((false, e))),
            }
        });
    };

    Effect::new(move |_| {
        spawn_local(async move {
            match client::me().await {
                Ok(Some(user)) if user.is_admin => me.set(Some(user)),
                Ok(Some(_)) => return client::go_to("/dashboard"),
                Ok(None) => return client::go_to("/login"),
                Err(e) => notice.set(Some((false, e))),
            }
            reload();
            client::follow_live(
                move |event: Value| {
                    if event["type"] == "status" {
                        let session = event["session"].as_str().unwrap_or_default().to_owned();
                        let status = event["status"].as_str().unwrap_or_default().to_owned();
                        users.update(|list| {
                            for u in list.iter_mut().filter(|u| u.session_name == session) {
                                u.status = status.clone();
                            }
                        });
                    }
                },
                reload,
            );
        });
    });

    // Create a user.
    let (username, password, session_name, callback_url) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let create = move |ev: SubmitEvent| {
        ev.prevent_default();
        let body = json!({
            "username": username.get_untracked().trim(),
            "password": password.get_untracked(),
            "session_name": optional(session_name.get_untracked()),
            "callback_url": optional(callback_url.get_untracked()),
        });
        spawn_local(async move {
            match client::call::<UserView, Value>("POST", "/admin/users", Some(&body)).await {
                Ok(u) => {
                    notice.set(Some((true, format!("Created {} (id {})", u.username, u.id))));
                    for field in [username, password, session_name, callback_url] {
                        field.set(String::new());
                    }
                    reload();
                }
                Err(e) => notice.set(Some((false, e))),
            }
        });
    };

    let delete = move |user: UserView| {
        if !confirm(&format!("Delete {} and log out its WhatsApp session?", user.username)) {
            return;
        }
        spawn_local(async move {
            match client::call::<Value, ()>("DELETE", &format!("/admin/users/{}", user.id), None).await {
                Ok(_) => {
                    notice.set(Some((true, format!("Deleted {}", user.username))));
                    reload();
                }
                Err(e) => notice.set(Some((false, e))),
            }
        });
    };

    view! {
        <section class="card">
            <h1>"Admin panel"</h1>
            <SignedInBar user=me />
            <Show when=move || notice.get().is_some()>
                <p
                    class=move || if notice.get().is_some_and(|n| n.0) { "ok" } else { "error" }
                    role="status"
                    data-testid="notice"
                >
                    {move || notice.get().map(|n| n.1).unwrap_or_default()}
                </p>
            </Show>
            <table data-testid="users">
                <thead>
                    <tr>
                        <th>"ID"</th><th>"Username"</th><th>"Session Name"</th><th>"Callback URL"</th>
                        <th>"Status"</th><th>"Created At"</th><th>"Actions"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || users.get() key=|u| (u.id, u.session_name.clone(), u.callback_url.clone(), u.status.clone()) let:u>
                        {
                            let (for_edit, for_delete) = (u.clone(), u.clone());
                            let is_me = me.get_untracked().is_some_and(|m| m.id == u.id);
                            view! {
                                <tr data-user=u.username.clone()>
                                    <td>{u.id}</td>
                                    <td>{u.username.clone()}</td>
                                    <td>{u.session_name.clone()}</td>
                                    <td>{u.callback_url.clone().unwrap_or_else(|| "—".into())}</td>
                                    <td><span class=format!("badge {}", u.status) data-testid="user-status">{u.status.clone()}</span></td>
                                    <td>{u.created_at.clone()}</td>
                                    <td class="actions">
                                        <button class="secondary" on:click=move |_| editing.set(Some(for_edit.clone()))>"Edit"</button>
                                        <Show when=move || !is_me>
                                            {
                                                let target = for_delete.clone();
                                                view! { <button class="danger" on:click=move |_| delete(target.clone())>"Delete"</button> }
                                            }
                                        </Show>
                                    </td>
                                </tr>
                            }
                        }
                    </For>
                </tbody>
            </table>
        </section>
        <Show when=move || editing.get().is_some()>
            <EditUser editing notice on_saved=reload />
        </Show>
        <section class="card">
            <h2>"Create user"</h2>
            <form on:submit=create>
                <label for="new-username">"Username"</label>
                <input id="new-username" required bind:value=username />
                <label for="new-password">"Password"</label>
                <input id="new-password" type="password" required autocomplete="new-password" bind:value=password />
                <label for="new-session">"Session name (optional, defaults to the username)"</label>
                <input id="new-session" bind:value=session_name />
                <label for="new-callback">"Callback URL (optional)"</label>
                <input id="new-callback" type="url" bind:value=callback_url />
                <button type="submit">"Create user"</button>
            </form>
        </section>
    }
}

#[component]
fn EditUser(
    editing: RwSignal<Option<UserView>>,
    notice: RwSignal<Option<(bool, String)>>,
    on_saved: impl Fn() + Copy + 'static,
) -> impl IntoView {
    let user = editing.get_untracked().expect("shown only while editing");
    let id = user.id;
    let session_name = RwSignal::new(user.session_name.clone());
    let callback_url = RwSignal::new(user.callback_url.clone().unwrap_or_default());
    let new_password = RwSignal::new(String::new());
    let save = move |ev: SubmitEvent| {
        ev.prevent_default();
        let body = json!({ "session_name": session_name.get_untracked().trim(), "callback_url": optional(callback_url.get_untracked()) });
        spawn_local(async move {
            match client::call::<UserView, Value>("PUT", &format!("/admin/users/{id}/session-config"), Some(&body))
                .await
            {
                Ok(u) => {
                    notice.set(Some((true, format!("Saved {}", u.username))));
                    editing.set(None);
                    on_saved();
                }
                Err(e) => notice.set(Some((false, e))),
            }
        });
    };
    let change_password = move |ev: SubmitEvent| {
        ev.prevent_default();
        let body = json!({ "password": new_password.get_untracked() });
        spawn_local(async move {
            match client::call::<UserView, Value>("PUT", &format!("/admin/users/{id}/password"), Some(&body)).await {
                Ok(u) => {
                    new_password.set(String::new());
                    notice.set(Some((true, format!("Password of {} changed", u.username))));
                }
                Err(e) => notice.set(Some((false, e))),
            }
        });
    };
    view! {
        <section class="card" data-testid="edit-user">
            <h2>"Edit " {user.username.clone()}</h2>
            <form on:submit=save>
                <label for="edit-session">"Session name"</label>
                <input id="edit-session" bind:value=session_name />
                <label for="edit-callback">"Callback URL (empty clears it)"</label>
                <input id="edit-callback" bind:value=callback_url />
                <div class="actions">
                    <button type="submit">"Save session config"</button>
                    <button type="button" class="secondary" on:click=move |_| editing.set(None)>"Cancel"</button>
                </div>
            </form>
            <form on:submit=change_password>
                <label for="edit-password">"New password"</label>
                <input id="edit-password" type="password" autocomplete="new-password" bind:value=new_password />
                <button type="submit" class="secondary">"Change password"</button>
            </form>
        </section>
    }
}
