"""Every case of the shared corpora, through every parse path.

* ``whole``: ``parse_openmetrics`` (strict) / ``parse_text`` on the whole body;
  verdict, samples and metadata as the case says (for "either" cases, our
  recorded preference).
* ``stream``: ``StreamParser`` fed in 1-, 3- and 64-byte pieces must agree with
  the whole-body parse (same result, or both reject).
* ``cached``: ``parse_lines_cached`` cold and then warm must agree with the
  Prometheus-lenient parse.
"""

from __future__ import annotations

import _exposition_corpus as corpus  # noqa: E402 - beside the tests (see conftest.py)
import pytest

from scraper.exposition import ExpositionError, StreamParser, parse_openmetrics, parse_text

CASES_TXT, OM_DIR = corpus.CASES_TXT, corpus.OM_DIR
chunked, check_cached, compare_meta = corpus.chunked, corpus.check_cached, corpus.compare_meta
compare_samples, known_failures, om_cases = corpus.compare_samples, corpus.known_failures, corpus.om_cases
require_shared, same_result, text_cases = corpus.require_shared, corpus.same_result, corpus.text_cases
OM = om_cases()
TEXT = text_cases()
KNOWN = known_failures()
SEEN: set[str] = set()


def _verdict(case_id: str, failure: str | None) -> None:
    SEEN.add(case_id)
    listed = case_id in KNOWN
    if failure and not listed:
        pytest.fail(f"{case_id}: {failure}")
    if not failure and listed:
        pytest.fail(f"{case_id} passes but is listed in exposition_known_failures.txt: remove it")
    if failure:
        pytest.xfail(failure)


def _whole(fmt: str, body: bytes):
    try:
        return (parse_openmetrics(body) if fmt == "openmetrics" else parse_text(body)), None
    except ExpositionError as e:
        return None, e


def _stream(fmt: str, body: bytes, size: int):
    p = StreamParser(fmt)
    try:
        for piece in chunked(body, size):
            p.feed(piece)
        return p.close(), None
    except ExpositionError as e:
        return None, e


def test_corpora_present():
    require_shared(OM_DIR)
    require_shared(CASES_TXT)
    assert len(OM) >= 100 and len(TEXT) >= 50


@pytest.mark.parametrize("case", OM, ids=[c.id for c in OM])
def test_openmetrics_whole(case):
    res, err = _whole("openmetrics", case.body)
    failure = None
    if case.should_parse and err is not None:
        failure = f"rejected a valid exposition: {err}"
    elif not case.should_parse and err is None:
        failure = "accepted an invalid exposition"
    _verdict(case.id, failure)


@pytest.mark.parametrize("case", OM, ids=[c.id for c in OM])
def test_openmetrics_stream(case):
    _verdict(case.id + "@stream", _stream_failure("openmetrics", case.body))


@pytest.mark.parametrize("case", OM, ids=[c.id for c in OM])
def test_openmetrics_cached(case):
    diffs = check_cached(case.body, "openmetrics")
    _verdict(case.id + "@cached", "; ".join(diffs) or None)


@pytest.mark.parametrize("case", TEXT, ids=[c.id for c in TEXT])
def test_text_whole(case):
    res, err = _whole("text", case.body)
    failure = None
    if case.expect_ok:
        if err is not None:
            failure = f"rejected ({case.verdict}): {err}"
        else:
            diffs = []
            if case.samples is not None:
                diffs += compare_samples(res, case.samples)
            if case.meta is not None:
                diffs += compare_meta(res, case.meta)
            failure = "; ".join(diffs) or None
    elif err is None:
        failure = f"accepted ({case.verdict}, prefer {case.prefer})"
    _verdict(case.id, failure)


@pytest.mark.parametrize("case", TEXT, ids=[c.id for c in TEXT])
def test_text_stream(case):
    _verdict(case.id + "@stream", _stream_failure("text", case.body))


@pytest.mark.parametrize("case", TEXT, ids=[c.id for c in TEXT])
def test_text_cached(case):
    _verdict(case.id + "@cached", "; ".join(check_cached(case.body, "text")) or None)


def _stream_failure(fmt: str, body: bytes) -> str | None:
    whole, werr = _whole(fmt, body)
    sizes = (1, 3, 64) if len(body) < 4096 else (997, 4096)
    for size in sizes:
        res, err = _stream(fmt, body, size)
        if (err is None) != (werr is None):
            return f"pieces of {size}: stream {'accepts' if err is None else f'rejects ({err})'}, whole {werr}"
        if err is None:
            diffs = same_result(res, whole)
            if diffs:
                return f"pieces of {size}: " + "; ".join(diffs)
        elif fmt == "text" and err.line != werr.line:
            return f"pieces of {size}: error on line {err.line}, whole body on line {werr.line}"
    return None


def test_known_failures_are_real_case_ids():
    """Every listed id names an existing case (catches typos and stale entries)."""
    ids = {c.id for c in OM} | {c.id for c in TEXT}
    require_shared(OM_DIR)
    for k in KNOWN:
        assert k.split("@")[0] in ids, f"unknown case id in exposition_known_failures.txt: {k}"
