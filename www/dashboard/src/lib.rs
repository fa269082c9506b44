//! Till's merchant dashboard: Leptos (client-side, with its router) compiled to
//! WebAssembly and served from `/dashboard/`. It talks to the same JSON API as every
//! merchant's code, signed in by the session cookie (`POST /v1/dashboard/sessions` or a
//! one-time login link) instead of a key; nothing here is a private back door.

mod api;
mod billing;
mod catalog;
mod developers;
mod home;
mod links;
mod sales;
mod settings;
mod text;
mod ui;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::use_location;
use leptos_router::path;
use serde_json::json;
use wasm_bindgen::prelude::*;

use text::{Lang, T, t};
use ui::{Block, Form, Kind, Then, field};

/// Who the dashboard is signed in as (`GET /v1/dashboard/session`).
#[derive(Clone)]
pub struct Session {
    pub account: String,
    pub livemode: bool,
}

/// Whether the signed-in view is the test (sandbox) one.
pub fn test_mode() -> bool {
    use_context::<Session>().is_none_or(|s| !s.livemode)
}

#[wasm_bindgen(start)]
pub fn start() {
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    let lang = text::signal();
    Effect::new(move |_| {
        let lang = lang.get();
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("lang", lang.tag());
        }
        document().set_title(&format!("{} · Till", T::Dashboard.of(lang)));
    });
    let session = RwSignal::new(None);
    leptos::task::spawn_local(async move {
        session.set(Some(api::get("/v1/dashboard/session").await));
    });
    let screen = move || match session.get() {
        None => view! { <p class="loading" role="status">{t(T::Loading)}</p> }.into_any(),
        Some(Ok(value)) => {
            api::set_csrf(value["csrf_token"].as_str().unwrap_or_default());
            let session = Session {
                account: value["account"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                livemode: value["livemode"].as_bool().unwrap_or(false),
            };
            view! { <Shell session=session/> }.into_any()
        }
        Some(Err(_)) => view! { <SignIn/> }.into_any(),
    };
    view! { <Router>{screen}</Router> }
}

/// Sign-in with a secret key; the key goes to the API once and is forgotten.
#[component]
fn SignIn() -> impl IntoView {
    view! {
        <main class="signin">
            <h1>{move || t(T::SignInTitle)}</h1>
            <LangChoice/>
            {move || ui::page(vec![
                Block::Text(t(T::SignInHelp).to_owned()),
                Block::Form(Form {
                    id: "signin",
                    fields: vec![field("secret_key", T::SecretKey, Kind::Password).required().placeholder("sk_test_…")],
                    submit: T::SignIn,
                    method: "POST",
                    path: "/v1/dashboard/sessions".into(),
                    body: |v| Ok(json!({ "secret_key": v.get("secret_key") })),
                    then: Then::Reload,
                }),
            ])}
        </main>
    }
}

#[component]
fn LangChoice() -> impl IntoView {
    let lang = text::signal();
    let options = Lang::ALL
        .iter()
        .map(|l| {
            let l = *l;
            view! { <option value=l.tag() selected=move || lang.get() == l>{l.name()}</option> }
        })
        .collect_view();
    let change = move |e| {
        if let Some(chosen) = Lang::from_tag(&event_target_value(&e)) {
            text::remember(chosen);
            lang.set(chosen);
        }
    };
    view! {
        <label class="lang">
            <span class="sr">{move || t(T::Language)}</span>
            <select on:change=change aria-label=move || t(T::Language)>{options}</select>
        </label>
    }
}

const SECTIONS: &[(&str, T)] = &[
    ("/dashboard/", T::Home),
    ("/dashboard/products", T::Products),
    ("/dashboard/links", T::Links),
    ("/dashboard/sales", T::Sales),
    ("/dashboard/customers", T::Customers),
    ("/dashboard/subscriptions", T::Subscriptions),
    ("/dashboard/promotion_codes", T::PromotionCodes),
    ("/dashboard/developers", T::Developers),
    ("/dashboard/settings", T::Settings),
];

#[component]
fn Shell(session: Session) -> impl IntoView {
    let live = session.livemode;
    let account = session.account.clone();
    provide_context(session);
    let mut sign_out = ui::act(
        "sign-out",
        T::SignOut,
        "DELETE",
        "/v1/dashboard/session".into(),
        serde_json::Value::Null,
    );
    sign_out.then = Then::Reload;
    view! {
        <a class="skip" href="#main">"Skip to content"</a>
            {(!live).then(|| view! { <div class="banner" role="note">{move || t(T::TestMode)}</div> })}
            <header class="top">
                <strong class="brand">"Till"</strong>
                <span class="account">{account}</span>
                <span class=if live { "mode live" } else { "mode test" }>
                    {move || if live { t(T::LiveMode) } else { "Test" }}
                </span>
                <LangChoice/>
                {ui::draw(vec![Block::Buttons(vec![sign_out])])}
            </header>
            <div class="frame">
                <Nav/>
                <main id="main" tabindex="-1">
                    <Routes fallback=not_found>
                        <Route path=path!("/dashboard") view=home::Home/>
                        <Route path=path!("/dashboard/:section") view=section/>
                        <Route path=path!("/dashboard/:section/:id") view=detail/>
                    </Routes>
                </main>
            </div>
    }
}

fn not_found() -> AnyView {
    view! { <h1>{t(T::NotFound)}</h1> }.into_any()
}

/// The screen of `/dashboard/{section}`. Three routes instead of one per screen: each
/// route is a type of its own in the router.
fn section() -> AnyView {
    let params = leptos_router::hooks::use_params_map();
    let screen = move || match params.read().get("section").unwrap_or_default().as_str() {
        "products" => catalog::Products().into_any(),
        "links" => links::Links().into_any(),
        "sales" => sales::Sales().into_any(),
        "customers" => billing::Customers().into_any(),
        "subscriptions" => billing::Subscriptions().into_any(),
        "promotion_codes" => catalog::PromotionCodes().into_any(),
        "developers" => developers::Developers().into_any(),
        "events" => developers::Events().into_any(),
        "settings" => settings::Settings().into_any(),
        "" => home::Home().into_any(),
        _ => not_found(),
    };
    screen.into_any()
}

/// The screen of `/dashboard/{section}/{id}` (`new` makes one).
fn detail() -> AnyView {
    let params = leptos_router::hooks::use_params_map();
    let screen = move || {
        let (section, id) = params.with(|p| {
            (
                p.get("section").unwrap_or_default(),
                p.get("id").unwrap_or_default(),
            )
        });
        match (section.as_str(), id.as_str()) {
            ("products", "new") => catalog::NewProduct().into_any(),
            ("products", _) => catalog::Product().into_any(),
            ("links", "new") => links::NewLink().into_any(),
            ("links", _) => links::Link().into_any(),
            ("payments", _) => sales::Payment().into_any(),
            ("orders", _) => sales::Order().into_any(),
            ("customers", _) => billing::Customer().into_any(),
            ("subscriptions", _) => billing::Subscription().into_any(),
            ("webhooks", _) => developers::Endpoint().into_any(),
            ("events", _) => developers::Event().into_any(),
            _ => not_found(),
        }
    };
    screen.into_any()
}

#[component]
fn Nav() -> impl IntoView {
    let location = use_location();
    let items = SECTIONS
        .iter()
        .map(|(href, words)| {
            let href = *href;
            let current = move || {
                let path = location.pathname.get();
                let here = if href == "/dashboard/" {
                    path == "/dashboard/" || path == "/dashboard"
                } else {
                    path.starts_with(href)
                };
                here.then_some("page")
            };
            view! { <li><a href=href aria-current=current>{move || t(*words)}</a></li> }
        })
        .collect_view();
    view! {
        <nav aria-label=move || t(T::Menu)>
            <ul>{items}</ul>
        </nav>
    }
}

/// The `:id` of the current route.
pub fn route_id() -> Signal<String> {
    let params = leptos_router::hooks::use_params_map();
    Signal::derive(move || params.read().get("id").unwrap_or_default())
}
