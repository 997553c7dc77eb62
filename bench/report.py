"""Report: the terminal table (rich), ``results.json``, a Markdown table and PNG plots.

Every row shows the three systems side by side and the ratios promlite/peer
(below 1 is better for promlite when lower is better, and the reverse for
"higher" figures: the ratio is always promlite divided by peer, the column
header says which way is good). A peer with no value shows why ("not
installed", "n/a", an error) instead of disappearing.

Plots are generic: a suite describes them in ``SuiteResult.plots`` as
``{"kind": "bars" | "lines", "title", "ylabel", "groups" | "x", "series":
{system: [values]}, "log": bool}`` and this module draws each one into
``<suite>_<key>.png`` with the Agg backend (no display needed), small enough
to commit (about 100 dpi, under ~150 KB).
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .harness import Stat
from .suites import SYSTEMS, SuiteResult, Value

COLORS = {"promlite": "#1f77b4", "prometheus": "#e6522c", "victoriametrics": "#6a3fb5",
          "promlite (HTTP)": "#8fbce6"}
PEERS = SYSTEMS[1:]
SHORT = {"prometheus": "prom", "victoriametrics": "vm"}


def _num(v: Value) -> float | None:
    if isinstance(v, Stat):
        return v.median
    if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
        return float(v)
    return None


def _fmt_num(x: float) -> str:
    a = abs(x)
    if a == 0:
        return "0"
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 0.01:
        return f"{x:.3g}" if a < 1 else f"{x:.2f}"
    return f"{x:.2e}"


def fmt_value(v: Value) -> str:
    if v is None:
        return "–"
    if isinstance(v, Stat):
        s = _fmt_num(v.median)
        return s if len(v.values) < 2 else f"{s} ±{v.spread_pct:.0f}%"
    if isinstance(v, str):
        return v
    return _fmt_num(float(v))


def ratio(a: Value, b: Value) -> str:
    x, y = _num(a), _num(b)
    if x is None or y is None or y == 0:
        return "–"
    return f"{x / y:.2f}×"


def _headers() -> list[str]:
    return ["figure [unit]", *SYSTEMS, *(f"promlite/{SHORT[p]}" for p in PEERS)]


def _cells(row) -> list[str]:
    vals = [fmt_value(row.values.get(s)) for s in SYSTEMS]
    rats = [ratio(row.values.get("promlite"), row.values.get(p)) for p in PEERS]
    arrow = "↓" if row.better == "lower" else "↑"
    unit = f" [{row.unit}]" if row.unit else ""
    return [f"{row.figure}{unit} {arrow}", *vals, *rats]


def print_tables(console: Console, results: list[SuiteResult]) -> None:
    for res in results:
        title = f"{res.name}: {res.title}  [{res.status}, {res.seconds:.0f} s]"
        if res.note:
            title += f"\n{res.note}"
        table = Table(title=escape(title), title_justify="left", show_lines=False)
        for i, h in enumerate(_headers()):
            table.add_column(h, justify="left" if i == 0 else "right", no_wrap=i > 0)
        for row in res.rows:
            table.add_row(*(escape(c) for c in _cells(row)))
        console.print(table)


def to_markdown(results: list[SuiteResult]) -> str:
    """One Markdown table per suite (↓ lower is better, ↑ higher is better)."""
    out = []
    for res in results:
        out.append(f"### {res.name}: {res.title}\n")
        if res.status != "ok" or res.note:
            out.append(f"*{res.status}*{': ' + res.note if res.note else ''}\n")
        if res.rows:
            h = _headers()
            out.append("| " + " | ".join(h) + " |")
            out.append("|" + "|".join(["---"] + ["---:"] * (len(h) - 1)) + "|")
            for row in res.rows:
                out.append("| " + " | ".join(c.replace("|", "\\|") for c in _cells(row)) + " |")
        out.append("")
    return "\n".join(out)


def write_json(path: str, meta: dict[str, Any], results: list[SuiteResult]) -> None:
    with open(path, "w") as f:
        json.dump({"meta": meta, "suites": {r.name: r.to_json() for r in results}}, f, indent=1)


def write_plots(out_dir: str, results: list[SuiteResult]) -> list[str]:
    """Draw every plot the suites described; returns the PNG paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for res in results:
        for key, spec in res.plots.items():
            if spec.get("split"):  # one panel per group: groups have different units
                groups = spec["groups"]
                fig, axes = plt.subplots(1, len(groups), figsize=spec.get("size", (8, 3.6)), dpi=100)
                panels = [dict(spec, kind="bars", groups=[""], title=g, ylabel=g,
                               series={s: [v[i]] for s, v in spec["series"].items()})
                          for i, g in enumerate(groups)]
                fig.suptitle(spec["title"], fontsize=11)
            else:
                fig, ax = plt.subplots(figsize=spec.get("size", (8, 4.2)), dpi=100)
                axes, panels = [ax], [spec]
            try:
                for ax, sp in zip(axes, panels, strict=True):
                    _draw(ax, sp)
                fig.tight_layout()
                p = os.path.join(out_dir, f"{res.name}_{key}.png")
                fig.savefig(p, dpi=100)
                paths.append(p)
            finally:
                plt.close(fig)
    return paths


def _draw(ax, spec: dict[str, Any]) -> None:
    from matplotlib.ticker import FuncFormatter

    series: dict[str, list[float | None]] = spec["series"]
    ax.set_title(spec["title"], fontsize=11)
    ax.set_ylabel(spec.get("ylabel", ""))
    if spec["kind"] == "lines":
        for name, ys in series.items():
            pts = [(x, y) for x, y in zip(spec["x"], ys, strict=True) if y is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", label=name, color=COLORS.get(name))
        ax.set_xlabel(spec.get("xlabel", ""))
        if spec.get("logx"):
            ax.set_xscale("log")
            ax.set_xticks(spec["x"], [f"{x:,}" for x in spec["x"]])
            ax.minorticks_off()
    else:
        groups = spec["groups"]
        names = list(series)
        width = 0.8 / max(len(names), 1)
        horizontal = spec.get("horizontal", False)
        for i, name in enumerate(names):
            pos = [g + (i - (len(names) - 1) / 2) * width for g in range(len(groups))]
            vals = [v if v is not None else 0 for v in series[name]]
            if horizontal:
                ax.barh(pos, vals, height=width, label=name, color=COLORS.get(name))
            else:
                ax.bar(pos, vals, width=width, label=name, color=COLORS.get(name))
            for p, v in zip(pos, series[name], strict=True):
                if v is None:
                    ax.annotate("–", (v or 0, p) if horizontal else (p, 0), ha="center", fontsize=7)
        if horizontal:
            ax.set_yticks(range(len(groups)), groups, fontsize=8)
            ax.invert_yaxis()
            ax.set_xlabel(spec.get("ylabel", ""))
            ax.set_ylabel("")
            if spec.get("log"):
                ax.set_xscale("log")
                ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        else:
            ax.set_xticks(range(len(groups)), groups, fontsize=8, rotation=spec.get("rotation", 0))
            if spec.get("log"):
                ax.set_yscale("log")
    if spec["kind"] == "lines":
        if spec.get("log"):
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0)  # differences read true to scale
    ax.grid(True, axis="x" if spec.get("horizontal") else "y", alpha=0.3)
    ax.legend(fontsize=8)


def replot(results_json: str, out_dir: str) -> list[str]:
    """Redraw the PNGs of an earlier run from its results.json (plot specs are stored there)."""
    with open(results_json) as f:
        data = json.load(f)
    results = [SuiteResult(name, s["title"], plots=s.get("plots", {})) for name, s in data["suites"].items()]
    os.makedirs(out_dir, exist_ok=True)
    return write_plots(out_dir, results)


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 3:
        sys.exit("usage: python -m bench.report RESULTS_JSON OUT_DIR   (redraws the plots)")
    for p in replot(sys.argv[1], sys.argv[2]):
        print(p)
