"""Schemathesis hooks for the API fuzz run (loaded through SCHEMATHESIS_HOOKS=helpers.fuzz_hooks).

The fuzzer checks types, errors and schemas, not throughput, so knobs that only buy cost are
clamped right before each request, whatever phase made it: a full-size simulation takes minutes
(scale <= 0.002, days <= 5), a raised daily limit would let it render dozens of clips (<= 1), and
an export writes only inside the run's own folder (FUZZ_EXPORT_ROOT). Everything else is sent as
generated.
"""

from __future__ import annotations

import os
import re

import schemathesis


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    operation = case.operation.definition.raw.get("operationId")
    body = case.body if isinstance(case.body, dict) else None
    if body is None:
        return
    if operation == "metrics.simulate":
        if isinstance(body.get("scale"), int | float) and not isinstance(body.get("scale"), bool):
            body["scale"] = min(body["scale"], 0.002)
        if isinstance(body.get("days"), int) and not isinstance(body.get("days"), bool):
            body["days"] = min(body["days"], 5)
        if "scale" not in body:
            body["scale"] = 0.002
        if "days" not in body:
            body["days"] = 5
    elif operation == "admin.update_settings" and isinstance(body.get("changes"), dict):
        limit = body["changes"].get("daily_generation_limit")
        if isinstance(limit, int) and not isinstance(limit, bool):
            body["changes"]["daily_generation_limit"] = min(limit, 1)
    elif operation == "metrics.export" and isinstance(body.get("directory"), str):
        name = re.sub(r"[^A-Za-z0-9_-]", "_", body["directory"])[:40] or "x"
        body["directory"] = os.path.join(os.environ["FUZZ_EXPORT_ROOT"], name)
