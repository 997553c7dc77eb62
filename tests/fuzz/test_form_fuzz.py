"""Fuzz the HTTP API's parameter parsing at unit level (HTTP-level fuzzing is schemathesis's).

Targets: ``request.parse_query_string`` (URL query strings and form bodies,
as text and as bytes), ``request.form`` (a mocked aiohttp request: any
method, any Content-Type with any charset or boundary, any body, any URL
query string), and the typed readers of ``params`` that every handler runs on
what ``form`` returns (times, durations, range steps, limits, ``match[]``
selectors).

Oracle: parsed parameters (strings only, the body's before the URL's), or
:class:`~promlite.server.envelope.APIError` ``bad_data`` (400) -- never
another exception, which the server would answer with a 500.
"""

from __future__ import annotations

import asyncio

from aiohttp import StreamReader
from aiohttp.test_utils import make_mocked_request
from fuzzkit import bounded, fuzz_settings, mutants, tried
from hypothesis import example, given
from hypothesis import strategies as st
from multidict import MultiDict

from promlite.server import params as P
from promlite.server.envelope import APIError
from promlite.server.request import form, parse_query_string

SEED_FORMS = [
    b"query=up&time=1700000000.5",
    b"query=sum+by+%28job%29+%28rate%28x%5B5m%5D%29%29&start=1&end=100&step=15s",
    b"match%5B%5D=up&match%5B%5D=%7Bjob%3D%22a%22%7D&limit=10",
    b"a=%C3%A9&b=&c&&=x&d=%2B%20+",
    b"start=2023-11-14T22:13:20.123Z&end=2023-11-14T22:13:20%2B01:00&step=1m30s&timeout=5",
]
QUERY_CHARS = st.sampled_from(list("=&%+;:/?#[]{}\"' \\é\x00\u2028") + ["%zz", "%2", "%C3", "%ff", "%00", "%25"])
query_strings = st.one_of(
    mutants(SEED_FORMS),
    st.lists(st.one_of(QUERY_CHARS, st.text(max_size=3)), max_size=30).map("".join).map(str.encode),
    st.binary(max_size=100),
)


def _check_pairs(pairs) -> None:
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in pairs)


@fuzz_settings(500, 50_000)
@given(query_strings, st.booleans())
@example(b"%", False)
@example(b"a=%zz", True)
@example(b"a=%ff", True)
@example(b"\xff=1", False)
@example(b"a=\xed\xa0\x80", False)  # a UTF-8-encoded surrogate
@example(b"a=%41\xff", True)  # was UnicodeEncodeError: a surrogate-escaped request target (pure-Python parser)
@bounded()
def test_parse_query_string(raw, as_text):
    tried("form parse_query_string")
    qs = raw.decode("utf-8", "surrogateescape") if as_text else raw
    try:
        pairs = parse_query_string(qs)
    except APIError as e:
        assert e.type == "bad_data" and e.status == 400, e
        return
    _check_pairs(pairs)
    if isinstance(qs, bytes) and b"%" not in qs and b"+" not in qs:
        assert len(pairs) == len([p for p in qs.split(b"&") if p])


CONTENT_TYPES = st.one_of(
    st.sampled_from([
        "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8",
        "application/x-www-form-urlencoded; charset=no-such-charset", "APPLICATION/X-WWW-FORM-URLENCODED",
        "application/x-www-form-urlencoded; charset=utf-16", "multipart/form-data",
        "multipart/form-data; boundary=XyZ", 'multipart/form-data; boundary="a b"', "multipart/form-data; boundary=",
        "multipart/mixed; boundary=XyZ", "text/plain", "application/json", "", ";", "a/b; c=d; e",
    ]),
    st.text(max_size=40).filter(lambda s: "\n" not in s and "\r" not in s),
)


def _multipart(fields: list[tuple[str, str]], boundary: str = "XyZ") -> bytes:
    out = b""
    for k, v in fields:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n").encode() + v.encode() + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


SEED_BODIES = SEED_FORMS + [
    _multipart([("query", "up"), ("time", "1")]),
    _multipart([("match[]", "{a=\"é\"}")]),
    _multipart([]),
]


async def _form(method: str, url_qs: str, content_type: str, body: bytes):
    class _Protocol:  # what StreamReader needs of its protocol
        _reading_paused = False

        def pause_reading(self, *a, **kw) -> None: ...

        def resume_reading(self, *a, **kw) -> None: ...

    loop = asyncio.get_running_loop()
    payload = StreamReader(_Protocol(), 2**16, loop=loop)
    payload.feed_data(body)
    payload.feed_eof()
    headers = {"Content-Type": content_type} if content_type else {}
    headers["Content-Length"] = str(len(body))
    path = "/api/v1/query" + ("?" + url_qs if url_qs else "")
    req = make_mocked_request(method, path, headers=headers, payload=payload, client_max_size=4 * 2**20)
    return await form(req)


@fuzz_settings(300, 30_000)
@given(st.sampled_from(["POST", "GET", "PUT", "DELETE"]), CONTENT_TYPES, st.one_of(mutants(SEED_BODIES), st.binary(max_size=200)),
       st.sampled_from(["", "time=1", "query=a%20b", "x=%zz", "a=1&a=2", "%E9=1"]))
@example("POST", "multipart/form-data", b"garbage", "")
@example("POST", "multipart/form-data; boundary=XyZ", b"--XyZ\r\n\r\n", "")
@example("POST", "application/x-www-form-urlencoded; charset=no-such-charset", b"a=1", "b=2")
@bounded()
def test_form_any_content_type_and_body(method, content_type, body, url_qs):
    tried("form request.form (mocked request)")
    try:
        params = asyncio.run(_form(method, url_qs, content_type, body))
    except APIError as e:
        assert e.type == "bad_data" and e.status == 400, e
        return
    _check_pairs(params.items())


TIMES = st.one_of(
    st.sampled_from(["0", "1.5", "-1", "1e9", "1e400", "nan", "inf", "-inf", "1700000000.123456", "2023-11-14T22:13:20Z",
                     "2023-11-14T22:13:20.1+01:00", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "2023-02-30T00:00:00Z",
                     "2023-11-14T25:13:20Z", "1_000", "0x10", "", " 1", "1 ", "+1", "1e-400", "-9223372036854775.808",
                     "9223372036854775807", "1" * 400, "2023-11-14T22:13:20.Z", "2023-11-14T22:13:20+99:99"]),
    st.text(max_size=30),
)
DURATIONS = st.one_of(
    st.sampled_from(["15s", "1m30s", "0", "-1", "0.001", "1e9", "nan", "inf", "5", "1y", "999999999999y", "1ms", "0s",
                     "1h1h", "1.5m", "", "1e400", "9223372036854775807ms", "3e-4"]),
    st.text(max_size=20),
)


@fuzz_settings(500, 50_000)
@given(st.dictionaries(st.sampled_from(["start", "end", "time", "step", "timeout", "limit"]),
                       st.one_of(TIMES, DURATIONS), max_size=6),
       st.lists(st.one_of(st.sampled_from(["up", '{job="a"}', "{}", '{a=""}', "up[5m]", "sum(up)", '{__name__=~".+"}',
                                           '{"quoted"}', "1", '{a=~"("}']), st.text(max_size=20)), max_size=3))
@example({"start": "1e400", "end": "inf", "step": "nan"}, [])
@example({"start": "-9223372036854775.808", "end": "9223372036854775.807", "step": "1ms"}, [])
@example({"time": "9999-12-31T23:59:59.999999999Z", "limit": "1" * 5000}, [])
@bounded()
def test_typed_parameters(values, matches):
    tried("form typed parameters (params.py)")
    p = MultiDict(values)
    for call in (lambda: P.get_time(p, "time", 0), lambda: P.get_time(p, "start", None),
                 lambda: P.get_duration_ms(p, "timeout"), lambda: P.range_params(p), lambda: P.parse_limit(p),
                 lambda: P.get_query(p), lambda: P.parse_match_sets(matches, required=bool(matches)),
                 lambda: P.parse_match_sets(matches, required=True)):
        try:
            call()
        except APIError as e:
            assert e.type == "bad_data", e


def test_form_seeds_parse():
    """The seeds themselves are valid (the mutants start from real requests)."""
    for s in SEED_FORMS:
        assert parse_query_string(s)
    assert dict(parse_query_string(SEED_FORMS[3])) == {"a": "é", "b": "", "c": "", "": "x", "d": "+  "}
