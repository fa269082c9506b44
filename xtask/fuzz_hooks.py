"""Schemathesis hooks for Till's fuzz runs (`cargo xtask fuzz`, and the suite's fuzz tier).

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
