"""Benchmark of the exposition parser: samples/s, cold and warm (cached).

Generates a fixed-seed, realistic text payload (families of counters, gauges
and histograms with a few labels each, HELP/TYPE lines, some NaN/+Inf values)
and times, on one core:

* ``parse_text``            -- full parse, every line's labels parsed;
* ``parse_lines_cached``    -- cold (empty cache) and warm (every series cached);
* ``prometheus_client``'s ``text_string_to_metric_families``, if installed
  (dev-only comparison; not a dependency of promlite).

Usage: ``python bench/exposition.py [--series 10000] [--repeat 20] [--format text|openmetrics]``
Prints one line per parser: median CPU ms per parse and samples/s.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from scraper.exposition import parse_lines_cached, parse_openmetrics, parse_text


def make_payload(series: int, seed: int = 1, openmetrics: bool = False) -> bytes:
    """About ``series`` sample lines in families of 10-40 series."""
    rnd = random.Random(seed)
    out: list[str] = []
    n = fam = 0
    while n < series:
        fam += 1
        kind = rnd.choice(["counter", "gauge", "gauge", "histogram"])
        name = f"app_subsystem_{fam}_{'requests' if kind == 'counter' else 'value'}"
        out.append(f"# HELP {name} Help text for family {fam}, with some words.")
        out.append(f"# TYPE {name} {kind}")
        width = rnd.randint(10, 40)
        for j in range(width):
            lbl = f'instance="host-{j % 7}.example.org:9100",job="node",path="/api/v{j}/items",code="{200 + j % 5}"'
            if kind == "histogram":
                acc = 0
                for le in ("0.005", "0.01", "0.1", "1", "10", "+Inf"):
                    acc += rnd.randint(0, 50)
                    out.append(f'{name}_bucket{{{lbl},le="{le}"}} {acc}')
                out.append(f"{name}_sum{{{lbl}}} {rnd.random() * 1000:.3f}")
                out.append(f"{name}_count{{{lbl}}} {acc}")
                n += 8
            else:
                suffix = "_total" if kind == "counter" and openmetrics else ""
                v = rnd.choice([f"{rnd.random() * 1e6:.6g}", str(rnd.randint(0, 10**9))])
                if kind == "gauge" and j % 11 == 0:
                    v = rnd.choice(["NaN", "+Inf"])
                out.append(f"{name}{suffix}{{{lbl}}} {v}")
                n += 1
            if n >= series:
                break
    if openmetrics:
        out.append("# EOF")
    return ("\n".join(out) + "\n").encode()


def timeit(fn, repeat: int) -> float:
    """Median CPU seconds of one call (CPU time, not wall time: the machine
    is shared, and waiting for a core is not the parser's cost)."""
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--format", choices=["text", "openmetrics"], default="text")
    args = ap.parse_args()
    om = args.format == "openmetrics"
    body = make_payload(args.series, openmetrics=om)
    full = (lambda: parse_openmetrics(body, strict=False)) if om else (lambda: parse_text(body))
    n = len(full())
    print(f"payload: {n} samples, {len(body) / 1e6:.2f} MB, {len(body) / n:.0f} bytes/sample, format {args.format}")

    def report(label: str, sec: float) -> None:
        print(f"{label:<34} {sec * 1e3:8.2f} ms   {n / sec / 1e6:6.2f} M samples/s")

    report("parse (full, labels parsed)", timeit(full, args.repeat))
    if om:
        report("parse (strict OpenMetrics)", timeit(lambda: parse_openmetrics(body), args.repeat))
    fmt = args.format
    report("parse_lines_cached cold", timeit(lambda: parse_lines_cached(body, {}, fmt=fmt), args.repeat))
    cache: dict[bytes, object] = {}
    for ref, m in enumerate(parse_lines_cached(body, cache, fmt=fmt).misses):
        if m.key is not None:
            cache[m.key] = ref + 1
    warm = parse_lines_cached(body, cache, fmt=fmt)
    assert not warm.misses, f"{len(warm.misses)} misses on a warm cache"
    report("parse_lines_cached warm", timeit(lambda: parse_lines_cached(body, cache, fmt=fmt), args.repeat))
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        print("prometheus_client not installed: no comparison (pip install prometheus_client)")
        return
    text = body.decode()
    if not om:
        report("prometheus_client text parser", timeit(lambda: list(text_string_to_metric_families(text)), max(3, args.repeat // 4)))


if __name__ == "__main__":
    main()
