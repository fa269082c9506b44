//! The OpenAPI 3.1 document of Till's API, built from [`crate::routes::ROUTES`] and the
//! object schemas below. The tests check that every route is documented, that every
//! schema a route names exists, and (black-box, against the Worker) that each object the
//! API returns has exactly the documented properties.

use serde_json::{Map, Value, json};

use crate::routes::{Access, ROUTES};

mod requests;

/// A property's type in the compact notation below: `string`, `integer`, `boolean`,
/// `object`, `array`; a trailing `?` makes it nullable.
fn property(kind: &str) -> Value {
    let (kind, nullable) = kind.strip_suffix('?').map_or((kind, false), |k| (k, true));
    if nullable {
        json!({ "type": [kind, "null"] })
    } else {
        json!({ "type": kind })
    }
}

fn object(properties: &[(&str, &str)]) -> Value {
    let props: Map<String, Value> = properties
        .iter()
        .map(|(name, kind)| ((*name).to_owned(), property(kind)))
        .collect();
    json!({ "type": "object", "properties": props })
}

fn list_of(item: &str, page_mode: bool) -> Value {
    let mut schema = object(&[
        ("object", "string"),
        ("data", "array"),
        ("has_more", "boolean"),
    ]);
    schema["properties"]["data"]["items"] =
        json!({ "$ref": format!("#/components/schemas/{item}") });
    if page_mode {
        for (name, kind) in [
            ("count", "integer"),
            ("page", "integer"),
            ("page_size", "integer"),
            ("list", "array"),
        ] {
            schema["properties"][name] = property(kind);
        }
    }
    schema
}

/// `allowed_redirect_hosts` (`crate::hosts`), in a request (where `null` clears it) or an
/// account.
fn allowed_redirect_hosts(request: bool) -> Value {
    let mut schema = json!({
        "type": if request { json!(["array", "null"]) } else { json!("array") },
        "maxItems": crate::hosts::MAX_ALLOWED_HOSTS,
        "items": {
            "type": "string",
            "maxLength": crate::hosts::MAX_ENTRY_CHARS,
            "pattern": format!("^{}$", crate::hosts::ENTRY_PATTERN),
        },
        "description": "The hosts of your own sites in this key's environment (SANDBOX or PRODUCTION): \
            `shop.example`, `shop.example:8443`, `*.shop.example` (its subdomains), `127.0.0.1:8787`, \
            `[::1]:3000`; no scheme, path or query; internationalized names in punycode (`xn--…`). Without a port an entry means 443 (and 80 for plain http). \
            With a publishable key, success_url and cancel_url must be https URLs on one of them \
            (in SANDBOX also http to a listed localhost, 127.0.0.1 or [::1]), else 403 naming the field; \
            a secret key sets any. Checkout pages with embedded=1 may be framed only by pages on \
            them, and send messages only to an origin=… on them. A new account allows none.",
    });
    if request {
        schema["description"] = json!(format!(
            "{} The list replaces the previous one; null or [] clears it.",
            schema["description"].as_str().unwrap_or_default()
        ));
    }
    schema
}

/// Properties of every object the API returns, and of every request body.
pub fn schemas() -> Map<String, Value> {
    let mut s = Map::new();
    let mut add = |name: &str, schema: Value| {
        s.insert(name.to_owned(), schema);
    };
    add("Error", object(&[("error", "object")]));
    add(
        "Health",
        object(&[
            ("status", "string"),
            ("version", "string"),
            ("writes", "boolean"),
            ("d1", "object"),
            ("kv", "object"),
        ]),
    );
    add(
        "OpenApiDocument",
        object(&[
            ("openapi", "string"),
            ("info", "object"),
            ("servers", "array"),
            ("paths", "object"),
            ("components", "object"),
        ]),
    );
    add(
        "CreatedAccount",
        object(&[
            ("id", "string"),
            ("object", "string"),
            ("name", "string"),
            ("created_at", "string"),
            ("keys", "object"),
        ]),
    );
    let mut account = object(&[
        ("id", "string"),
        ("object", "string"),
        ("name", "string"),
        ("environment", "string"),
        ("key_kind", "string"),
        ("subscription_retry_schedule", "array"),
        ("subscription_final_state", "string"),
        ("allowed_redirect_hosts", "array"),
    ]);
    account["properties"]["allowed_redirect_hosts"] = allowed_redirect_hosts(false);
    // The environment's connected processor, never its secrets; null when none.
    let mut processor = object(&[
        ("kind", "string"),
        ("publishable_key", "string"),
        ("secret_key_last4", "string"),
        ("webhook_secret_set", "boolean"),
        ("connected_at", "string"),
        ("updated_at", "string"),
    ]);
    processor["type"] = json!(["object", "null"]);
    account["properties"]["processor"] = processor;
    account["properties"]["branding"] = object(&[
        ("display_name", "string?"),
        ("logo_url", "string?"),
        ("accent_color", "string?"),
    ]);
    account["properties"]["publishable_key"] = json!({ "type": ["string", "null"] });
    add("Account", account);
    add(
        "DashboardLoginLink",
        object(&[
            ("object", "string"),
            ("url", "string"),
            ("environment", "string"),
            ("expires_at", "string"),
        ]),
    );
    add(
        "PortalSession",
        object(&[
            ("id", "string"),
            ("object", "string"),
            ("url", "string"),
            ("customer_id", "string"),
            ("return_url", "string?"),
            ("locale", "string"),
            ("configuration_id", "string?"),
            ("flow", "object?"),
            ("status", "string"),
            ("expires_at", "string"),
            ("accessed_at", "string?"),
            ("created_at", "string"),
            ("livemode", "boolean"),
            ("customerId", "string"),
            ("returnUrl", "string?"),
            ("expiresAt", "string"),
            ("accessedAt", "string?"),
            ("createdAt", "string"),
        ]),
    );
    let mut entitlements = object(&[("entitlements", "array"), ("subscription", "object?")]);
    entitlements["properties"]["entitlements"]["items"] = object(&[
        ("product", "string"),
        ("product_id", "string"),
        ("status", "string"),
        ("subscription_id", "string"),
    ]);
    entitlements["properties"]["entitlements"]["items"]["properties"]["status"]["enum"] =
        json!(["active", "trialing", "past_due", "canceled"]);
    add("Entitlements", entitlements);
    let funnel = || {
        let mut step = object(&[
            ("views", "integer"),
            ("sessions", "integer"),
            ("paid", "integer"),
            ("revenue", "array"),
        ]);
        step["properties"]["conversion"] = json!({ "type": ["number", "null"] });
        step
    };
    let mut stats = object(&[
        ("object", "string"),
        ("from", "string"),
        ("to", "string"),
        ("group_by", "string"),
        ("totals", "object"),
        ("data", "array"),
    ]);
    stats["properties"]["payment_link"] = json!({ "type": ["string", "null"] });
    stats["properties"]["totals"] = funnel();
    stats["properties"]["data"]["items"] = funnel();
    add("Stats", stats);
    add(
        "QrCode",
        json!({ "type": "string", "description": "An SVG document." }),
    );
    add(
        "DashboardSession",
        object(&[
            ("object", "string"),
            ("account", "object"),
            ("environment", "string"),
            ("livemode", "boolean"),
            ("csrf_token", "string"),
            ("expires_at", "string"),
        ]),
    );
    add(
        "SignedOut",
        object(&[("object", "string"), ("signed_out", "boolean")]),
    );
    add(
        "RolledKey",
        object(&[
            ("object", "string"),
            ("environment", "string"),
            ("kind", "string"),
            ("secret_key", "string"),
        ]),
    );

    add(
        "Product",
        object(&[
            ("id", "string"),
            ("object", "string"),
            ("name", "string"),
            ("slug", "string"),
            ("description", "string?"),
            ("images", "array"),
            ("metadata", "object?"),
            ("active", "boolean"),
            ("default_price", "object?"),
            ("portal_prices", "array?"),
            ("price", "integer?"),
            ("currency", "string?"),
            ("type", "string"),
            ("livemode", "boolean"),
            ("environment", "string"),
            ("created_at", "string"),
            ("updated_at", "string"),
        ]),
    );
    add("ProductList", list_of("Product", true));

    add(
        "Price",
        object(&[
            ("id", "string"),
            ("object", "string"),
            ("product", "string"),
            ("product_id", "string"),
            ("active", "boolean"),
            ("amount", "integer"),
            ("currency", "string"),
            ("type", "string"),
            ("recurring", "object?"),
            ("nickname", "string?"),
            ("metadata", "object?"),
            ("livemode", "boolean"),
            ("created_at", "string"),
        ]),
    );
    add("PriceList", list_of("Price", true));

    add(
        "PromotionCode",
        object(&[
            ("id", "string"),
            ("object", "string"),
            ("code", "string"),
            ("percent_off", "integer?"),
            ("amount_off", "integer?"),
            ("currency", "string?"),
            ("max_redemptions", "integer?"),
            ("times_redeemed", "integer"),
            ("expires_at", "string?"),
            ("products", "array"),
            ("active", "boolean"),
            ("metadata", "object?"),
            ("livemode", "boolean"),
            ("created_at", "string"),
        ]),
    );
    add("PromotionCodeList", list_of("PromotionCode", true));

    let link_settings: &[(&str, &str)] = &[
        ("name", "string?"),
        ("title", "string?"),
        ("description", "string?"),
        ("multiple", "boolean"),
        ("promotion_code", "string?"),
        ("allow_promotion_codes", "boolean"),
        ("collect_payment_method", "string"),
        ("success_url", "string?"),
        ("after_completion", "object?"),
        ("custom_fields", "array"),
        ("billing_address_collection", "string"),
        ("customer_creation", "string"),
        ("submit_type", "string"),
        ("max_completions", "integer?"),
        ("metadata", "object?"),
        ("active", "boolean"),
    ];
    let mut link = link_settings.to_vec();
    link.extend([
        ("id", "string"),
        ("object", "string"),
        ("url", "string"),
        ("url_id", "string"),
        ("payment_uri", "string"),
        ("deleted", "boolean"),
        ("livemode", "boolean"),
        ("environment", "string"),
        ("product_id", "string?"),
        ("product", "object?"),
        ("line_items", "array"),
        ("amount", "integer?"),
        ("currency", "string?"),
        ("currency_id", "string?"),
        ("used", "boolean"),
        ("charges", "object"),
        ("view_count", "integer"),
        ("session_count", "integer"),
        ("completed_count", "integer"),
        ("created_via", "string"),
        ("created_at", "string"),
        ("updated_at", "string"),
    ]);
    add("PaymentLink", object(&link));
    add("PaymentLinkList", list_of("PaymentLink", true));
    add(
        "DeletedPaymentLink",
        object(&[
            ("id", "string"),
            ("object", "string"),
            ("deleted", "boolean"),
        ]),
    );

    add(
        "CheckoutSession",
        object(&[
            ("id", "string"),
            ("object", "string"),
            ("url", "string"),
            ("status", "string"),
            ("payment_status", "string"),
            ("mode", "string"),
            ("currency", "string"),
            ("amount_subtotal", "integer"),
            ("amount_discount", "integer"),
            ("amount_total", "integer"),
            ("line_items", "array"),
            ("payment_link", "string?"),
            ("promotion_code", "string?"),
            ("success_url", "string?"),
            ("cancel_url", "string?"),
            ("customer_email", "string?"),
            ("customer_name", "string?"),
            ("customer", "string?"),
            ("customer_details", "object"),
            ("client_reference_id", "string?"),
            ("allow_promotion_codes", "boolean"),
            ("locale", "string?"),
            ("metadata", "object?"),
            ("order_id", "string?"),
            ("subscription_id", "string?"),
            ("setup_intent_id", "string?"),
            ("orderId", "string?"),
            ("subscriptionId", "string?"),
            ("livemode", "boolean"),
            ("environment", "string"),
            ("expires_at", "string"),
            ("created_at", "string"),
            ("completed_at", "string?"),
        ]),
    );
    add("CheckoutSessionList", list_of("CheckoutSession", true));

    let event = [
        ("id", "string"),
        ("object", "string"),
        ("type", "string"),
        ("created", "string"),
        ("livemode", "boolean"),
        ("account", "string"),
        ("data", "object"),
    ];
    add("Event", object(&event));
    add("EventList", list_of("Event", true));
    let mut detailed = event.to_vec();
    detailed.push(("deliveries", "array"));
    add("EventWithDeliveries", object(&detailed));

    let customer_fields = [
        ("customer_id", "string"),
        ("name", "string?"),
        ("phone", "string?"),
        ("email", "string?"),
        ("billing_address", "object?"),
        ("metadata", "object?"),
    ];
    let mut customer = vec![("id", "string"), ("object", "string")];
    customer.extend(customer_fields);
    customer.extend([
        ("test_clock", "string?"),
        ("livemode", "boolean"),
        ("created_at", "string"),
        ("updated_at", "string"),
    ]);
    add("Customer", object(&customer));
    add("CustomerList", list_of("Customer", true));
    add(
        "DeletedCustomer",
        object(&[
            ("id", "string"),
            ("object", "string"),
            ("customer_id", "string"),
            ("deleted", "boolean"),
        ]),
    );

    add(
        "PaymentMethod",
        object(&[
            ("id", "string"),
            ("object", "string"),
            ("type", "string"),
            ("customer_id", "string"),
            ("card", "object"),
            ("checkout_session_id", "string?"),
            ("detached", "boolean"),
            ("livemode", "boolean"),
            ("created_at", "string"),
        ]),
    );
    add("PaymentMethodList", list_of("PaymentMethod", true));

    add(
        "Subscription",
        object(&[
            ("id", "string"),
            ("object", "string"),
            ("subscription_id", "string"),
            ("customer_id", "string"),
            ("payment_method", "string?"),
            ("token_id", "string?"),
            ("items", "array"),
            ("products", "array"),
            ("currency", "string"),
            ("amount", "integer"),
            ("interval", "string"),
            ("interval_count", "integer"),
            ("total_billing_cycles", "integer?"),
            ("state", "string"),
            ("status", "string"),
            ("start_time", "string"),
            ("trial_end", "string?"),
            ("next_billing_time", "string?"),
            ("last_billing_time", "string?"),
            ("completed_billing_iteration", "integer"),
            ("current_period_start", "string?"),
            ("current_period_end", "string?"),
            ("next_retry_time", "string?"),
            ("cancel_at_period_end", "boolean"),
            ("canceled_at", "string?"),
            ("ended_at", "string?"),
            ("test_clock", "string?"),
            ("checkout_session_id", "string?"),
            ("metadata", "object?"),
            ("livemode", "boolean"),
            ("created_at", "string"),
            ("updated_at", "string"),
        ]),
    );
    add("SubscriptionList", list_of("Subscription", true));
    add(
        "BillingOrder",
        object(&[
            ("id", "string"),
            ("object", "string"),
            ("subscription_order_id", "string"),
            ("subscription_id", "string"),
            ("trigger_by", "string"),
            ("sequence_no", "integer"),
            ("amount", "integer"),
            ("currency", "string"),
            ("status", "string"),
            ("billing_time", "string"),
            ("period_start", "string"),
            ("period_end", "string"),
            ("attempts", "integer"),
            ("failure_code", "string?"),
            ("paid_at", "string?"),
            ("livemode", "boolean"),
            ("created_at", "string"),
        ]),
    );
    add("BillingOrderList", list_of("BillingOrder", true));

    add(
        "Order",
        object(&[
            ("id", "string"),
            ("object", "string"),
            ("status", "string"),
            ("checkout_session_id", "string"),
            ("payment_link", "string?"),
            ("line_items", "array"),
            ("currency", "string"),
            ("amount_subtotal", "integer"),
            ("amount_discount", "integer"),
            ("amount_total", "integer"),
            ("amount_refunded", "integer"),
            ("discount", "object?"),
            ("promotion_code", "string?"),
            ("customer_id", "string?"),
            ("customer_email", "string"),
            ("customer_name", "string?"),
            ("customer_details", "object"),
            ("custom_fields", "object"),
            ("billing_address", "object?"),
            ("client_reference_id", "string?"),
            ("utm", "object?"),
            ("metadata", "object?"),
            ("subscription_id", "string?"),
            ("payment_id", "string?"),
            ("payment_status", "string?"),
            ("livemode", "boolean"),
            ("environment", "string"),
            ("created_at", "string"),
        ]),
    );
    add("OrderList", list_of("Order", true));
    add(
        "Payment",
        object(&[
            ("id", "string"),
            ("object", "string"),
            ("status", "string"),
            ("amount", "integer"),
            ("amount_refunded", "integer"),
            ("refunded", "boolean"),
            ("currency", "string"),
            ("disputed", "boolean"),
            ("card", "object"),
            ("processor", "string"),
            ("processor_reference", "string"),
            ("order_id", "string?"),
            ("billing_order_id", "string?"),
            ("checkout_session_id", "string?"),
            ("payment_link", "string?"),
            ("subscription_id", "string?"),
            ("customer_id", "string?"),
            ("receipt_url", "string"),
            ("livemode", "boolean"),
            ("environment", "string"),
            ("created_at", "string"),
            ("updated_at", "string"),
        ]),
    );
    add("PaymentList", list_of("Payment", true));
    add(
        "Refund",
        object(&[
            ("id", "string"),
            ("object", "string"),
            ("payment_id", "string"),
            ("amount", "integer"),
            ("currency", "string"),
            ("status", "string"),
            ("reason", "string?"),
            ("failure_reason", "string?"),
            ("metadata", "object?"),
            ("processor_reference", "string?"),
            ("source", "string"),
            ("livemode", "boolean"),
            ("created_at", "string"),
            ("updated_at", "string"),
        ]),
    );
    add("RefundList", list_of("Refund", true));

    add(
        "TestClock",
        object(&[
            ("id", "string"),
            ("object", "string"),
            ("name", "string?"),
            ("frozen_time", "string"),
            ("status", "string"),
            ("livemode", "boolean"),
            ("created_at", "string"),
        ]),
    );
    add("TestClockList", list_of("TestClock", true));
    add(
        "DeletedTestClock",
        object(&[
            ("id", "string"),
            ("object", "string"),
            ("deleted", "boolean"),
        ]),
    );
    add(
        "WebhookEndpoint",
        object(&[
            ("id", "string"),
            ("object", "string"),
            ("url", "string"),
            ("description", "string?"),
            ("enabled_events", "array"),
            ("status", "string"),
            ("livemode", "boolean"),
            ("created_at", "string"),
            ("secret", "string"),
        ]),
    );
    add("WebhookEndpointList", list_of("WebhookEndpoint", true));
    add(
        "DeletedWebhookEndpoint",
        object(&[
            ("id", "string"),
            ("object", "string"),
            ("deleted", "boolean"),
        ]),
    );
    add(
        "WebhookDelivery",
        object(&[
            ("id", "string"),
            ("object", "string"),
            ("event_id", "string"),
            ("event_type", "string?"),
            ("status", "string"),
            ("attempt_count", "integer"),
            ("next_attempt_at", "string?"),
            ("created_at", "string"),
            ("attempts", "array"),
        ]),
    );
    add("WebhookDeliveryList", list_of("WebhookDelivery", true));
    add(
        "Replay",
        object(&[
            ("object", "string"),
            ("endpoint_id", "string"),
            ("queued", "integer"),
        ]),
    );
    add(
        "OmiseLink",
        object(&[
            ("object", "string"),
            ("id", "string"),
            ("livemode", "boolean"),
            ("location", "string"),
            ("amount", "integer"),
            ("currency", "string"),
            ("used", "boolean"),
            ("multiple", "boolean"),
            ("title", "string?"),
            ("description", "string?"),
            ("charges", "object"),
            ("payment_uri", "string"),
            ("deleted", "boolean"),
            ("created", "string"),
        ]),
    );
    let mut omise_list = object(&[
        ("object", "string"),
        ("from", "string"),
        ("to", "string"),
        ("offset", "integer"),
        ("limit", "integer"),
        ("total", "integer"),
        ("order", "string"),
        ("location", "string"),
        ("data", "array"),
    ]);
    omise_list["properties"]["data"]["items"] = json!({ "$ref": "#/components/schemas/OmiseLink" });
    add("OmiseLinkList", omise_list);
    add(
        "OmiseError",
        object(&[
            ("object", "string"),
            ("location", "string"),
            ("code", "string"),
            ("message", "string"),
        ]),
    );
    for (name, schema) in requests::requests() {
        s.insert(name.to_owned(), schema);
    }
    s
}

fn security(access: Access) -> Value {
    match access {
        Access::Public => json!([]),
        Access::Operator => json!([{ "operatorToken": [] }]),
        Access::Secret | Access::AnyKey => json!([{ "apiKey": [] }]),
        Access::SecretOrOperator => json!([{ "apiKey": [] }, { "operatorToken": [] }]),
        Access::BasicSecret => json!([{ "basicSecretKey": [] }, { "apiKey": [] }]),
    }
}

/// The whole document, with `server` as its base URL.
pub fn document(server: &str) -> Value {
    let schemas = schemas();
    let mut paths = Map::new();
    for route in ROUTES {
        let error = if route.access == Access::BasicSecret {
            "OmiseError"
        } else {
            "Error"
        };
        let media = if route.response == "QrCode" {
            "image/svg+xml"
        } else {
            "application/json"
        };
        let mut operation = json!({
            "operationId": format!("{:?}", route.operation),
            "summary": route.summary,
            "security": security(route.access),
            "responses": {
                "2XX": { "description": "Success", "content": { media: { "schema": { "$ref": format!("#/components/schemas/{}", route.response) } } } },
                "4XX": { "description": "The request was refused", "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{error}") } } } },
            },
        });
        if route.path.contains("{id}") {
            operation["parameters"] = json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }]);
        }
        if route.operation == crate::routes::Operation::Entitlements {
            let named = |name: &str, max: u32| {
                json!({ "name": name, "in": "query", "required": false,
                "description": "One of customer_id, external_id and email names the customer (without one: 400).",
                "schema": { "type": "string", "minLength": 1, "maxLength": max } })
            };
            operation["parameters"] = json!([
                named("customer_id", 64),
                named("external_id", 64),
                named("email", 254)
            ]);
        }
        if let Some(request) = route.request {
            let schema = json!({ "$ref": format!("#/components/schemas/{request}") });
            // A body with a required field (or one of several) cannot be left out.
            let schema_of = &schemas[request];
            let needed = schema_of["required"].is_array()
                || schema_of["allOf"].as_array().is_some_and(|rules| {
                    rules
                        .iter()
                        .any(|rule| rule.get("oneOf").is_some() || rule.get("anyOf").is_some())
                });
            // Form bodies are described in the document's description rather than as a
            // second media type: OpenAPI's form encodings cannot say `line_items[0][price]`.
            operation["requestBody"] = json!({ "required": needed, "content": {
                "application/json": { "schema": schema },
            }});
        }
        let entry = paths.entry(route.path).or_insert_with(|| json!({}));
        entry[route.method.to_ascii_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Till API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Payment links, hosted checkout and subscriptions. Request fields are accepted in camelCase and snake_case; responses are snake_case. \
                Every request body documented as application/json is also accepted as application/x-www-form-urlencoded in the bracket notation Stripe's clients send \
                (`metadata[order]=42`, `line_items[0][price]=price_…`, `line_items[0][quantity]=2`, at most 5 levels deep): the same fields, the same limits.",
        },
        "servers": [{ "url": server }],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": { "type": "http", "scheme": "bearer", "description": "sk_test_…/sk_live_… or pk_test_…/pk_live_…" },
                "basicSecretKey": { "type": "http", "scheme": "basic", "description": "The secret key as user name, empty password (Omise dialect)." },
                "operatorToken": { "type": "http", "scheme": "bearer", "description": "The Worker's OPERATOR_TOKEN." },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    if key == "$ref" {
                        out.push(
                            v.as_str()
                                .unwrap_or_default()
                                .trim_start_matches("#/components/schemas/")
                                .to_owned(),
                        );
                    }
                    refs(v, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_route_is_documented_with_its_method() {
        let doc = document("http://127.0.0.1:8787");
        for route in ROUTES {
            let operation = &doc["paths"][route.path][route.method.to_ascii_lowercase()];
            assert!(
                operation.is_object(),
                "{} {} is missing",
                route.method,
                route.path
            );
            assert_eq!(operation["summary"], route.summary);
        }
        let documented: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum();
        assert_eq!(
            documented,
            ROUTES.len(),
            "the document has operations no route serves"
        );
    }

    #[test]
    fn every_referenced_schema_exists_and_every_schema_is_used() {
        let doc = document("http://x");
        let mut referenced = Vec::new();
        refs(&doc, &mut referenced);
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in &referenced {
            assert!(schemas.contains_key(name), "missing schema {name}");
        }
        for name in schemas.keys() {
            assert!(referenced.contains(name), "schema {name} is never used");
        }
    }
}
