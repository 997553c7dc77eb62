"""Deep and long expressions: no pass may meet Python's recursion limit, none may be quadratic (issue 12).

Left-nested binary chains (``a or b or ...``, ``1+1+...``) are walked with
loops in every pass, so their length is free; everything else nests one level
per operand and the parser refuses more than ``MAX_NESTING`` levels with a
``ParseError``. Each shape below is checked at the limit -- parsed, printed,
prettified and evaluated on a worker thread, as the server does -- and one
level beyond it.
"""

from __future__ import annotations

import threading
import time

import pytest

import tsdb
from query import printer
from query.ast import nesting_depth
from query.engine import Engine
from query.parser import MAX_NESTING, ParseError, expr_to_string, format_expr, parse_expr
from query.types import ValueType

# shape -> text nested n levels deep (each level: one recursion in every pass)
SHAPES = {
    "parentheses": lambda n: "(" * (n - 1) + "1" + ")" * (n - 1),
    "calls": lambda n: "abs(" * (n - 1) + "up" + ")" * (n - 1),
    "aggregations": lambda n: "sum(" * (n - 1) + "up" + ")" * (n - 1),
    "scalar arguments": lambda n: "clamp_max(" * (n - 1) + "up" + ",1)" * (n - 1),
    "topk": lambda n: "topk(1," * (n - 1) + "up" + ")" * (n - 1),
    "unary minus": lambda n: "-" * (n - 1) + "up",
    "right-associative ^": lambda n: "^".join(["2"] * n),
    "right operands": lambda n: ("(" * ((n - 1) % 2) + "1+(" * ((n - 1) // 2) + "1" + ")" * ((n - 1) // 2)
                                 + ")" * ((n - 1) % 2)),
    "duration expression": lambda n: "up offset (" + "+".join(["1s"] * (n - 1)) + ")",
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    db = tsdb.open(str(tmp_path_factory.mktemp("deep") / "data"))
    yield Engine(db)
    db.close()


def _on_worker_thread(fn):
    """Run ``fn`` on a fresh thread (the server's query pool) and return its result or raise its error."""
    out: dict = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            out["error"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join(120)
    if "error" in out:
        raise out["error"]
    return out["value"]


@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
def test_every_pass_works_at_the_nesting_limit(shape, engine):
    text = SHAPES[shape](MAX_NESTING)

    def every_pass() -> None:
        e = parse_expr(text)
        assert nesting_depth(e, 10**6) == MAX_NESTING
        assert parse_expr(expr_to_string(e)) == e
        assert parse_expr(format_expr(e)) == e
        engine.instant(e, 60_000)
        if e.type in (ValueType.SCALAR, ValueType.VECTOR):
            engine.range(e, 0, 60_000, 15_000)

    _on_worker_thread(every_pass)


@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
def test_one_level_more_is_a_parse_error(shape):
    text = SHAPES[shape](MAX_NESTING + 1)
    with pytest.raises(ParseError, match=f"expression too deeply nested \\(at most {MAX_NESTING} levels\\)"):
        parse_expr(text)


def test_far_too_deep_is_refused_before_any_recursion():
    for text in ("(" * 50_000 + "1" + ")" * 50_000, "abs(" * 20_000 + "up" + ")" * 20_000):
        with pytest.raises(ParseError, match="too deeply nested"):
            parse_expr(text)


@pytest.mark.parametrize("op", ["+", " or ", " and on(job) ", " / ignoring(x) "])
def test_left_nested_chains_have_no_depth_limit(op, engine):
    terms = ["1"] * 20_000 if op == "+" else ["up"] * 20_000
    text = op.join(terms)

    def every_pass():
        e = parse_expr(text)
        assert nesting_depth(e, MAX_NESTING) == 2  # the chain, and its right operands one level down
        one_line = expr_to_string(e)
        assert format_expr(e) == one_line  # prettified it would pass MAX_PRETTY_BYTES
        return engine.instant(e, 60_000), engine.range(e, 0, 60_000, 15_000)

    inst, rng = _on_worker_thread(every_pass)
    if op == "+":
        assert inst.value == 20_000 and rng.values[0].tolist() == [20_000.0] * 5


def test_format_is_linear_in_its_output():
    """The printer once printed every subtree again at every level: 5,000 terms took 6 s."""
    for n in (600, 5_000, 50_000):
        e = parse_expr("+".join(["1"] * n))
        t0 = time.process_time()
        out = format_expr(e)
        cpu = time.process_time() - t0
        assert cpu < 5, (n, cpu)  # a few ms to 0.2 s here
        if n == 600:  # still prettified: 599 split levels, each indented two spaces more
            lines = out.split("\n")
            assert len(lines) == 2 * 599 - 2 * 24 + 1 or len(out) <= printer.MAX_PRETTY_BYTES
            assert lines[-1] == "  1" and lines[-2] == "+"
        else:
            assert out == " + ".join(["1"] * n)


def test_prettified_output_is_bounded(monkeypatch):
    e = parse_expr(" or ".join(f'up{{job="{i}"}}' for i in range(200)))
    pretty = format_expr(e)
    assert "\n" in pretty and len(pretty) < printer.MAX_PRETTY_BYTES
    monkeypatch.setattr(printer, "MAX_PRETTY_BYTES", len(pretty) - 1)
    assert format_expr(e) == expr_to_string(e)
