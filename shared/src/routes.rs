//! Every API route, as data: the Worker's router dispatches from this table and the
//! OpenAPI document is built from it, so the two cannot disagree.

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// The operator token (`OPERATOR_TOKEN`).
    Operator,
    /// A secret key.
    Secret,
    /// A secret or a publishable key.
    AnyKey,
    /// A secret key, or the operator token acting for an account named in the body.
    SecretOrOperator,
    /// A secret key as the HTTP Basic user name (the Omise dialect).
    BasicSecret,
}

/// What a route does; the router has one handler per operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Health,
    OpenApi,
    CreateAccount,
    GetAccount,
    RollSecretKey,
    CreateLoginLink,
    SignIn,
    GetDashboardSession,
    SignOut,
    CreateProduct,
    ListProducts,
    GetProduct,
    UpdateProduct,
    ArchiveProduct,
    CreatePrice,
    ListPrices,
    GetPrice,
    UpdatePrice,
    CreatePromotionCode,
    ListPromotionCodes,
    GetPromotionCode,
    UpdatePromotionCode,
    DeactivatePromotionCode,
    CreatePaymentLink,
    ListPaymentLinks,
    GetPaymentLink,
    UpdatePaymentLink,
    DeletePaymentLink,
    ArchivePaymentLink,
    PaymentLinkQr,
    PaymentLinkStats,
    Stats,
    CreateCheckoutSession,
    ListCheckoutSessions,
    GetCheckoutSession,
    ExpireCheckoutSession,
    UpdateAccount,
    CreateCustomer,
    ListCustomers,
    GetCustomer,
    UpdateCustomer,
    DeleteCustomer,
    CreatePaymentMethod,
    ListPaymentMethods,
    GetPaymentMethod,
    DetachPaymentMethod,
    CreateSubscription,
    ListSubscriptions,
    GetSubscription,
    UpdateSubscription,
    CancelSubscription,
    RetrySubscription,
    ListBillingOrders,
    CreateTestClock,
    ListTestClocks,
    GetTestClock,
    DeleteTestClock,
    AdvanceTestClock,
    ListOrders,
    GetOrder,
    ListPayments,
    GetPayment,
    CreateRefund,
    ListRefunds,
    GetRefund,
    ListEvents,
    GetEvent,
    CreateWebhookEndpoint,
    ListWebhookEndpoints,
    GetWebhookEndpoint,
    UpdateWebhookEndpoint,
    DeleteWebhookEndpoint,
    RollWebhookSecret,
    ListWebhookDeliveries,
    ReplayEvent,
    ReplayEvents,
    CreatePortalSession,
    Entitlements,
    OmiseCreateLink,
    OmiseListLinks,
    OmiseGetLink,
    OmiseDestroyLink,
}

/// One route: method, path template (`{id}` is the only parameter), operation, access,
/// and what the OpenAPI document says of it.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub operation: Operation,
    pub access: Access,
    pub summary: &'static str,
    /// Component schema of the JSON body, if any.
    pub request: Option<&'static str>,
    /// Component schema of a successful response.
    pub response: &'static str,
}

macro_rules! routes {
    ($($method:literal $path:literal => $op:ident, $access:ident, $req:expr, $resp:literal, $summary:literal;)+) => {
        pub const ROUTES: &[Route] = &[$(Route {
            method: $method,
            path: $path,
            operation: Operation::$op,
            access: Access::$access,
            summary: $summary,
            request: $req,
            response: $resp,
        },)+];
    };
}

routes! {
    "GET" "/healthz" => Health, Public, None, "Health", "Version, and a read of D1 and KV; with the operator token, a write-then-read round trip through both.";
    "GET" "/v1/openapi.json" => OpenApi, Public, None, "OpenApiDocument", "This document.";

    "POST" "/v1/accounts" => CreateAccount, Operator, Some("CreateAccount"), "CreatedAccount", "Create a merchant account with test and live keys (shown once).";
    "GET" "/v1/account" => GetAccount, AnyKey, None, "Account", "The account and environment the calling key acts in.";
    "PATCH" "/v1/account" => UpdateAccount, Secret, Some("UpdateAccount"), "Account", "Set the subscription dunning settings (retry delays after a failed renewal, UNPAID or CANCELED after the last) and the environment's allowed redirect hosts.";
    "POST" "/v1/dashboard/login_links" => CreateLoginLink, SecretOrOperator, Some("CreateLoginLink"), "DashboardLoginLink", "A one-time dashboard sign-in URL (15 minutes) for the calling key's account and environment.";
    "POST" "/v1/dashboard/sessions" => SignIn, Public, Some("SignIn"), "DashboardSession", "Sign in to the dashboard with a secret key: answers the session (with its CSRF token) and sets its HttpOnly cookie.";
    "GET" "/v1/dashboard/session" => GetDashboardSession, Secret, None, "DashboardSession", "The signed-in dashboard's session (its cookie): account, environment, CSRF token.";
    "DELETE" "/v1/dashboard/session" => SignOut, Secret, None, "SignedOut", "Sign out: the session cookie stops working at once.";
    "POST" "/v1/account/roll_key" => RollSecretKey, Secret, None, "RolledKey", "Replace the calling secret key: a new one is returned and the old one stops working at once.";

    "POST" "/v1/products" => CreateProduct, Secret, Some("CreateProduct"), "Product", "Create a product with its default price (nested `price`, or the flat recurring form).";
    "GET" "/v1/products" => ListProducts, AnyKey, None, "ProductList", "List products (cursor or page pagination).";
    "GET" "/v1/products/{id}" => GetProduct, AnyKey, None, "Product", "Retrieve a product.";
    "PATCH" "/v1/products/{id}" => UpdateProduct, Secret, Some("UpdateProduct"), "Product", "Update a product.";
    "POST" "/v1/products/{id}" => UpdateProduct, Secret, Some("UpdateProduct"), "Product", "Update a product (POST form of PATCH).";
    "POST" "/v1/products/{id}/archive" => ArchiveProduct, Secret, None, "Product", "Archive a product (active = false).";
    "DELETE" "/v1/products/{id}" => ArchiveProduct, Secret, None, "Product", "Archive a product (products are never erased).";

    "POST" "/v1/prices" => CreatePrice, Secret, Some("CreatePrice"), "Price", "Add a price to a product.";
    "GET" "/v1/prices" => ListPrices, AnyKey, None, "PriceList", "List prices, optionally of one product.";
    "GET" "/v1/prices/{id}" => GetPrice, AnyKey, None, "Price", "Retrieve a price.";
    "PATCH" "/v1/prices/{id}" => UpdatePrice, Secret, Some("UpdatePrice"), "Price", "Update a price's active flag, nickname or metadata (amounts never change).";

    "POST" "/v1/promotion_codes" => CreatePromotionCode, Secret, Some("CreatePromotionCode"), "PromotionCode", "Create a promotion code.";
    "GET" "/v1/promotion_codes" => ListPromotionCodes, Secret, None, "PromotionCodeList", "List promotion codes.";
    "GET" "/v1/promotion_codes/{id}" => GetPromotionCode, Secret, None, "PromotionCode", "Retrieve a promotion code.";
    "PATCH" "/v1/promotion_codes/{id}" => UpdatePromotionCode, Secret, Some("UpdatePromotionCode"), "PromotionCode", "Update a promotion code.";
    "POST" "/v1/promotion_codes/{id}" => UpdatePromotionCode, Secret, Some("UpdatePromotionCode"), "PromotionCode", "Update a promotion code (POST form of PATCH).";
    "DELETE" "/v1/promotion_codes/{id}" => DeactivatePromotionCode, Secret, None, "PromotionCode", "Deactivate a promotion code.";

    "POST" "/v1/payment_links" => CreatePaymentLink, Secret, Some("CreatePaymentLink"), "PaymentLink", "Create a payment link: by product, by line items, or by amount.";
    "GET" "/v1/payment_links" => ListPaymentLinks, Secret, None, "PaymentLinkList", "List payment links (cursor, or page / page_size with a total count).";
    "GET" "/v1/payment_links/{id}" => GetPaymentLink, Secret, None, "PaymentLink", "Retrieve a payment link with its line items expanded.";
    "PATCH" "/v1/payment_links/{id}" => UpdatePaymentLink, Secret, Some("UpdatePaymentLink"), "PaymentLink", "Update a payment link.";
    "POST" "/v1/payment_links/{id}" => UpdatePaymentLink, Secret, Some("UpdatePaymentLink"), "PaymentLink", "Update a payment link (POST form of PATCH).";
    "DELETE" "/v1/payment_links/{id}" => DeletePaymentLink, Secret, None, "DeletedPaymentLink", "Deactivate and delete a payment link (soft delete).";
    "GET" "/v1/payment_links/{id}/qr.svg" => PaymentLinkQr, Secret, None, "QrCode", "The link's URL as a QR code (image/svg+xml), to print or show.";
    "GET" "/v1/payment_links/{id}/stats" => PaymentLinkStats, Secret, None, "Stats", "The link's funnel: views, checkout sessions, paid, conversion and revenue per currency (from, to as YYYY-MM-DD UTC days, default the last 30; group_by day or utm_source).";
    "POST" "/v1/payment_links/{id}/archive" => ArchivePaymentLink, Secret, None, "PaymentLink", "Archive a payment link (active = false).";
    "POST" "/v1/payment-links" => CreatePaymentLink, Secret, Some("CreatePaymentLink"), "PaymentLink", "Alias of /v1/payment_links, as the payment-links document spells it.";
    "GET" "/v1/payment-links" => ListPaymentLinks, Secret, None, "PaymentLinkList", "Alias of /v1/payment_links.";
    "GET" "/v1/payment-links/{id}" => GetPaymentLink, Secret, None, "PaymentLink", "Alias of /v1/payment_links/{id}.";
    "PATCH" "/v1/payment-links/{id}" => UpdatePaymentLink, Secret, Some("UpdatePaymentLink"), "PaymentLink", "Alias of /v1/payment_links/{id}.";
    "DELETE" "/v1/payment-links/{id}" => DeletePaymentLink, Secret, None, "DeletedPaymentLink", "Alias of /v1/payment_links/{id}.";

    "POST" "/v1/checkout/sessions" => CreateCheckoutSession, AnyKey, Some("CreateCheckoutSession"), "CheckoutSession", "Create a hosted checkout session (publishable keys may not send metadata).";
    "GET" "/v1/checkout/sessions" => ListCheckoutSessions, Secret, None, "CheckoutSessionList", "List checkout sessions.";
    "GET" "/v1/checkout/sessions/{id}" => GetCheckoutSession, Secret, None, "CheckoutSession", "Retrieve a checkout session.";
    "POST" "/v1/checkout/sessions/{id}/expire" => ExpireCheckoutSession, Secret, None, "CheckoutSession", "Expire an open checkout session.";

    "POST" "/v1/customers" => CreateCustomer, Secret, Some("CreateCustomer"), "Customer", "Create a customer, with your own customer_id or a generated one (optionally on a SANDBOX test clock).";
    "GET" "/v1/customers" => ListCustomers, Secret, None, "CustomerList", "Query customers by customer_id, name, phone or email (page / page_size, or cursor).";
    "GET" "/v1/customers/entitlements" => Entitlements, Secret, None, "Entitlements", "What a customer (customer_id, external_id or email) may use: one entry per product of a live or just-ended subscription, with its status.";
    "GET" "/v1/customers/{id}" => GetCustomer, Secret, None, "Customer", "Retrieve a customer by customer_id.";
    "PATCH" "/v1/customers/{id}" => UpdateCustomer, Secret, Some("UpdateCustomer"), "Customer", "Update name, phone, email, billing address or metadata.";
    "POST" "/v1/customers/{id}" => UpdateCustomer, Secret, Some("UpdateCustomer"), "Customer", "Update a customer (POST form of PATCH).";
    "DELETE" "/v1/customers/{id}" => DeleteCustomer, Secret, None, "DeletedCustomer", "Delete a customer; refused while it has a live subscription.";

    "POST" "/v1/portal/sessions" => CreatePortalSession, Secret, Some("CreatePortalSession"), "PortalSession", "A one-hour customer portal URL for one customer (customerId, externalId or email): subscriptions, card, billing history and details; flow deep-links to cancel, update_payment_method or switch_plan.";
    "POST" "/v1/portal_sessions" => CreatePortalSession, Secret, Some("CreatePortalSession"), "PortalSession", "Alias of /v1/portal/sessions.";

    "POST" "/v1/payment_methods" => CreatePaymentMethod, Secret, Some("CreatePaymentMethod"), "PaymentMethod", "SANDBOX only: save a test card for a customer without a browser (PRODUCTION refuses card numbers).";
    "GET" "/v1/payment_methods" => ListPaymentMethods, Secret, None, "PaymentMethodList", "Attached payment methods, of one customer with customer_id.";
    "GET" "/v1/payment_methods/{id}" => GetPaymentMethod, Secret, None, "PaymentMethod", "Retrieve a payment method (brand, last4, expiry; never the number).";
    "POST" "/v1/payment_methods/{id}/detach" => DetachPaymentMethod, Secret, None, "PaymentMethod", "Detach a payment method; refused while a live subscription charges it.";
    "DELETE" "/v1/payment_methods/{id}" => DetachPaymentMethod, Secret, None, "PaymentMethod", "Detach a payment method (DELETE form).";

    "POST" "/v1/subscriptions" => CreateSubscription, Secret, Some("CreateSubscription"), "Subscription", "Subscribe a customer with a saved payment method: products or items, total_billing_cycles, start_time, trial_days.";
    "GET" "/v1/subscriptions" => ListSubscriptions, Secret, None, "SubscriptionList", "Query subscriptions by subscription_id, customer_id or state.";
    "GET" "/v1/subscriptions/{id}" => GetSubscription, Secret, None, "Subscription", "Retrieve a subscription with its next and last billing times.";
    "PATCH" "/v1/subscriptions/{id}" => UpdateSubscription, Secret, Some("UpdateSubscription"), "Subscription", "Update items, quantity, payment method, total cycles, start time or cancel_at_period_end.";
    "POST" "/v1/subscriptions/{id}" => UpdateSubscription, Secret, Some("UpdateSubscription"), "Subscription", "Update a subscription (POST form of PATCH).";
    "POST" "/v1/subscriptions/{id}/cancel" => CancelSubscription, Secret, Some("CancelSubscription"), "Subscription", "Cancel now, or at the end of the current period with at_period_end.";
    "DELETE" "/v1/subscriptions/{id}" => CancelSubscription, Secret, None, "Subscription", "Cancel a subscription now.";
    "POST" "/v1/subscriptions/{id}/retry" => RetrySubscription, Secret, Some("RetrySubscription"), "BillingOrder", "Charge the unpaid billing order again now (UNPAID, INCOMPLETE or PAST_DUE only).";
    "GET" "/v1/subscriptions/{id}/billing_orders" => ListBillingOrders, Secret, None, "BillingOrderList", "The subscription's billing orders (page / page_size, or cursor).";

    "POST" "/v1/test_clocks" => CreateTestClock, Secret, Some("CreateTestClock"), "TestClock", "SANDBOX: a clock frozen at frozen_time for customers created with test_clock.";
    "GET" "/v1/test_clocks" => ListTestClocks, Secret, None, "TestClockList", "List test clocks.";
    "GET" "/v1/test_clocks/{id}" => GetTestClock, Secret, None, "TestClock", "Retrieve a test clock.";
    "DELETE" "/v1/test_clocks/{id}" => DeleteTestClock, Secret, None, "DeletedTestClock", "Delete a test clock; its subscriptions end.";
    "POST" "/v1/test_clocks/{id}/advance" => AdvanceTestClock, Secret, Some("AdvanceTestClock"), "TestClock", "Move the clock forward; everything that became due is billed, in order, before it is READY.";

    "GET" "/v1/stats" => Stats, Secret, None, "Stats", "The environment's funnel over every link and checkout: views, sessions, paid, conversion and revenue per currency (from, to, group_by as for a link).";
    "GET" "/v1/orders" => ListOrders, Secret, None, "OrderList", "List orders, newest first (payment_link, checkout_session, customer_id, subscription_id, status, created_gte, created_lte; cursor or page paging).";
    "GET" "/v1/orders/{id}" => GetOrder, Secret, None, "Order", "Retrieve an order: line items, discount, totals, customer, custom-field answers, address, client_reference_id, utm and its payment.";
    "GET" "/v1/payments" => ListPayments, Secret, None, "PaymentList", "List payments (a checkout's or a renewal's), newest first, with the same filters as orders (status SUCCEEDED, PARTIALLY_REFUNDED, REFUNDED).";
    "GET" "/v1/payments/{id}" => GetPayment, Secret, None, "Payment", "Retrieve a payment: amount, amount_refunded, card brand / last4 / expiry, the processor's reference and the receipt URL.";
    "POST" "/v1/refunds" => CreateRefund, Secret, Some("CreateRefund"), "Refund", "Refund a payment (or a subscription's billing order) in full, or `amount` of it; several partial refunds may follow each other, never more than was paid.";
    "GET" "/v1/refunds" => ListRefunds, Secret, None, "RefundList", "List refunds, newest first (payment_id, status, created_gte, created_lte).";
    "GET" "/v1/refunds/{id}" => GetRefund, Secret, None, "Refund", "Retrieve a refund.";

    "GET" "/v1/events" => ListEvents, Secret, None, "EventList", "List events, newest first (type, created_gte, created_lte; cursor or page paging).";
    "GET" "/v1/events/{id}" => GetEvent, Secret, None, "EventWithDeliveries", "Retrieve an event (its data is the object as it was) with its webhook deliveries and every attempt.";

    "POST" "/v1/webhook_endpoints" => CreateWebhookEndpoint, Secret, Some("CreateWebhookEndpoint"), "WebhookEndpoint", "Create an endpoint; the answer carries its signing `secret` (shown only here and after a roll).";
    "GET" "/v1/webhook_endpoints" => ListWebhookEndpoints, Secret, None, "WebhookEndpointList", "List webhook endpoints.";
    "GET" "/v1/webhook_endpoints/{id}" => GetWebhookEndpoint, Secret, None, "WebhookEndpoint", "Retrieve a webhook endpoint.";
    "PATCH" "/v1/webhook_endpoints/{id}" => UpdateWebhookEndpoint, Secret, Some("UpdateWebhookEndpoint"), "WebhookEndpoint", "Update URL, events, description, or enable / disable.";
    "POST" "/v1/webhook_endpoints/{id}" => UpdateWebhookEndpoint, Secret, Some("UpdateWebhookEndpoint"), "WebhookEndpoint", "Update a webhook endpoint (POST form of PATCH).";
    "DELETE" "/v1/webhook_endpoints/{id}" => DeleteWebhookEndpoint, Secret, None, "DeletedWebhookEndpoint", "Delete a webhook endpoint.";
    "POST" "/v1/webhook_endpoints/{id}/roll_secret" => RollWebhookSecret, Secret, None, "WebhookEndpoint", "New signing secret; the old one keeps signing beside it for 24 h.";
    "POST" "/v1/events/{id}/replay" => ReplayEvent, Secret, Some("ReplayEvent"), "Replay", "Send one event to one endpoint again (fresh timestamp and signature).";
    "POST" "/v1/webhook_endpoints/{id}/replay" => ReplayEvents, Secret, Some("ReplayEvents"), "Replay", "Send every event of a time range that the endpoint subscribes to again.";
    "GET" "/v1/webhook_endpoints/{id}/deliveries" => ListWebhookDeliveries, Secret, None, "WebhookDeliveryList", "Deliveries to this endpoint with every attempt (time, status code, duration, error).";

    "POST" "/links" => OmiseCreateLink, BasicSecret, Some("OmiseCreateLink"), "OmiseLink", "Omise dialect: create an amount link (form or JSON body).";
    "GET" "/links" => OmiseListLinks, BasicSecret, None, "OmiseLinkList", "Omise dialect: list links (from, to, offset, limit, order).";
    "GET" "/links/{id}" => OmiseGetLink, BasicSecret, None, "OmiseLink", "Omise dialect: retrieve a link.";
    "DELETE" "/links/{id}" => OmiseDestroyLink, BasicSecret, None, "OmiseLink", "Omise dialect: destroy a link.";
}

/// A matched route and the `{id}` of its path, if the template has one.
pub type Matched = (&'static Route, Option<String>);

/// The route for a request. `None` when no route has this path; `Some(Err(allowed))` when
/// the path exists but not with this method.
pub fn resolve(method: &str, path: &str) -> Option<Result<Matched, Vec<&'static str>>> {
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    // A path spelled out in the table (`/v1/customers/entitlements`) is that route's alone,
    // not also an `{id}` of its neighbour (`/v1/customers/{id}`).
    let literal = ROUTES
        .iter()
        .any(|r| !r.path.contains('{') && r.path == path);
    let mut allowed = Vec::new();
    for route in ROUTES {
        if literal && route.path.contains('{') {
            continue;
        }
        if let Some(id) = match_template(route.path, path) {
            if route.method == method {
                return Some(Ok((route, id)));
            }
            allowed.push(route.method);
        }
    }
    (!allowed.is_empty()).then_some(Err(allowed))
}

/// The path of a URL as the runtime serializes it (`https://host/path?query#fragment`):
/// from the first `/` after the host up to the query or fragment, still percent-encoded.
pub fn path_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    path.split(['?', '#']).next().unwrap_or("/")
}

/// The origin of a URL as the runtime serializes it: scheme, host and port, up to the path.
pub fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

/// The query of a URL as the runtime serializes it: after the first `?`, up to a fragment
/// (still form-encoded); empty without one.
pub fn query_of(url: &str) -> &str {
    url.split('#')
        .next()
        .and_then(|u| u.split_once('?'))
        .map_or("", |(_, query)| query)
}

/// `Some(None)` for a match without parameter, `Some(Some(id))` with one, `None` otherwise.
fn match_template(template: &str, path: &str) -> Option<Option<String>> {
    let mut id = None;
    let mut template_parts = template.split('/');
    let mut path_parts = path.split('/');
    loop {
        match (template_parts.next(), path_parts.next()) {
            (None, None) => return Some(id),
            (Some("{id}"), Some(segment)) if !segment.is_empty() => id = Some(segment.to_owned()),
            (Some(expected), Some(segment)) if expected == segment => {}
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_path_of_a_url_stops_at_its_query_or_fragment() {
        for (url, path) in [
            ("https://till.example/8Kd2x?utm_source=line", "/8Kd2x"),
            (
                "http://127.0.0.1:8787/v1/payment_links/plink_1#x",
                "/v1/payment_links/plink_1",
            ),
            ("https://till.example", "/"),
            ("https://till.example/?a=/b", "/"),
            ("https://till.example/c/cs_1/promotion", "/c/cs_1/promotion"),
            ("https://till.example/caf%C3%A9?q", "/caf%C3%A9"),
        ] {
            assert_eq!(path_of(url), path, "{url}");
        }
    }

    #[test]
    fn origins_and_queries_are_read_from_the_runtime_url() {
        for (url, origin, query) in [
            (
                "https://till.example/8Kd2x?utm_source=line",
                "https://till.example",
                "utm_source=line",
            ),
            (
                "http://127.0.0.1:8787/8Kd2x?a=1&b=/c#x",
                "http://127.0.0.1:8787",
                "a=1&b=/c",
            ),
            ("https://till.example", "https://till.example", ""),
            ("https://till.example/?", "https://till.example", ""),
            ("https://till.example/p#f?not", "https://till.example", ""),
        ] {
            assert_eq!(origin_of(url), origin, "{url}");
            assert_eq!(query_of(url), query, "{url}");
        }
    }

    #[test]
    fn paths_resolve_to_their_operation_and_id() {
        let (route, id) = resolve("GET", "/v1/payment_links/plink_abc")
            .unwrap()
            .unwrap();
        assert_eq!(route.operation, Operation::GetPaymentLink);
        assert_eq!(id.as_deref(), Some("plink_abc"));
        let (route, id) = resolve("POST", "/v1/checkout/sessions/").unwrap().unwrap();
        assert_eq!(route.operation, Operation::CreateCheckoutSession);
        assert_eq!(id, None);
        let (route, _) = resolve("POST", "/v1/checkout/sessions/cs_1/expire")
            .unwrap()
            .unwrap();
        assert_eq!(route.operation, Operation::ExpireCheckoutSession);
    }

    #[test]
    fn a_spelled_out_path_is_not_its_neighbours_id() {
        let (route, id) = resolve("GET", "/v1/customers/entitlements/")
            .unwrap()
            .unwrap();
        assert_eq!(route.operation, Operation::Entitlements);
        assert_eq!(id, None);
        let allowed = resolve("PATCH", "/v1/customers/entitlements")
            .unwrap()
            .unwrap_err();
        assert_eq!(allowed, vec!["GET"]);
        let (route, id) = resolve("PATCH", "/v1/customers/cus_1").unwrap().unwrap();
        assert_eq!(route.operation, Operation::UpdateCustomer);
        assert_eq!(id.as_deref(), Some("cus_1"));
    }

    #[test]
    fn a_known_path_with_another_method_lists_the_allowed_ones() {
        let allowed = resolve("PUT", "/v1/products").unwrap().unwrap_err();
        assert_eq!(allowed, vec!["POST", "GET"]);
        assert!(resolve("GET", "/v1/nothing").is_none());
        assert!(resolve("GET", "/v1/products/").is_some());
        assert!(resolve("GET", "/v1/products//archive").is_none());
        assert!(resolve("GET", "/v1/products/x/y").is_none());
        assert!(resolve("GET", "/v1/nothing-here").is_none());
        assert!(resolve("POST", "/v1/nothing/here").is_none());
    }

    #[test]
    fn no_two_routes_share_a_method_and_path() {
        let mut seen = HashSet::new();
        for route in ROUTES {
            assert!(
                seen.insert((route.method, route.path)),
                "{} {} twice",
                route.method,
                route.path
            );
        }
    }
}
