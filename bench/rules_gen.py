"""A rule file of recording rules over the ``target_server`` catalogue, for the ``rules`` bench suite.

``rule_file_text(groups, per_group)`` writes ``groups`` groups of
``per_group`` recording rules (``interval: 15s``), the same text for promlite
and Prometheus. The series come from ``shared/datasets/gen_openmetrics.py``'s
``build_catalog`` as ``target_server.py`` serves them (``job``/``instance``
are the scraper's: ``job="e2e"``, one ``instance`` per target), e.g.
``node_cpu_seconds_total{cpu,mode}``, ``http_requests_total{handler,code}``,
``http_request_duration_seconds_bucket{handler,le}``, ``node_load1{sensor}``,
``node_memory_*_bytes{numa}``, ``node_filesystem_avail_bytes{mountpoint}``.

Each group has a theme and a few expression templates (``rate``/``irate``/
``increase`` summed by instance or job, ratios, ``histogram_quantile`` over
``sum by (le)``, ``*_over_time``, ``predict_linear``, ``topk``, comparisons);
rule ``i`` of a group uses template ``i % T`` with a selector index
``k = i // T`` that narrows the shard label (``cpu="k"``, ``handler=~"/api/vk[0-9]?"``,
...), so every rule is distinct in its selector and its name
(``<level>:<metric>:<op>_<k>``), and each reads from one series to about a
hundred per target, as rules written for many services would. A few broad
ones per group (``k`` as a suffix regex, ``cpu=~".*k"``) read about a tenth
of a metric. With fewer series per target than the full workload some
selectors match nothing: such a rule is still evaluated and writes nothing.
"""

from __future__ import annotations

# (record name template, expr template); {k} is the selector index
_THEMES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("cpu", (
        ("instance:node_cpu_user:rate1m_c{k}",
         'sum by (instance) (rate(node_cpu_seconds_total{{mode="user",cpu=~"{k}[0-9]?"}}[1m]))'),
        ("instance:node_cpu_busy:ratio_c{k}",
         '1 - avg by (instance) (rate(node_cpu_seconds_total{{mode="idle",cpu=~"{k}[0-9]?"}}[1m]))'),
        ("instance_mode:node_cpu:irate1m_c{k}",
         'sum by (instance, mode) (irate(node_cpu_seconds_total{{cpu="{k}"}}[1m]))'),
        ("job:node_cpu_user:increase1m_s{k}",
         'sum by (job) (increase(node_cpu_seconds_total{{mode="user",cpu=~".*{k}"}}[1m]))'),
    )),
    ("network", (
        ("instance:node_network_receive_bytes:rate1m_d{k}",
         'sum by (instance) (rate(node_network_receive_bytes_total{{device=~"eth{k}[0-9]?"}}[1m]))'),
        ("instance:node_network_transmit_bytes:rate1m_d{k}",
         'sum by (instance) (rate(node_network_transmit_bytes_total{{device="eth{k}"}}[1m]))'),
        ("instance:node_network_bytes:rate1m_d{k}",
         'sum by (instance) (rate(node_network_receive_bytes_total{{device="eth{k}"}}[1m]))'
         ' + sum by (instance) (rate(node_network_transmit_bytes_total{{device="eth{k}"}}[1m]))'),
        ("node_network_receive_bytes:top3_rate1m_d{k}",
         'topk(3, rate(node_network_receive_bytes_total{{device=~"eth.*{k}"}}[1m]))'),
    )),
    ("http", (
        ("instance_code:http_requests:rate1m_h{k}",
         'sum by (instance, code) (rate(http_requests_total{{handler="/api/v{k}"}}[1m]))'),
        ("instance:http_requests_errors:ratio_rate1m_h{k}",
         'sum by (instance) (rate(http_requests_total{{code="500",handler=~"/api/v{k}[0-9]?"}}[1m]))'
         ' / sum by (instance) (rate(http_requests_total{{handler=~"/api/v{k}[0-9]?"}}[1m]))'),
        ("job:http_requests:rate5m_h{k}",
         'sum by (job) (rate(http_requests_total{{handler="/api/v{k}"}}[5m]))'),
        ("job_code:http_requests:rate1m_s{k}",
         'sum by (job, code) (rate(http_requests_total{{handler=~"/api/v.*{k}"}}[1m]))'),
    )),
    ("latency", (
        ("handler:http_request_duration_seconds:p90_h{k}",
         'histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket{{handler="/api/v{k}"}}[1m])))'),
        ("instance:http_request_duration_seconds:p99_h{k}",
         'histogram_quantile(0.99, sum by (instance, le) '
         '(rate(http_request_duration_seconds_bucket{{handler="/api/v{k}"}}[1m])))'),
        ("instance:http_request_duration_seconds:mean1m_h{k}",
         'sum by (instance) (rate(http_request_duration_seconds_sum{{handler="/api/v{k}"}}[1m]))'
         ' / sum by (instance) (rate(http_request_duration_seconds_count{{handler="/api/v{k}"}}[1m]))'),
        ("job:http_request_duration_seconds:p50_h{k}",
         'histogram_quantile(0.5, sum by (le) '
         '(rate(http_request_duration_seconds_bucket{{handler=~"/api/v{k}[0-9]?"}}[1m])))'),
    )),
    ("load", (
        ("job:node_load1:avg_s{k}", 'avg by (job) (node_load1{{sensor="{k}"}})'),
        ("instance:node_load1:max1m_s{k}", 'max by (instance) (max_over_time(node_load1{{sensor=~"{k}[0-9]?"}}[1m]))'),
        ("instance:node_hwmon_temp_celsius:avg1m_s{k}",
         'avg by (instance) (avg_over_time(node_hwmon_temp_celsius{{sensor="{k}"}}[1m]))'),
        ("instance:node_load1:p90_1m_s{k}", 'quantile_over_time(0.9, node_load1{{sensor="{k}"}}[1m])'),
    )),
    ("memory", (
        ("instance:node_memory_used:ratio_n{k}",
         '1 - sum by (instance) (node_memory_MemAvailable_bytes{{numa=~"{k}[0-9]?"}})'
         ' / sum by (instance) (node_memory_MemTotal_bytes{{numa=~"{k}[0-9]?"}})'),
        ("instance:node_memory_MemAvailable_bytes:min1m_n{k}",
         'min_over_time(node_memory_MemAvailable_bytes{{numa="{k}"}}[1m])'),
        ("job:node_memory_used_bytes:sum_n{k}",
         'sum by (job) (node_memory_MemTotal_bytes{{numa="{k}"}}) - sum by (job) (node_memory_MemAvailable_bytes{{numa="{k}"}})'),
        ("instance:node_memory_MemAvailable_bytes:delta1m_n{k}",
         'sum by (instance) (delta(node_memory_MemAvailable_bytes{{numa=~".*{k}"}}[1m]))'),
    )),
    ("filesystem", (
        ("instance:node_filesystem_avail_bytes:min_m{k}",
         'min by (instance) (node_filesystem_avail_bytes{{mountpoint="/data{k}"}})'),
        ("instance:node_filesystem_avail_bytes:deriv1m_m{k}",
         'deriv(node_filesystem_avail_bytes{{mountpoint="/data{k}"}}[1m])'),
        ("instance:node_filesystem_avail_bytes:predict1h_m{k}",
         'predict_linear(node_filesystem_avail_bytes{{mountpoint=~"/data{k}[0-9]?"}}[1m], 3600)'),
        ("job:node_filesystem_avail_bytes:sum_m{k}",
         'sum by (job) (node_filesystem_avail_bytes{{mountpoint=~"/data.*{k}"}})'),
    )),
    ("process", (
        ("instance:process_open_fds:sum_p{k}", 'sum by (instance) (process_open_fds{{pool=~"{k}[0-9]?"}})'),
        ("job:app_worker_utilization:avg_w{k}", 'avg by (job) (app_worker_utilization_ratio{{worker="{k}"}})'),
        ("instance:app_worker_utilization:stddev1m_w{k}",
         'stddev_over_time(app_worker_utilization_ratio{{worker="{k}"}}[1m])'),
        ("instance:app_worker_busy:count_w{k}",
         'count by (instance) (app_worker_utilization_ratio{{worker=~"{k}[0-9]?"}} > 0.5)'),
    )),
    ("errors", (
        ("instance:http_requests_errors:increase1m_h{k}",
         'sum by (instance) (increase(http_requests_total{{code="500",handler="/api/v{k}"}}[1m]))'),
        ("job:http_requests_errors_per_ok:ratio_rate1m_h{k}",
         'sum(rate(http_requests_total{{code="500",handler=~"/api/v{k}[0-9]?"}}[1m]))'
         ' / sum(rate(http_requests_total{{code="200",handler=~"/api/v{k}[0-9]?"}}[1m]))'),
        ("instance:http_requests_errors:clamped_rate1m_h{k}",
         'clamp_min(sum by (instance) (rate(http_requests_total{{code="500",handler="/api/v{k}"}}[1m])), 0.001)'),
        ("instance:http_requests_errors:max1m_h{k}",
         'max_over_time(http_requests_total{{code="500",handler="/api/v{k}"}}[1m])'
         ' - min_over_time(http_requests_total{{code="500",handler="/api/v{k}"}}[1m])'),
    )),
    ("scrape", (
        ("instance:up:avg1m_k{k}", 'avg_over_time(up{{instance=~".*{k}"}}[1m])'),
        ("job:scrape_duration_seconds:max1m_k{k}",
         'max by (job) (max_over_time(scrape_duration_seconds{{instance=~".*{k}[0-9]?"}}[1m]))'),
        ("instance:scrape_samples_scraped:ratio_k{k}",
         'scrape_samples_scraped{{instance=~".*{k}"}} / scrape_series_added{{instance=~".*{k}"}} >= 0'),
        ("instance:node_cpu_idle:rate1m_c{k}",
         'sum by (instance) (rate(node_cpu_seconds_total{{mode="idle",cpu="{k}"}}[1m]))'),
    )),
)


def rules(groups: int = 10, per_group: int = 100) -> list[tuple[str, list[tuple[str, str]]]]:
    """``[(group name, [(record, expr), ...]), ...]``: ``groups`` groups (themes cycle) of ``per_group`` rules."""
    out = []
    for g in range(groups):
        theme, templates = _THEMES[g % len(_THEMES)]
        lap = g // len(_THEMES)  # more groups than themes: later laps take the next selector indices
        items = []
        for i in range(per_group):
            k = (lap * per_group + i) // len(templates)
            name, expr = templates[i % len(templates)]
            items.append((name.format(k=k), expr.format(k=k)))
        out.append((f"bench_{g:02d}_{theme}", items))
    return out


def _q(s: str) -> str:
    """A YAML double-quoted scalar."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rule_file_text(groups: int = 10, per_group: int = 100, interval: str = "15s") -> str:
    lines = ["# generated by bench/rules_gen.py: recording rules over the target_server catalogue", "groups:"]
    for name, items in rules(groups, per_group):
        lines += [f"  - name: {name}", f"    interval: {interval}", "    rules:"]
        for record, expr in items:
            lines += [f"      - record: {record}", f"        expr: {_q(expr)}"]
    return "\n".join(lines) + "\n"
