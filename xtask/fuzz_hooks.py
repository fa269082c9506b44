"""Schemathesis hooks for Till's fuzz runs (`cargo xtask fuzz`, and the suite's fuzz tier):
what the fuzzer is told beyond the OpenAPI document.

A few request times are valid only relative to the server's clock at the moment of the
request, which no static schema can say: a checkout session expires 30 minutes to 24 hours
from now, a promotion code expires in the future, a subscription does not start in the
past. In a case generated as valid, such a time is set to one the clock allows; every other
field, and every case generated as invalid, is left exactly as generated. The API's
refusals of past and out-of-window times are the black-box suite's to test.
"""

import time

import schemathesis
from schemathesis.generation import GenerationMode
from schemathesis.openapi.checks import UseAfterFree
from schemathesis.specs.openapi.checks import use_after_free

# Seconds from now that each operation's clock-relative fields are given.
AHEAD = {
    "POST /v1/checkout/sessions": {"expires_at": 2 * 3600},
    "POST /v1/promotion_codes": {"expires_at": 86400},
    "PATCH /v1/promotion_codes/{id}": {"expires_at": 86400},
    "POST /v1/promotion_codes/{id}": {"expires_at": 86400},
    "POST /v1/subscriptions": {"start_time": 86400},
    "PATCH /v1/subscriptions/{id}": {"start_time": 86400},
    "POST /v1/subscriptions/{id}": {"start_time": 86400},
}


@schemathesis.hook
def map_case(context, case):
    fields = AHEAD.get(case.operation.label)
    meta = case.meta
    if not fields or not isinstance(case.body, dict) or meta is None:
        return case
    if meta.generation.mode != GenerationMode.POSITIVE:
        return case
    for field, ahead in fields.items():
        if case.body.get(field) is not None:
            case.body[field] = int(time.time()) + ahead
    return case


# The `DELETE`s that the API documents as changes of state rather than erasures: a product
# is archived (orders and links go on naming it), a promotion code deactivated, a payment
# method detached, a subscription canceled, an Omise link marked `deleted: true` as Omise's
# API does. Each stays readable by its id and says what became of it, so reading it after
# its `DELETE` is no use after free. Every other `DELETE` is held to the built-in check.
STATE_CHANGES = {
    "DELETE /v1/products/{id}",
    "DELETE /v1/promotion_codes/{id}",
    "DELETE /v1/payment_methods/{id}",
    "DELETE /v1/subscriptions/{id}",
    "DELETE /links/{id}",
}


@schemathesis.check
def use_after_erasure(ctx, response, case):
    """schemathesis's `use_after_free`, for the `DELETE`s that erase."""
    try:
        return use_after_free(ctx, response, case)
    except UseAfterFree as failure:
        if failure.operation in STATE_CHANGES:
            return None
        raise
