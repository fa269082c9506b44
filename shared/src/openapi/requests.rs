//! The request bodies of the OpenAPI document: every field with the type, range, length,
//! pattern or words its reader accepts, and the combinations a body must respect (exactly
//! one of several fields, one field needing another), so that a request the document calls
//! valid is one the API takes, and one it calls invalid is refused.
//!
//! Readers treat a JSON `null` as a field not sent (on PATCH it clears the field), so every
//! optional field is nullable. The fuzz tier (`cargo xtask fuzz`, and the suite's tier)
//! holds the two together: a request the document calls valid that the API refuses, or an
//! invalid one it takes, fails it.

use serde_json::{Map, Value, json};

use crate::catalog::{HOST_PATTERN as HOST, LOCALES, PATH_PATTERN as PATH};
use crate::money::{Currency, MAX_MINOR_UNITS};
use crate::params::{METADATA_MAX_KEY_CHARS, METADATA_MAX_KEYS, METADATA_MAX_VALUE_CHARS};
use crate::plan::CheckoutMode;
use crate::retry::DUNNING_LIMITS;
use crate::time::{MAX_REQUEST_TIME, MIN_REQUEST_TIME};

/// `type` with `null` beside it.
fn nullable(mut schema: Value) -> Value {
    // Combination rules (`required` in them holds for any value that is not an object)
    // stay with the object: null is the other branch.
    let combined = ["allOf", "anyOf", "oneOf", "if"]
        .iter()
        .any(|keyword| schema.get(keyword).is_some());
    let Some(kind) = schema.get("type").cloned().filter(|_| !combined) else {
        return json!({ "anyOf": [schema, { "type": "null" }] });
    };
    schema["type"] = match kind {
        Value::String(one) => json!([one, "null"]),
        Value::Array(mut many) => {
            if !many.contains(&json!("null")) {
                many.push(json!("null"));
            }
            Value::Array(many)
        }
        other => other,
    };
    if let Some(words) = schema.get_mut("enum").and_then(Value::as_array_mut)
        && !words.contains(&Value::Null)
    {
        words.push(Value::Null);
    }
    schema
}

/// Text of at most `max` characters (after trimming, as readers count).
fn text(max: usize) -> Value {
    json!({ "type": "string", "maxLength": max })
}

/// Text that must have a character that is not a space.
fn filled(max: usize) -> Value {
    json!({ "type": "string", "minLength": 1, "maxLength": max, "pattern": "\\S" })
}

fn matching(max: usize, pattern: &str) -> Value {
    json!({ "type": "string", "minLength": 1, "maxLength": max, "pattern": pattern })
}

fn integer(min: i64, max: i64) -> Value {
    json!({ "type": "integer", "minimum": min, "maximum": max })
}

fn boolean() -> Value {
    json!({ "type": "boolean" })
}

/// One of `allowed`; readers compare without regard to case, so each word is listed in
/// upper and lower case too.
fn words(allowed: &[&str]) -> Value {
    let mut spellings: Vec<String> = Vec::new();
    for word in allowed {
        for spelling in [
            word.to_string(),
            word.to_ascii_lowercase(),
            word.to_ascii_uppercase(),
        ] {
            if !spellings.contains(&spelling) {
                spellings.push(spelling);
            }
        }
    }
    json!({ "type": "string", "enum": spellings })
}

/// A currency code, in upper or lower case.
fn currency() -> Value {
    let codes: Vec<String> = Currency::ALL
        .iter()
        .flat_map(|c| [c.code().to_owned(), c.code().to_ascii_lowercase()])
        .collect();
    json!({ "type": "string", "enum": codes })
}

/// A time: RFC 3339 with an offset, or Unix seconds (years 1 to 9999).
fn time() -> Value {
    json!({
        "type": ["string", "integer"],
        "format": "date-time",
        // Years 2 to 9998 in text, so that no offset takes a time outside years 1 to 9999.
        "pattern": "^(000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-",
        "minimum": MIN_REQUEST_TIME,
        "maximum": MAX_REQUEST_TIME,
        "description": "RFC 3339 (`2026-12-31T23:59:59Z`) or Unix seconds.",
    })
}

/// `metadata`: string values (numbers and booleans are kept as their text).
pub fn metadata() -> Value {
    json!({
        "type": "object",
        "maxProperties": METADATA_MAX_KEYS,
        "propertyNames": { "minLength": 1, "maxLength": METADATA_MAX_KEY_CHARS },
        "additionalProperties": {
            "type": ["string", "integer", "boolean"],
            "maxLength": METADATA_MAX_VALUE_CHARS,
        },
    })
}

/// `schema` with a description of what it alone cannot say.
fn described(mut schema: Value, text: &str) -> Value {
    let said = schema["description"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    schema["description"] = json!(format!("{said} {text}").trim().to_owned());
    schema
}

fn list(items: Value, min: usize, max: usize) -> Value {
    json!({ "type": "array", "items": items, "minItems": min, "maxItems": max })
}

/// An https URL on a named host.
fn https_url() -> Value {
    matching(2048, &format!("^https://{HOST}{PATH}$"))
}

/// An absolute URL Till redirects a shopper to: https (in SANDBOX also http to
/// localhost, 127.0.0.1 or [::1]).
fn redirect_url() -> Value {
    matching(
        2048,
        &format!(
            "^(https://{HOST}|http://(localhost|127\\.0\\.0\\.1|\\[::1\\])(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{{2}}|6[0-4][0-9]{{3}}|[1-5][0-9]{{4}}|[1-9][0-9]{{0,3}}))?){PATH}$"
        ),
    )
}

/// A webhook endpoint's URL: https to a public name.
fn endpoint_url() -> Value {
    matching(
        2048,
        &format!(
            "^https://[A-Za-z0-9]([A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?)*\\.(com|net|org|io|dev|app|shop|co){PATH}$"
        ),
    )
}

/// An object with these properties and no others; `required` must be sent (and not null),
/// the rest may be null.
fn body(properties: &[(&str, Value)], required: &[&str]) -> Value {
    let props: Map<String, Value> = properties
        .iter()
        .map(|(name, schema)| {
            let schema = if required.contains(name) {
                schema.clone()
            } else {
                nullable(schema.clone())
            };
            ((*name).to_owned(), schema)
        })
        .collect();
    let mut schema =
        json!({ "type": "object", "properties": props, "additionalProperties": false });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

/// `field` sent, and not null.
fn present(field: &str) -> Value {
    json!({ "required": [field], "properties": { field: { "not": { "type": "null" } } } })
}

/// Exactly one of `fields` sent (not null).
fn exactly_one(fields: &[&str]) -> Value {
    json!({ "oneOf": fields.iter().map(|f| present(f)).collect::<Vec<_>>() })
}

/// At most one of `fields` sent (not null).
fn at_most_one(fields: &[&str]) -> Value {
    let pairs: Vec<Value> = fields
        .iter()
        .enumerate()
        .flat_map(|(i, a)| fields[i + 1..].iter().map(move |b| (a, b)))
        .map(|(a, b)| json!({ "not": { "allOf": [present(a), present(b)] } }))
        .collect();
    json!({ "allOf": pairs })
}

/// When `field` is sent, `then` holds.
fn when(field: &str, then: Value) -> Value {
    json!({ "if": present(field), "then": then })
}

/// `schema` with the combination rules `rules` (each a schema the body must also match).
fn with(mut schema: Value, rules: Vec<Value>) -> Value {
    schema["allOf"] = Value::Array(rules);
    schema
}

/// A line: `{price_id | price, quantity}`.
fn line_item() -> Value {
    with(
        body(
            &[
                ("price_id", filled(100)),
                ("price", filled(100)),
                ("quantity", integer(1, 999)),
            ],
            &[],
        ),
        vec![exactly_one(&["price_id", "price"])],
    )
}

fn line_items() -> Value {
    list(line_item(), 1, 20)
}

/// A nested or flat price's recurrence: `interval` (with its count) only on recurring
/// prices.
fn interval() -> Value {
    words(&[
        "day", "week", "month", "year", "DAY", "WEEK", "MONTH", "YEAR", "minute", "hour", "MINUTE",
        "HOUR",
    ])
}

fn price_rules() -> Vec<Value> {
    vec![
        when("interval_count", present("interval")),
        when(
            "type",
            json!({ "if": { "properties": { "type": { "enum": ["one_time", "ONE_TIME"] } } },
                    "then": { "not": present("interval") },
                    "else": present("interval") }),
        ),
    ]
}

fn price_fields() -> Vec<(&'static str, Value)> {
    vec![
        ("amount", integer(1, MAX_MINOR_UNITS)),
        ("currency", currency()),
        ("type", words(&["one_time", "recurring"])),
        ("interval", interval()),
        ("interval_count", integer(1, 1000)),
        ("usage_type", words(&["licensed"])),
        ("nickname", text(200)),
        ("metadata", metadata()),
    ]
}

/// A slug: lower-case letters, digits and single hyphens.
const SLUG: &str = "^[a-z0-9]+(-[a-z0-9]+)*$";
/// A merchant's own customer id.
const CUSTOMER_ID: &str = "^[A-Za-z0-9_.-]+$";

fn email() -> Value {
    matching(254, crate::catalog::EMAIL_PATTERN)
}

/// What a product is, on create and on update.
fn product_fields() -> Vec<(&'static str, Value)> {
    vec![
        ("name", filled(200)),
        ("slug", matching(64, SLUG)),
        ("description", text(5000)),
        ("images", list(https_url(), 0, 8)),
        ("metadata", metadata()),
        ("active", boolean()),
    ]
}

fn link_settings() -> Vec<(&'static str, Value)> {
    let custom_field = with(
        body(
            &[
                ("key", matching(200, "^[A-Za-z0-9_]+$")),
                ("label", filled(50)),
                ("type", words(&["text", "numeric", "dropdown"])),
                ("optional", boolean()),
                (
                    "dropdown",
                    body(
                        &[(
                            "options",
                            list(
                                body(
                                    &[("label", filled(100)), ("value", filled(100))],
                                    &["label", "value"],
                                ),
                                0,
                                200,
                            ),
                        )],
                        &[],
                    ),
                ),
            ],
            &["key", "label", "type"],
        ),
        vec![
            // A dropdown needs its options; other types ignore them.
            json!({
                "if": { "properties": { "type": { "enum": ["dropdown", "DROPDOWN"] } } },
                "then": {
                    "required": ["dropdown"],
                    "properties": { "dropdown": {
                        "type": "object",
                        "required": ["options"],
                        "properties": { "options": { "type": "array", "minItems": 1 } },
                    } },
                },
            }),
        ],
    );
    let after_completion = json!({ "oneOf": [
        body(&[("type", words(&["redirect"])), ("redirect", body(&[("url", redirect_url())], &["url"]))], &["type", "redirect"]),
        body(&[("type", words(&["hosted_confirmation"])), ("hosted_confirmation", body(&[("custom_message", text(1000))], &[]))], &["type"]),
    ]});
    vec![
        ("name", text(200)),
        ("title", text(200)),
        ("description", text(5000)),
        ("multiple", boolean()),
        ("promotion_code", text(64)),
        ("allow_promotion_codes", boolean()),
        ("collect_payment_method", words(&["always", "if_required"])),
        ("success_url", redirect_url()),
        ("after_completion", after_completion),
        (
            "custom_fields",
            json!({ "type": "array", "items": custom_field, "maxItems": 3, "uniqueItems": true }),
        ),
        ("billing_address_collection", words(&["auto", "required"])),
        ("customer_creation", words(&["always", "if_required"])),
        (
            "submit_type",
            words(&["auto", "pay", "book", "donate", "subscribe"]),
        ),
        ("max_completions", integer(1, 1_000_000_000)),
        ("metadata", metadata()),
        ("active", boolean()),
    ]
}

fn subscription_changes() -> Vec<(&'static str, Value)> {
    let product = body(
        &[("product_id", filled(100)), ("quantity", integer(1, 999))],
        &["product_id"],
    );
    vec![
        ("token_id", filled(64)),
        ("payment_method", filled(64)),
        ("payment_method_id", filled(64)),
        ("products", list(product, 1, 20)),
        ("items", line_items()),
        ("total_billing_cycles", integer(1, 100_000)),
        (
            "start_time",
            described(
                time(),
                "Not in the past (of the customer's test clock, if it has one).",
            ),
        ),
        ("metadata", metadata()),
    ]
}

/// Every request body of the API, by schema name.
/// A processor connection of `PATCH /v1/account` (`null` removes it). The keys' prefixes
/// follow the calling key's environment (`sk_test_`/`pk_test_` for SANDBOX, `_live_` for
/// PRODUCTION; `rk_` restricted keys too), which the Worker checks.
fn processor_connection() -> Value {
    // At least 20 characters in all, as the Worker checks.
    let key =
        |prefix: &str, rest: usize| matching(255, &format!("^{prefix}[A-Za-z0-9_]{{{rest},}}$"));
    described(
        body(
            &[
                ("kind", words(&["stripe"])),
                ("secret_key", key("(sk|rk)_(test|live)_", 12)),
                ("publishable_key", key("pk_(test|live)_", 12)),
                ("webhook_secret", nullable(key("whsec_", 14))),
            ],
            &["kind", "secret_key", "publishable_key"],
        ),
        "Connect Stripe for the calling key's environment: a test key for SANDBOX, a live key only for PRODUCTION. The secrets are sealed at rest and never returned.",
    )
}

pub fn requests() -> Vec<(&'static str, Value)> {
    let retry_schedule = json!({
        "type": "array",
        "items": { "type": "integer", "minimum": DUNNING_LIMITS.min_delay, "maximum": DUNNING_LIMITS.max_delay },
        "minItems": 1,
        "maxItems": DUNNING_LIMITS.max_entries,
        "uniqueItems": true,
        "description": "Seconds after a renewal's first failure at which it is retried (kept in increasing order).",
    });
    let hosts = super::allowed_redirect_hosts(true);
    let mut create_product = product_fields();
    create_product.extend([
        (
            "price",
            with(
                body(&price_fields(), &["amount", "currency"]),
                price_rules(),
            ),
        ),
        ("txamt", integer(1, MAX_MINOR_UNITS)),
        ("txcurrcd", currency()),
    ]);
    create_product.extend(price_fields().into_iter().filter(|(name, _)| {
        matches!(*name, "type" | "interval" | "interval_count" | "usage_type")
    }));
    let mut create_price = vec![("product", filled(100)), ("product_id", filled(100))];
    create_price.extend(price_fields());
    let mut create_link = link_settings();
    create_link.extend([
        ("product_id", filled(100)),
        ("product_slug", matching(64, SLUG)),
        ("line_items", line_items()),
        ("amount", integer(1, MAX_MINOR_UNITS)),
        ("currency", currency()),
        ("currency_id", currency()),
    ]);
    let customer = [
        ("name", text(200)),
        ("phone", text(40)),
        ("email", email()),
        (
            "billing_address",
            json!({
                "type": "object",
                "maxProperties": 20,
                "propertyNames": { "minLength": 1, "maxLength": 40 },
                "additionalProperties": text(200),
            }),
        ),
        ("metadata", metadata()),
    ];
    let mut create_customer = vec![
        ("customer_id", matching(64, CUSTOMER_ID)),
        ("test_clock", filled(64)),
    ];
    create_customer.extend(customer.iter().cloned());
    let mut create_subscription = subscription_changes();
    create_subscription.extend([("customer_id", filled(64)), ("trial_days", integer(0, 730))]);
    let mut update_subscription = subscription_changes();
    update_subscription.extend([
        ("quantity", integer(1, 999)),
        ("cancel_at_period_end", boolean()),
    ]);
    let card = body(
        &[
            ("number", words(crate::card::TEST_CARD_NUMBERS)),
            ("exp_month", integer(1, 12)),
            ("exp_year", integer(2000, 2100)),
            ("cvc", matching(3, "^[0-9]{3}$")),
        ],
        &["number", "exp_month", "exp_year", "cvc"],
    );
    let event_types = list(matching(100, "^(\\*|[a-z_]*\\.[a-z_.]*)$"), 1, 50);
    vec![
        ("CreateAccount", body(&[("name", filled(200))], &["name"])),
        (
            "UpdateAccount",
            body(
                &[
                    ("subscription_retry_schedule", retry_schedule),
                    ("subscription_final_state", words(&["UNPAID", "CANCELED"])),
                    ("allowed_redirect_hosts", hosts),
                    ("processor", nullable(processor_connection())),
                    (
                        "branding",
                        described(
                            body(
                                &[
                                    (
                                        "display_name",
                                        matching(
                                            crate::branding::MAX_NAME_CHARS,
                                            "^[^\\u0000-\\u001f\\u007f-\\u009f]*\\S[^\\u0000-\\u001f\\u007f-\\u009f]*$",
                                        ),
                                    ),
                                    (
                                        "logo_url",
                                        matching(
                                            crate::branding::MAX_LOGO_URL_CHARS,
                                            &format!("^https://{HOST}{PATH}$"),
                                        ),
                                    ),
                                    (
                                        "accent_color",
                                        matching(7, "^#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$"),
                                    ),
                                ],
                                &[],
                            ),
                            "Replaces all three: a field left out or null is cleared.",
                        ),
                    ),
                ],
                &[],
            ),
        ),
        (
            "CreateProduct",
            with(
                body(&create_product, &["name"]),
                vec![
                    at_most_one(&["price", "txamt"]),
                    when("txamt", present("txcurrcd")),
                    when("txcurrcd", present("txamt")),
                    when("interval", present("txamt")),
                    when("interval_count", present("interval")),
                    when("type", present("txamt")),
                    when("usage_type", present("interval")),
                    // The flat form is recurring unless `type` says one_time.
                    when(
                        "txamt",
                        json!({ "if": { "required": ["type"], "properties": { "type": { "enum": ["one_time", "ONE_TIME"] } } },
                                "then": { "not": present("interval") },
                                "else": present("interval") }),
                    ),
                ],
            ),
        ),
        (
            "UpdateProduct",
            body(
                &{
                    let mut fields = product_fields();
                    fields.push(("default_price", filled(100)));
                    fields.push(("portal_prices", list(filled(100), 0, 20)));
                    fields
                },
                &[],
            ),
        ),
        (
            "CreatePrice",
            with(body(&create_price, &["amount", "currency"]), {
                let mut rules = price_rules();
                rules.push(exactly_one(&["product", "product_id"]));
                rules
            }),
        ),
        (
            "UpdatePrice",
            body(
                &[
                    ("active", boolean()),
                    ("nickname", text(200)),
                    ("metadata", metadata()),
                ],
                &[],
            ),
        ),
        (
            "CreatePromotionCode",
            with(
                body(
                    &[
                        ("code", matching(64, "^[A-Za-z0-9_-]+$")),
                        ("percent_off", integer(1, 100)),
                        ("amount_off", integer(1, MAX_MINOR_UNITS)),
                        ("currency", currency()),
                        ("max_redemptions", integer(1, 1_000_000_000)),
                        ("expires_at", described(time(), "In the future.")),
                        ("products", list(filled(100), 0, 100)),
                        ("active", boolean()),
                        ("metadata", metadata()),
                    ],
                    &["code"],
                ),
                vec![
                    exactly_one(&["percent_off", "amount_off"]),
                    when("amount_off", present("currency")),
                    when("currency", present("amount_off")),
                ],
            ),
        ),
        (
            "UpdatePromotionCode",
            body(
                &[
                    ("active", boolean()),
                    ("max_redemptions", integer(1, 1_000_000_000)),
                    ("expires_at", described(time(), "In the future.")),
                    ("metadata", metadata()),
                ],
                &[],
            ),
        ),
        (
            "CreatePaymentLink",
            with(
                body(&create_link, &[]),
                vec![
                    exactly_one(&["product_id", "product_slug", "line_items", "amount"]),
                    when(
                        "amount",
                        json!({ "anyOf": [present("currency"), present("currency_id")] }),
                    ),
                    when(
                        "amount",
                        json!({ "anyOf": [present("title"), present("name")] }),
                    ),
                    at_most_one(&["currency", "currency_id"]),
                    at_most_one(&["success_url", "after_completion"]),
                ],
            ),
        ),
        (
            "UpdatePaymentLink",
            with(
                body(&link_settings(), &[]),
                vec![at_most_one(&["success_url", "after_completion"])],
            ),
        ),
        (
            "CreateCheckoutSession",
            with(
                body(
                    &[
                        ("product_id", filled(100)),
                        ("product_slug", matching(64, SLUG)),
                        ("price_id", filled(100)),
                        ("line_items", line_items()),
                        ("mode", words(&CheckoutMode::ALL.map(CheckoutMode::as_str))),
                        ("success_url", redirect_url()),
                        ("cancel_url", redirect_url()),
                        ("customer_email", email()),
                        ("customer_name", text(200)),
                        ("metadata", metadata()),
                        ("promotion_code", matching(64, "^[A-Za-z0-9_-]+$")),
                        ("locale", json!({ "type": "string", "enum": LOCALES })),
                        ("client_reference_id", text(200)),
                        (
                            "expires_at",
                            described(time(), "From 30 minutes to 24 hours from now."),
                        ),
                        ("allow_promotion_codes", boolean()),
                    ],
                    &[],
                ),
                vec![
                    exactly_one(&["product_id", "product_slug", "price_id", "line_items"]),
                    // A SETUP session charges nothing, so it takes no promotion code.
                    json!({
                        "if": { "required": ["mode"], "properties": { "mode": words(&["SETUP"]) } },
                        "then": { "not": present("promotion_code") },
                    }),
                ],
            ),
        ),
        ("CreateCustomer", body(&create_customer, &[])),
        ("UpdateCustomer", body(&customer, &[])),
        (
            "CreatePaymentMethod",
            with(
                body(
                    &[
                        ("customer_id", filled(64)),
                        ("card", card),
                        (
                            "payment_method",
                            described(
                                matching(100, "^pm_[A-Za-z0-9_]+$"),
                                "With Stripe connected: the id of a PaymentMethod Stripe's own fields made (never a card number).",
                            ),
                        ),
                    ],
                    &["customer_id"],
                ),
                vec![exactly_one(&["card", "payment_method"])],
            ),
        ),
        (
            "CreateSubscription",
            with(
                body(&create_subscription, &["customer_id"]),
                vec![
                    exactly_one(&["products", "items"]),
                    at_most_one(&["token_id", "payment_method", "payment_method_id"]),
                ],
            ),
        ),
        (
            "UpdateSubscription",
            with(
                body(&update_subscription, &[]),
                vec![
                    at_most_one(&["quantity", "products", "items"]),
                    at_most_one(&["token_id", "payment_method", "payment_method_id"]),
                ],
            ),
        ),
        (
            "CancelSubscription",
            body(&[("at_period_end", boolean())], &[]),
        ),
        (
            "RetrySubscription",
            body(&[("subscription_order_id", text(120))], &[]),
        ),
        (
            "CreateLoginLink",
            body(
                &[
                    ("account_id", matching(64, "^acct_[A-Za-z0-9]+$")),
                    ("environment", words(&["test", "live"])),
                ],
                &[],
            ),
        ),
        (
            "CreatePortalSession",
            with(
                body(
                    &[
                        ("customer_id", filled(64)),
                        ("external_id", filled(64)),
                        ("email", email()),
                        ("return_url", redirect_url()),
                        ("locale", words(LOCALES)),
                        ("configuration_id", filled(100)),
                        (
                            "flow",
                            words(&crate::portal::Flow::ALL.map(crate::portal::Flow::as_str)),
                        ),
                        ("subscription_id", matching(64, "^sub_[A-Za-z0-9]+$")),
                    ],
                    &[],
                ),
                vec![
                    json!({ "anyOf": [present("customer_id"), present("external_id"), present("email")] }),
                    // `cancel` and `switch_plan` are about one subscription.
                    json!({
                        "if": { "required": ["flow"], "properties": { "flow": words(&["cancel", "switch_plan"]) } },
                        "then": present("subscription_id"),
                    }),
                ],
            ),
        ),
        (
            "SignIn",
            body(
                &[("secret_key", matching(200, "^sk_(test|live)_[A-Za-z0-9]+$"))],
                &["secret_key"],
            ),
        ),
        (
            "CreateRefund",
            with(
                body(
                    &[
                        ("payment_id", filled(64)),
                        ("billing_order_id", filled(100)),
                        ("amount", integer(1, MAX_MINOR_UNITS)),
                        ("reason", words(crate::refunds::REASONS)),
                        ("metadata", metadata()),
                    ],
                    &[],
                ),
                vec![exactly_one(&["payment_id", "billing_order_id"])],
            ),
        ),
        (
            "CreateTestClock",
            body(
                &[("frozen_time", time()), ("name", text(200))],
                &["frozen_time"],
            ),
        ),
        (
            "AdvanceTestClock",
            body(&[("frozen_time", time())], &["frozen_time"]),
        ),
        (
            "CreateWebhookEndpoint",
            body(
                &[
                    ("url", endpoint_url()),
                    ("enabled_events", event_types.clone()),
                    ("description", text(500)),
                ],
                &["url"],
            ),
        ),
        (
            "UpdateWebhookEndpoint",
            with(
                body(
                    &[
                        ("url", endpoint_url()),
                        ("enabled_events", event_types),
                        ("description", text(500)),
                        ("status", words(&["enabled", "disabled"])),
                        ("enabled", boolean()),
                    ],
                    &[],
                ),
                vec![at_most_one(&["status", "enabled"])],
            ),
        ),
        (
            "ReplayEvent",
            body(&[("endpoint_id", filled(100))], &["endpoint_id"]),
        ),
        (
            "ReplayEvents",
            body(
                &[("created_gte", time()), ("created_lte", time())],
                &["created_gte", "created_lte"],
            ),
        ),
        (
            "OmiseCreateLink",
            body(
                &[
                    ("amount", integer(1, MAX_MINOR_UNITS)),
                    ("currency", currency()),
                    ("title", filled(200)),
                    ("description", filled(5000)),
                    ("multiple", boolean()),
                ],
                &["amount", "currency", "title", "description"],
            ),
        ),
    ]
}
