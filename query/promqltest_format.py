"""Parser for Prometheus's PromQL test scripts (``*.test``, "promqltest").

See ``/work/shared/promql-tests/FORMAT.md``; the rules are those of
Prometheus's ``promql/promqltest/test.go``:

* Lines are trimmed; a line starting with ``#`` counts as empty. Commands are
  ``clear`` (one line), ``load <interval>`` / ``load_with_nhcb <interval>``
  and ``eval ...``; a block runs until the next empty line.
* An ``eval`` block also ends right after a bare-number line (a scalar
  result) and, for ``eval_fail``, right after ``expected_fail_message`` /
  ``expected_fail_regexp``.
* ``eval_fail``/``eval_warn``/``eval_info``/``eval_ordered`` are the old
  spellings of ``expect fail``/``warn``/``info``/``ordered`` and are folded
  into the same fields.

The result is plain data: a ``TestScript`` holding ``ClearCmd``, ``LoadCmd``
and ``EvalCmd`` objects with their 1-based line numbers. Times are
milliseconds since epoch 0. Native-histogram values are parsed into opaque
``series_desc.HistogramValue`` markers (``EvalCmd.has_histograms`` and
``SeriesDef.has_histograms`` let an engine without native histograms skip
them). Expressions are *not* parsed here; the runner does that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .durations import parse_prometheus_duration
from .errors import ParseError
from .lexing import Lexer
from .numbers import parse_number
from .series_desc import (
    HistogramValue,
    Labels,
    SampleValue,
    SeriesDescError,
    parse_metric,
    parse_series,
    parse_st_sequence,
)

_LOAD_RE = re.compile(r"^load(?:_(with_nhcb))?\s+(.+?)$")
_EVAL_INSTANT_RE = re.compile(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
_EVAL_RANGE_RE = re.compile(r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$")
_EXPECT_RE = re.compile(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$")
_EXPECT_RANGE_RE = re.compile(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$")
_SPACE_RE = re.compile(r"[\t ]+")


class TestScriptError(ValueError):
    """A malformed test script; ``line`` is 1-based."""

    __test__ = False  # not a pytest test class

    def __init__(self, message: str, line: int, source: str = "<string>"):
        self.line = line
        self.source = source
        super().__init__(f"{source}:{line}: {message}")


@dataclass
class ClearCmd:
    line: int


@dataclass
class SeriesDef:
    """One series of a ``load`` block: samples at ``i * interval`` for position ``i``."""

    line: int
    labels: Labels
    values: list[SampleValue]
    start_offsets: list[int | None] | None = None
    """From a preceding ``metric@st`` line: start timestamp minus sample time (ms) per position."""

    @property
    def has_histograms(self) -> bool:
        return any(isinstance(v, HistogramValue) for v in self.values)


@dataclass
class LoadCmd:
    line: int
    interval_ms: int
    with_nhcb: bool = False
    series: list[SeriesDef] = field(default_factory=list)
    default_start_offsets: list[int | None] | None = None
    """From a bare ``@st`` line: offsets applied (cyclically) to series without their own."""


@dataclass
class Expectation:
    """An ``expect`` line: ``kind`` is fail/warn/no_warn/info/no_info/ordered.

    ``message`` must equal the error/annotation text, ``regex`` (RE2) must
    match it; with neither, anything matches.
    """

    kind: str
    message: str | None = None
    regex: str | None = None
    line: int = 0


@dataclass
class ExpectedSeries:
    line: int
    labels: Labels
    values: list[SampleValue]


@dataclass
class EvalCmd:
    line: int
    expr: str
    is_range: bool
    time_ms: int = 0
    """Evaluation time of an instant query (also ``end_ms`` of an ``expect range vector``)."""
    start_ms: int = 0
    end_ms: int = 0
    step_ms: int = 0
    expectations: list[Expectation] = field(default_factory=list)
    expected: list[ExpectedSeries] = field(default_factory=list)
    expected_scalar: float | None = None
    expected_string: str | None = None
    range_vector: tuple[int, int, int] | None = None
    """``(start_ms, end_ms, step_ms)`` of ``expect range vector from .. to .. step ..``."""

    @property
    def expects_fail(self) -> bool:
        return any(e.kind == "fail" for e in self.expectations)

    @property
    def fail_expectation(self) -> Expectation | None:
        return next((e for e in self.expectations if e.kind == "fail"), None)

    @property
    def ordered(self) -> bool:
        return any(e.kind == "ordered" for e in self.expectations)

    @property
    def has_histograms(self) -> bool:
        """Whether an expected value is a native histogram."""
        return any(isinstance(v, HistogramValue) for s in self.expected for v in s.values)


Command = ClearCmd | LoadCmd | EvalCmd


@dataclass
class TestScript:
    __test__ = False  # not a pytest test class

    source: str
    commands: list[Command]

    @property
    def evals(self) -> list[EvalCmd]:
        return [c for c in self.commands if isinstance(c, EvalCmd)]


def parse_test_file(path: str | Path) -> TestScript:
    """Parse a ``.test`` file (UTF-8)."""
    p = Path(path)
    return parse_test_script(p.read_text(encoding="utf-8"), source=p.name)


def parse_test_script(text: str, source: str = "<string>") -> TestScript:
    """Parse the text of a test script; raises ``TestScriptError``."""
    return _ScriptParser(text, source).parse()


def parse_go_number(s: str) -> float:
    """The harness's ``parseNumber``: Go ``ParseInt(s, 0, 64)`` then ``ParseFloat``, sign allowed."""
    body = s[1:] if s[:1] in "+-" else s
    if not body or body[:1] in "+-":
        raise ValueError(f"invalid number {s!r}")
    value = parse_number(body)
    return -value if s[:1] == "-" else value


class _ScriptParser:
    def __init__(self, text: str, source: str):
        self.source = source
        stripped = (line.strip() for line in text.split("\n"))
        self.lines = ["" if line.startswith("#") else line for line in stripped]

    def _err(self, message: str, index: int) -> TestScriptError:
        return TestScriptError(message, index + 1, self.source)

    def _duration(self, text: str, what: str, index: int) -> int:
        try:
            return parse_prometheus_duration(text)
        except ValueError as e:
            raise self._err(f"invalid {what} {text!r}: {e}", index) from None

    def parse(self) -> TestScript:
        commands: list[Command] = []
        i = 0
        while i < len(self.lines):
            line = self.lines[i]
            if line == "":
                i += 1
                continue
            word = _SPACE_RE.split(line, maxsplit=1)[0].lower()
            if word == "clear":
                commands.append(ClearCmd(i + 1))
            elif word.startswith("load"):
                i, cmd = self._load(i)
                commands.append(cmd)
            elif word.startswith("eval"):
                i, cmd = self._eval(i)
                commands.append(cmd)
            else:
                raise self._err(f"invalid command {line!r}", i)
            i += 1
        return TestScript(self.source, commands)

    # -- load -----------------------------------------------------------------------

    def _load(self, i: int) -> tuple[int, LoadCmd]:
        m = _LOAD_RE.match(self.lines[i])
        if not m:
            raise self._err("invalid load command. (load[_with_nhcb] <step:duration>)", i)
        cmd = LoadCmd(i + 1, self._duration(m[2], "step definition", i), with_nhcb=m[1] == "with_nhcb")
        pending: tuple[int, Labels, list[int | None]] | None = None
        while i + 1 < len(self.lines) and self.lines[i + 1] != "":
            i += 1
            line = self.lines[i]
            head = _SPACE_RE.split(line, maxsplit=1)[0]
            if head.endswith("@st") and " " in line.replace("\t", " "):
                if pending is not None:
                    raise self._err("@st line has no following sample line", pending[0])
                metric_text = head[: -len("@st")]
                rest = line[len(head):].strip()
                try:
                    offsets = parse_st_sequence(rest)
                    labels = parse_metric(metric_text)[0] if metric_text else ()
                except SeriesDescError as e:
                    raise self._err(f"invalid @st line: {e}", i) from None
                if not metric_text:
                    cmd.default_start_offsets = offsets
                else:
                    pending = (i, labels, offsets)
                continue
            try:
                labels, values = parse_series(line)
            except SeriesDescError as e:
                raise self._err(f"invalid series description: {e}", i) from None
            offsets = None
            if pending is not None:
                if labels != pending[1]:
                    raise self._err("@st metric does not match the following sample line metric", pending[0])
                if len(pending[2]) != len(values):
                    raise self._err(
                        f"@st line has {len(pending[2])} values but sample line has {len(values)}", pending[0]
                    )
                offsets = pending[2]
                pending = None
            cmd.series.append(SeriesDef(i + 1, labels, values, offsets))
        if pending is not None:
            raise self._err("@st line has no following sample line", pending[0])
        return i, cmd

    # -- eval -------------------------------------------------------------------------

    def _eval(self, i: int) -> tuple[int, EvalCmd]:
        line = self.lines[i]
        m_inst = _EVAL_INSTANT_RE.match(line)
        m_range = None if m_inst else _EVAL_RANGE_RE.match(line)
        if m_inst is None and m_range is None:
            raise self._err(
                "invalid evaluation command. Must be either 'eval[_fail|_warn|_ordered] instant [at <offset:duration>] "
                "<query>' or 'eval[_fail|_warn] range from <from> to <to> step <step> <query>'",
                i,
            )
        if m_inst is not None:
            mod, at, expr = m_inst.groups()
            cmd = EvalCmd(i + 1, expr, False, time_ms=self._duration(at or "", "timestamp definition", i))
        else:
            mod, start, end, step, expr = m_range.groups()
            start_ms = self._duration(start, "start timestamp definition", i)
            end_ms = self._duration(end, "end timestamp definition", i)
            if end_ms < start_ms:
                raise self._err(f"invalid test definition, end timestamp ({end}) is before start timestamp ({start})", i)
            cmd = EvalCmd(i + 1, expr, True, start_ms=start_ms, end_ms=end_ms,
                          step_ms=self._duration(step, "step definition", i))
        if mod:
            cmd.expectations.append(Expectation(mod, line=i + 1))
        legacy_fail = mod == "fail"
        while i + 1 < len(self.lines) and self.lines[i + 1] != "":
            i += 1
            line = self.lines[i]
            if legacy_fail and line.startswith("expected_fail_message"):
                cmd.expectations[0].message = line[len("expected_fail_message"):].strip()
                break
            if legacy_fail and line.startswith("expected_fail_regexp"):
                cmd.expectations[0].regex = line[len("expected_fail_regexp"):].strip()
                break
            if line.startswith("expect range vector"):
                m = _EXPECT_RANGE_RE.match(line)
                if not m:
                    raise self._err(f"invalid range vector definition {line!r}", i)
                rv = tuple(self._duration(x, "duration", i) for x in m.groups())
                cmd.range_vector = rv  # type: ignore[assignment]
                cmd.time_ms = rv[1]
                continue
            if line.startswith("expect string"):
                cmd.expected_string = self._string_literal(line[len("expect string"):].strip(), i)
                continue
            if line.split(" ")[0] == "expect":
                cmd.expectations.append(self._expect(line, i))
                self._validate(cmd, i)
                continue
            try:
                cmd.expected_scalar = parse_go_number(line)
                break
            except ValueError:
                pass
            try:
                labels, values = parse_series(line)
            except SeriesDescError as e:
                raise self._err(f"invalid series description: {e}", i) from None
            if len(values) > 1 and not cmd.is_range and cmd.range_vector is None:
                raise self._err("expecting multiple values in instant evaluation not allowed", i)
            cmd.expected.append(ExpectedSeries(i + 1, labels, values))
        return i, cmd

    def _expect(self, line: str, i: int) -> Expectation:
        m = _EXPECT_RE.match(line.strip())
        if not m:
            raise self._err("invalid expect statement, must match `expect <type> <match_type>: <string>` format", i)
        kind, how, text = m.groups()
        exp = Expectation(kind, line=i + 1)
        if how == "msg":
            exp.message = text.strip()
        elif how == "regex":
            exp.regex = text.strip()
        return exp

    def _validate(self, cmd: EvalCmd, i: int) -> None:
        kinds = [e.kind for e in cmd.expectations]
        if "info" in kinds and "no_info" in kinds:
            raise self._err("invalid expect lines, info and no_info cannot be used together", i)
        if "warn" in kinds and "no_warn" in kinds:
            raise self._err("invalid expect lines, warn and no_warn cannot be used together", i)
        if kinds.count("fail") > 1:
            raise self._err("invalid expect lines, multiple expect fail lines are not allowed", i)

    def _string_literal(self, text: str, i: int) -> str:
        """Go's ``strconv.Unquote`` of the ``expect string`` argument."""
        if len(text) >= 2 and text[0] == text[-1] == "`":
            return text[1:-1]
        if len(text) >= 2 and text[0] == text[-1] == '"':
            try:
                toks = list(Lexer(text))
            except ParseError:
                toks = []
            if len(toks) == 2 and toks[0].type == "STRING" and toks[0].end_pos == len(text):
                return toks[0].value
        raise self._err("expected string literal not valid - check that the string is correctly quoted", i)
