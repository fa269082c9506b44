//! The dashboard's screens are data: each is a list of [`Block`]s (a title, facts, a list
//! that pages, a form, buttons) that one renderer draws. Leptos builds code for every
//! distinct view shape, so drawing every screen with the same few shapes keeps the
//! download small (see `cargo xtask size`); the screens themselves are plain Rust.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use serde_json::Value;
use till_shared::money::{Currency, Money};

use crate::api::{self, Failure, encode};
use crate::text::{T, t};

/// `amount` minor units of `currency` (`NT$590`, `$5.90`); the bare number for a currency
/// Till does not know.
pub fn money(amount: i64, currency: &str) -> String {
    match Currency::parse(currency).and_then(|c| Money::from_minor(amount, c)) {
        Ok(money) => till_shared::locale::format_money(money),
        Err(_) => format!("{amount} {currency}"),
    }
}

/// A value's `amount` and `currency` fields as money.
pub fn money_of(value: &Value, amount: &str, currency: &str) -> String {
    match value[amount].as_i64() {
        Some(n) => money(n, value[currency].as_str().unwrap_or_default()),
        None => String::new(),
    }
}

/// An ISO time as `2026-12-03 17:43 UTC`.
pub fn when(value: &Value) -> String {
    match value.as_str() {
        Some(iso) if iso.len() >= 16 => format!("{} {} UTC", &iso[..10], &iso[11..16]),
        Some(other) => other.to_owned(),
        None => String::new(),
    }
}

/// A field of an API object as a `&str`, or empty.
pub fn text_of<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap_or_default()
}

/// A whole number of an API object as text.
pub fn count_of(value: &Value, field: &str) -> String {
    value[field].as_i64().unwrap_or(0).to_string()
}

/// Today as days since 1970-01-01 (UTC), from the browser's clock.
pub fn today() -> i64 {
    (js_sys::Date::now() / 86_400_000.0).floor() as i64
}

/// A decimal the merchant typed as minor units of `currency` (`5.90` → 590 for USD).
pub fn minor_units(text: &str, currency: &str) -> Option<i64> {
    let currency = Currency::parse(currency).ok()?;
    Money::parse_decimal(text.trim(), currency)
        .ok()
        .map(Money::amount)
}

/// Metadata from `key=value` lines; `None` when there are none.
pub fn metadata_of(lines: &str) -> Option<Value> {
    let map: serde_json::Map<String, Value> = lines
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), Value::String(v.trim().to_owned())))
        .filter(|(k, _)| !k.is_empty())
        .collect();
    (!map.is_empty()).then_some(Value::Object(map))
}

/// What follows a successful form or button.
#[derive(Clone)]
pub enum Then {
    /// The screen reads its data again.
    Refresh,
    /// The browser goes to the page this answer names.
    Go(fn(&Value) -> String),
    /// A secret in the answer (`field`) is shown once, under `label`.
    ShowOnce(&'static str, T),
    /// The whole dashboard starts again (signing in and out).
    Reload,
}

/// A column of a list: its heading and what a row shows in it.
#[derive(Clone, Copy)]
pub struct Column {
    pub title: T,
    pub cell: fn(&Value) -> String,
}

pub const fn column(title: T, cell: fn(&Value) -> String) -> Column {
    Column { title, cell }
}

/// A button on each row of a list: where `method` goes for that row (`None`: no button).
#[derive(Clone, Copy)]
pub struct RowAction {
    pub label: T,
    pub method: &'static str,
    pub path: fn(&Value) -> Option<String>,
}

/// A list answer's rows, twenty at a time, newest first; the first cell links to the
/// row's page when `href` is given.
#[derive(Clone)]
pub struct List {
    pub path: String,
    pub columns: Vec<Column>,
    pub href: Option<fn(&Value) -> String>,
    pub action: Option<RowAction>,
    pub limit: u32,
    /// The list's element id (tests and skip links find it by this).
    pub id: &'static str,
}

impl List {
    pub fn new(id: &'static str, path: impl Into<String>, columns: Vec<Column>) -> List {
        List {
            path: path.into(),
            columns,
            href: None,
            action: None,
            limit: 20,
            id,
        }
    }

    pub fn linked(mut self, href: fn(&Value) -> String) -> List {
        self.href = Some(href);
        self
    }

    pub fn acting(mut self, action: RowAction) -> List {
        self.action = Some(action);
        self
    }

    pub fn limit(mut self, limit: u32) -> List {
        self.limit = limit;
        self
    }
}

/// What a form field takes.
#[derive(Clone)]
pub enum Kind {
    Text,
    Password,
    Number,
    Url,
    Date,
    DateTime,
    Lines,
    Check,
    /// One of these values, with their words.
    Choose(Vec<(&'static str, T)>),
    /// One of these values, with their labels (read from the API).
    Pick(Vec<(String, String)>),
    Currency,
    /// Not shown: a value the form sends as it is.
    Hidden,
}

/// A field of a form.
#[derive(Clone)]
pub struct Field {
    pub name: &'static str,
    pub label: T,
    pub kind: Kind,
    pub required: bool,
    pub hint: Option<T>,
    pub placeholder: &'static str,
    pub value: String,
    /// Shown only while the field `.0` has the value `.1` (`"*"`: any value).
    pub shown_when: Option<(&'static str, &'static str)>,
}

pub fn field(name: &'static str, label: T, kind: Kind) -> Field {
    Field {
        name,
        label,
        kind,
        required: false,
        hint: None,
        placeholder: "",
        value: String::new(),
        shown_when: None,
    }
}

impl Field {
    pub fn required(mut self) -> Field {
        self.required = true;
        self
    }
    pub fn hint(mut self, hint: T) -> Field {
        self.hint = Some(hint);
        self
    }
    pub fn placeholder(mut self, text: &'static str) -> Field {
        self.placeholder = text;
        self
    }
    pub fn value(mut self, value: impl Into<String>) -> Field {
        self.value = value.into();
        self
    }
    pub fn when(mut self, field: &'static str, value: &'static str) -> Field {
        self.shown_when = Some((field, value));
        self
    }
}

/// A form's values by field name, as typed (a checkbox is `"true"` or empty).
#[derive(Clone)]
pub struct Values(Vec<(&'static str, RwSignal<String>)>);

impl Values {
    pub fn get(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.get_untracked().trim().to_owned())
            .unwrap_or_default()
    }

    /// The value, when not empty.
    pub fn some(&self, name: &str) -> Option<String> {
        Some(self.get(name)).filter(|v| !v.is_empty())
    }

    pub fn on(&self, name: &str) -> bool {
        self.get(name) == "true"
    }

    fn signal(&self, name: &str) -> Option<RwSignal<String>> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

/// A form: its fields, where it is sent, how its body is made of the values (or why not),
/// and what follows. A body with a `__path` string is sent there instead of `path`.
#[derive(Clone)]
pub struct Form {
    pub id: &'static str,
    pub fields: Vec<Field>,
    pub submit: T,
    pub method: &'static str,
    pub path: String,
    pub body: fn(&Values) -> Result<Value, String>,
    pub then: Then,
}

/// A button that sends one request.
#[derive(Clone)]
pub struct Act {
    pub id: &'static str,
    pub label: T,
    pub method: &'static str,
    pub path: String,
    pub body: Value,
    pub confirm: Option<T>,
    pub danger: bool,
    pub then: Then,
}

pub fn act(id: &'static str, label: T, method: &'static str, path: String, body: Value) -> Act {
    Act {
        id,
        label,
        method,
        path,
        body,
        confirm: None,
        danger: false,
        then: Then::Refresh,
    }
}

/// A piece of a screen.
pub enum Block {
    Title(String),
    Heading(T),
    Text(String),
    Note(T),
    /// A link: its address, words and element id.
    Link(String, String, &'static str),
    Facts(Vec<(T, String)>),
    List(List),
    Form(Form),
    Buttons(Vec<Act>),
    /// A value with a button that copies it; `.2` is its element id.
    Copy(String, T, &'static str),
    /// An image: address, alternative text, element id.
    Image(String, T, &'static str),
    Raw(Value),
    /// A view of its own (a chart, the embed builder).
    View(AnyView),
}

/// The screen's refresh counter: forms and buttons bump it, screens read their data again.
#[derive(Clone, Copy)]
pub struct Refresh(pub RwSignal<u32>);

impl Refresh {
    /// The screen's counter, read where a form or button is made (a request's answer
    /// arrives outside any reactive owner, where context cannot be read).
    fn here() -> Option<Refresh> {
        use_context::<Refresh>()
    }

    fn bump(this: Option<Refresh>) {
        if let Some(Refresh(n)) = this {
            n.update(|n| *n += 1);
        }
    }
}

/// A screen made of the object at `path`: `blocks` draws it, again after every change.
#[component]
pub fn Screen(
    #[prop(into)] path: Signal<String>,
    blocks: fn(Value) -> Vec<Block>,
    #[prop(optional)] back: Option<(&'static str, T)>,
) -> impl IntoView {
    let counter = RwSignal::new(0_u32);
    provide_context(Refresh(counter));
    let answer = RwSignal::new(None::<api::Answer>);
    Effect::new(move |_| {
        counter.track();
        let path = path.get();
        spawn_local(async move { answer.set(Some(api::get(&path).await)) });
    });
    let back = back.map(|(href, words)| view! { <p><a href=href>{t(words)}</a></p> });
    view! {
        {back}
        {move || match answer.get() {
            None => view! { <p role="status">{t(T::Loading)}</p> }.into_any(),
            Some(Err(failure)) => problem(Some(failure)).into_any(),
            Some(Ok(value)) => draw(blocks(value)).into_any(),
        }}
    }
}

/// A screen without data of its own.
pub fn page(blocks: Vec<Block>) -> impl IntoView {
    provide_context(Refresh(RwSignal::new(0)));
    draw(blocks)
}

pub fn draw(blocks: Vec<Block>) -> AnyView {
    blocks.into_iter().map(block).collect_view().into_any()
}

fn block(block: Block) -> AnyView {
    match block {
        Block::Title(text) => view! { <h1>{text}</h1> }.into_any(),
        Block::Heading(words) => view! { <h2>{t(words)}</h2> }.into_any(),
        Block::Text(text) => view! { <p>{text}</p> }.into_any(),
        Block::Note(words) => view! { <p class="note">{t(words)}</p> }.into_any(),
        Block::Link(href, text, id) => view! { <p><a href=href id=id>{text}</a></p> }.into_any(),
        Block::Facts(rows) => facts(rows).into_any(),
        Block::List(list) => listing(list).into_any(),
        Block::Form(form) => form_view(form).into_any(),
        Block::Buttons(acts) => {
            let failure = RwSignal::new(None);
            let buttons = acts.into_iter().map(|a| button(a, failure)).collect_view();
            view! { <div class="actions">{buttons}</div>{move || problem(failure.get())} }
                .into_any()
        }
        Block::Copy(text, what, id) => view! {
            <p class="url"><code id=id>{text.clone()}</code></p>{copy_button(text, what)}
        }
        .into_any(),
        Block::Image(src, alt, id) => view! {
            <p class="qr"><img id=id src=src alt=t(alt) width="220" height="220"/></p>
        }
        .into_any(),
        Block::Raw(value) => {
            // Indented by the browser's JSON (serde_json's pretty printer is code to ship).
            let text = js_sys::JSON::parse(&value.to_string())
                .and_then(|v| {
                    js_sys::JSON::stringify_with_replacer_and_space(
                        &v,
                        &wasm_bindgen::JsValue::NULL,
                        &2.into(),
                    )
                })
                .ok()
                .and_then(|s| s.as_string())
                .unwrap_or_default();
            view! { <details class="raw"><summary>{t(T::Raw)}</summary><pre>{text}</pre></details> }
                .into_any()
        }
        Block::View(view) => view,
    }
}

/// The API's refusal, said where the screen's form is (and to screen readers at once).
pub fn problem(failure: Option<Failure>) -> impl IntoView {
    failure.map(|f| {
        let param = f.param.map(|p| format!(" ({p})")).unwrap_or_default();
        view! { <p class="problem" role="alert">{f.message}{param}</p> }
    })
}

fn facts(rows: Vec<(T, String)>) -> impl IntoView {
    let rows = rows
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| view! { <dt>{t(k)}</dt><dd>{v}</dd> })
        .collect_view();
    view! { <dl class="facts">{rows}</dl> }
}

/// Copies `text` to the clipboard; says so for a moment.
pub fn copy_button(text: String, what: T) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy = move |_| {
        let Some(window) = web_sys::window() else {
            return;
        };
        let promise = window.navigator().clipboard().write_text(&text);
        spawn_local(async move {
            if wasm_bindgen_futures::JsFuture::from(promise).await.is_ok() {
                copied.set(true);
            }
        });
    };
    let label = move || {
        let word = if copied.get() {
            t(T::Copied)
        } else {
            t(T::Copy)
        };
        format!("{word}: {}", t(what))
    };
    view! { <button type="button" class="secondary copy" on:click=copy>{label}</button> }
}

/// Sends `method path body`; answers the API's answer, after what `then` says.
/// Where a request's outcome is said: its refusal, a secret shown once, the screen to read
/// again.
#[derive(Clone, Copy)]
struct Said {
    failure: RwSignal<Option<Failure>>,
    shown: RwSignal<Option<(T, String)>>,
    screen: Option<Refresh>,
}

fn send(
    method: &'static str,
    path: String,
    body: Option<Value>,
    then: Then,
    said: Said,
    navigate: impl Fn(&str) + 'static,
) {
    let Said {
        failure,
        shown,
        screen,
    } = said;
    spawn_local(async move {
        match api::call(method, &path, body.as_ref()).await {
            Ok(answer) => {
                failure.set(None);
                match then {
                    Then::Refresh => Refresh::bump(screen),
                    Then::Go(to) => navigate(&to(&answer)),
                    Then::ShowOnce(field, label) => {
                        shown.set(answer[field].as_str().map(|s| (label, s.to_owned())));
                        Refresh::bump(screen);
                    }
                    Then::Reload => {
                        let _ = window().location().reload();
                    }
                }
            }
            Err(error) => failure.set(Some(error)),
        }
    });
}

fn navigator() -> impl Fn(&str) + Clone + 'static {
    let navigate = use_navigate();
    move |to: &str| navigate(to, Default::default())
}

fn button(a: Act, failure: RwSignal<Option<Failure>>) -> impl IntoView {
    let navigate = navigator();
    let screen = Refresh::here();
    let shown = RwSignal::new(None);
    let class = if a.danger { "danger" } else { "secondary" };
    let label = a.label;
    let id = a.id;
    let click = move |_| {
        if let Some(question) = a.confirm
            && !window().confirm_with_message(t(question)).unwrap_or(false)
        {
            return;
        }
        let body = (!a.body.is_null()).then(|| a.body.clone());
        send(
            a.method,
            a.path.clone(),
            body,
            a.then.clone(),
            Said {
                failure,
                shown,
                screen,
            },
            navigate.clone(),
        );
    };
    view! { <button type="button" class=class id=id on:click=click>{t(label)}</button> }
}

fn listing(list: List) -> impl IntoView {
    let rows = RwSignal::new(Vec::<Value>::new());
    let more = RwSignal::new(false);
    let failure = RwSignal::new(None::<Failure>);
    let loaded = RwSignal::new(false);
    let base = list.path.clone();
    let limit = list.limit;
    let load = move |after: Option<String>| {
        let base = base.clone();
        spawn_local(async move {
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = match &after {
                Some(id) => format!("{base}{sep}limit={limit}&starting_after={}", encode(id)),
                None => format!("{base}{sep}limit={limit}"),
            };
            match api::get(&url).await {
                Ok(page) => {
                    let data = page["data"].as_array().cloned().unwrap_or_default();
                    more.set(page["has_more"].as_bool().unwrap_or(false));
                    if after.is_some() {
                        rows.update(|r| r.extend(data));
                    } else {
                        rows.set(data);
                    }
                    failure.set(None);
                }
                Err(error) => failure.set(Some(error)),
            }
            loaded.set(true);
        });
    };
    let screen = use_context::<Refresh>();
    {
        let load = load.clone();
        Effect::new(move |_| {
            if let Some(Refresh(n)) = screen {
                n.track();
            }
            load(None);
        });
    }
    let columns = list.columns.clone();
    let heads = columns
        .iter()
        .map(|c| view! { <th scope="col">{t(c.title)}</th> })
        .collect_view();
    let action = list.action;
    let action_head =
        action.map(|a| view! { <th scope="col"><span class="sr">{t(a.label)}</span></th> });
    let href = list.href;
    let reload = load.clone();
    let body = move || {
        rows.get()
            .into_iter()
            .map(|row| {
                let cells = columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let text = (c.cell)(&row);
                        match href.filter(|_| i == 0) {
                            Some(href) => {
                                view! { <td><a href=href(&row)>{text}</a></td> }.into_any()
                            }
                            None => view! { <td>{text}</td> }.into_any(),
                        }
                    })
                    .collect_view();
                let button = action.map(|a| {
                    let target = (a.path)(&row);
                    let reload = reload.clone();
                    view! {
                        <td>{target.map(|path| view! {
                            <button type="button" class="secondary small" on:click=move |_| {
                                let (path, reload) = (path.clone(), reload.clone());
                                spawn_local(async move {
                                    match api::call(a.method, &path, None).await {
                                        Ok(_) => reload(None),
                                        Err(error) => failure.set(Some(error)),
                                    }
                                });
                            }>{t(a.label)}</button>
                        })}</td>
                    }
                });
                view! { <tr>{cells}{button}</tr> }
            })
            .collect_view()
    };
    let next = move |_| {
        let last = rows.with(|r| r.last().and_then(|v| v["id"].as_str().map(str::to_owned)));
        load(last);
    };
    let status = move || {
        if !loaded.get() {
            Some(t(T::Loading))
        } else if rows.with(Vec::is_empty) && failure.with(Option::is_none) {
            Some(t(T::NothingYet))
        } else {
            None
        }
    };
    view! {
        {move || problem(failure.get())}
        <div class="table" id=list.id tabindex="0">
            <table>
                <thead><tr>{heads}{action_head}</tr></thead>
                <tbody>{body}</tbody>
            </table>
        </div>
        <p class="empty" role="status">{status}</p>
        {move || more.get().then(|| view! {
            <button type="button" class="secondary" on:click=next.clone()>{t(T::More)}</button>
        })}
    }
}

/// A form that sends nothing: `apply` gets its values (list filters).
pub fn filter_form(fields: Vec<Field>, apply: impl Fn(&Values) + 'static) -> impl IntoView {
    let values = Values(
        fields
            .iter()
            .map(|f| (f.name, RwSignal::new(f.value.clone())))
            .collect(),
    );
    let inputs = fields
        .iter()
        .map(|f| input("filter", f, &values))
        .collect_view();
    let submit = move |e: leptos::ev::SubmitEvent| {
        e.prevent_default();
        apply(&values);
    };
    view! {
        <form class="form filters" on:submit=submit>
            {inputs}
            <button type="submit" class="secondary">{t(T::Apply)}</button>
        </form>
    }
}

fn form_view(form: Form) -> impl IntoView {
    let values = Values(
        form.fields
            .iter()
            .map(|f| (f.name, RwSignal::new(f.value.clone())))
            .collect(),
    );
    let failure = RwSignal::new(None);
    let shown = RwSignal::new(None::<(T, String)>);
    let busy = RwSignal::new(false);
    let navigate = navigator();
    let screen = Refresh::here();
    let fields = form
        .fields
        .iter()
        .map(|f| input(form.id, f, &values))
        .collect_view();
    let submit = {
        let values = values.clone();
        let form = form.clone();
        move |e: leptos::ev::SubmitEvent| {
            e.prevent_default();
            match (form.body)(&values) {
                Ok(mut body) => {
                    // A body may name its own path (one that depends on a value).
                    let path = body
                        .as_object_mut()
                        .and_then(|o| o.remove("__path"))
                        .and_then(|p| p.as_str().map(str::to_owned))
                        .unwrap_or_else(|| form.path.clone());
                    busy.set(true);
                    send(
                        form.method,
                        path,
                        Some(body),
                        form.then.clone(),
                        Said {
                            failure,
                            shown,
                            screen,
                        },
                        navigate.clone(),
                    );
                    busy.set(false);
                }
                Err(message) => failure.set(Some(Failure {
                    status: 400,
                    message,
                    param: None,
                })),
            }
        }
    };
    let once = move || {
        shown.get().map(|(label, secret)| {
            view! {
                <div class="once" role="status">
                    <p><strong>{t(label)}</strong>" — "{t(T::ShownOnce)}</p>
                    <code class="secret">{secret.clone()}</code>
                    {copy_button(secret, label)}
                </div>
            }
        })
    };
    view! {
        <form class="form" id=form.id on:submit=submit>
            {fields}
            {move || problem(failure.get())}
            <button type="submit" id=format!("{}-submit", form.id) disabled=move || busy.get()>{t(form.submit)}</button>
        </form>
        {once}
    }
}

/// One field, labelled, bound to its value; hidden while its condition does not hold.
fn input(form: &'static str, f: &Field, values: &Values) -> AnyView {
    let id = format!("{form}-{}", f.name.replace('.', "-"));
    let Some(value) = values.signal(f.name) else {
        return ().into_any();
    };
    let hint_id = format!("{id}-hint");
    let hint = f
        .hint
        .map(|h| view! { <small id=hint_id.clone()>{t(h)}</small> });
    let described = f.hint.map(|_| hint_id.clone());
    let label = f.label;
    let required = f.required;
    let placeholder = f.placeholder;
    let control = match &f.kind {
        Kind::Hidden => return ().into_any(),
        Kind::Check => {
            let checked = Signal::derive(move || value.get() == "true");
            return shown_when(f, values, view! {
                <div class="field check">
                    <input id=id.clone() type="checkbox" prop:checked=checked
                        on:change=move |e| value.set(if event_target_checked(&e) { "true".into() } else { String::new() })/>
                    <label for=id>{t(label)}</label>
                </div>
            }.into_any());
        }
        Kind::Lines => view! {
            <textarea id=id.clone() rows="3" aria-describedby=described required=required bind:value=value></textarea>
        }
        .into_any(),
        Kind::Choose(options) => {
            let options: Vec<(String, String)> = options
                .iter()
                .map(|(v, w)| ((*v).to_owned(), t(*w).to_owned()))
                .collect();
            select(&id, value, options)
        }
        Kind::Pick(options) => select(&id, value, options.clone()),
        Kind::Currency => select(
            &id,
            value,
            Currency::ALL
                .iter()
                .map(|c| (c.code().to_owned(), c.code().to_owned()))
                .collect(),
        ),
        kind => {
            let kind = match kind {
                Kind::Password => "password",
                Kind::Number => "number",
                Kind::Url => "url",
                Kind::Date => "date",
                Kind::DateTime => "datetime-local",
                _ => "text",
            };
            view! {
                <input id=id.clone() type=kind required=required placeholder=placeholder
                    aria-describedby=described bind:value=value/>
            }
            .into_any()
        }
    };
    let star = required.then(|| view! { <span class="req">" *"</span> });
    shown_when(
        f,
        values,
        view! {
            <div class="field">
                <label for=id>{t(label)}{star}</label>
                {control}
                {hint}
            </div>
        }
        .into_any(),
    )
}

fn select(id: &str, value: RwSignal<String>, options: Vec<(String, String)>) -> AnyView {
    if value.get_untracked().is_empty()
        && let Some((first, _)) = options.first()
    {
        value.set(first.clone());
    }
    let options = options
        .into_iter()
        .map(|(v, words)| {
            let chosen = v.clone();
            view! { <option value=v selected=move || value.get() == chosen>{words}</option> }
        })
        .collect_view();
    view! {
        <select id=id.to_owned() on:change=move |e| value.set(event_target_value(&e))>{options}</select>
    }
    .into_any()
}

fn shown_when(f: &Field, values: &Values, view: AnyView) -> AnyView {
    let Some((other, wanted)) = f.shown_when else {
        return view;
    };
    let Some(other) = values.signal(other) else {
        return view;
    };
    // Kept in the page (and its value in the form's) while hidden, so that showing it
    // again keeps what was typed. A hidden field is never `required`.
    let hidden = move || match wanted {
        "*" => other.with(String::is_empty),
        wanted => other.with(|v| v != wanted),
    };
    view! { <div hidden=hidden>{view}</div> }.into_any()
}
