"""Schemathesis against ``docs/openapi.yaml``: the server answers what its spec says (issue 12).

One real ``promlite serve`` subprocess on 127.0.0.1 over a small seeded data
directory (admin and lifecycle APIs enabled, so those operations are exercised
too) serves the module. Schemathesis generates requests for every operation of
the spec -- valid ones and, in negative mode, ones that break the spec's
constraints -- and each answer must

* not be a 5xx (``not_a_server_error``): bad input is a 4xx, never a crash;
* have a status code the spec lists for the operation (``status_code_conformance``);
* have the content type the spec lists (``content_type_conformance``);
* have a body that validates against the spec's schema (``response_schema_conformance``);
* and, for every error, be Prometheus's envelope ``{"status":"error","errorType":...,"error":...}``
  with the HTTP code Prometheus gives that ``errorType`` (our own check below).

Bounded for CI with ``soak.scaled``: ``CI_EXAMPLES`` examples per operation and
mode (a few thousand requests, well under 90 s wall on two shared cores);
``PROMLITE_SOAK=1`` runs ``SOAK_EXAMPLES`` per operation and mode, over 10,000
requests in all (operations with few parameters run out of distinct examples early,
so the count grows more slowly than the setting). The figures (requests sent, answers by status class, 5xx) are
printed at the end of the module (``pytest -s`` shows them).
"""

from __future__ import annotations

import collections
import json
import os
import threading
import time

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from serve_proc import ServeProc, seed
from soak import SOAK, scaled

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "..", "..", "docs", "openapi.yaml")

CI_EXAMPLES = 100
SOAK_EXAMPLES = 800
EXAMPLES = scaled(CI_EXAMPLES, SOAK_EXAMPLES)

# errorType -> HTTP status, as prometheus/web/api/v1/api.go's returnAPIError maps them
ERROR_STATUS = {"bad_data": 400, "execution": 422, "canceled": 503, "timeout": 503, "unavailable": 503,
                "not_found": 404, "internal": 500, "not_acceptable": 406}

schema = schemathesis.openapi.from_path(SPEC)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                max_examples=EXAMPLES, allow_x00=True)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

_lock = threading.Lock()
SENT: collections.Counter[str] = collections.Counter()  # status class -> answers
BY_STATUS: collections.Counter[int] = collections.Counter()
FIVE_XX: list[str] = []
_T0: list[float] = []


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    d = tmp_path_factory.mktemp("schemathesis")
    seed(str(d / "data"), 20, 60)
    p = ServeProc(str(d), f"--storage.tsdb.path={d / 'data'}", "--web.enable-admin-api",
                  "--web.enable-lifecycle", "--query.timeout=10s")
    _T0.append(time.perf_counter())
    session = requests.Session()
    p.session = session
    yield p
    wall = time.perf_counter() - _T0[0]
    session.close()
    status = p.stop()
    total = sum(SENT.values())
    print(f"\nschemathesis: {total} requests in {wall:.1f} s ({'soak' if SOAK else 'CI'} run, "
          f"{EXAMPLES} examples per operation and mode); by status class: {dict(sorted(SENT.items()))}; "
          f"by status: {dict(sorted(BY_STATUS.items()))}; 5xx: {len(FIVE_XX)}")
    assert status in (0, -15), f"server exit status {status}\n{p.text()[-3000:]}"
    assert not FIVE_XX, FIVE_XX[:10]
    if SOAK:  # the figure docs/reliability.md quotes is over at least 10,000 requests
        assert total >= 10_000, total
    assert "Traceback" not in p.text(), p.text()[-5000:]


def _check_envelope(response: requests.Response, label: str) -> None:
    """Every JSON error answer is Prometheus's envelope with the code of its errorType."""
    if response.status_code < 400 or not response.headers.get("Content-Type", "").startswith("application/json"):
        return
    body = json.loads(response.content)
    assert body.get("status") == "error", (label, body)
    assert isinstance(body.get("error"), str), (label, body)
    typ = body.get("errorType")
    if typ in ERROR_STATUS and typ != "bad_data":
        assert ERROR_STATUS[typ] == response.status_code, (label, response.status_code, body)
    else:  # bad_data is also 405 (method), 413 (body too large) and 414 (URL too long)
        assert typ == "bad_data" and response.status_code in (400, 405, 413, 414), (label, response.status_code, body)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, print_blob=True)
def test_api_conforms_to_openapi(case, served):
    response = case.call(base_url=f"http://127.0.0.1:{served.port}", session=served.session, timeout=60)
    code = response.status_code
    with _lock:
        SENT[f"{code // 100}xx"] += 1
        BY_STATUS[code] += 1
        if code >= 500:
            FIVE_XX.append(f"{case.operation.label} -> {code}: {response.content[:300]!r}")
    _check_envelope(response, case.operation.label)
    case.validate_response(response, checks=CHECKS)
