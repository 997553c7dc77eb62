"""The function table: completeness against the upstream docs, arity rules, call checks."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from _requirements import missing

from query.functions import FUNCTIONS
from query.parser import ParseError, parse_expr
from query.types import ValueType

FEATURES = Path(os.environ.get("PROMLITE_SHARED", Path(__file__).resolve().parents[3] / "shared")) / "promql-tests" / "FEATURES.md"


def test_table_size_and_experimental_marks() -> None:
    # FEATURES.md: "90 functions, 17 of them flagged experimental".
    assert len(FUNCTIONS) == 90
    assert sum(f.experimental for f in FUNCTIONS.values()) == 17


def test_table_matches_features_md() -> None:
    if not FEATURES.exists():
        missing(f"{FEATURES} missing")
    section = FEATURES.read_text().split("## 7. Functions", 1)[1].split("## 8.", 1)[0]
    listed = dict(re.findall(r"^- \[ \] `([a-z_0-9]+)\(\)`( \(exp\))?", section, re.M))
    assert set(listed) == set(FUNCTIONS)
    for name, exp in listed.items():
        assert FUNCTIONS[name].experimental == bool(exp), name


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_type_checks_with_its_own_signature(name: str) -> None:
    spec = FUNCTIONS[name]
    sample = {ValueType.SCALAR: "1", ValueType.VECTOR: "up", ValueType.MATRIX: "up[5m]", ValueType.STRING: '"s"'}
    args = [sample[t] for t in spec.arg_types[: spec.min_args]]
    if name == "info" and len(args) > 1:
        args[1] = '{job="x"}'
    call = parse_expr(f"{name}({', '.join(args)})")
    assert call.type is spec.return_type
    if spec.max_args is not None and spec.max_args < 20:
        too_many = args + [sample.get(spec.arg_type(i), "1") for i in range(len(args), spec.max_args + 1)]
        with pytest.raises(ParseError, match="argument"):
            parse_expr(f"{name}({', '.join(too_many)})")


@pytest.mark.parametrize(
    "name,lo,hi",
    [("round", 1, 2), ("hour", 0, 1), ("label_join", 3, None), ("sort_by_label", 1, None),
     ("histogram_quantiles", 3, 12), ("info", 1, 2), ("time", 0, 0), ("clamp", 3, 3)],
)
def test_arity(name: str, lo: int, hi: int | None) -> None:
    assert (FUNCTIONS[name].min_args, FUNCTIONS[name].max_args) == (lo, hi)
