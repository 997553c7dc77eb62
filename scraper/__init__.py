"""scraper: targets, relabeling, exposition parsing, scrape loops.

Modules, from configuration to storage (see docs/config.md):

* ``config`` (+ ``config_http``, ``durations``, ``_yaml``, ``_fields``) -- the
  ``prometheus.yml`` subset: ``load_config`` / ``load_config_file`` -> frozen
  ``Config``, or ``ConfigError`` naming file, line and key;
* ``relabel`` -- relabel rules, pure functions on label dicts (RE2);
* ``targets``, ``file_sd`` -- discovered label sets -> ``Target`` (URL, labels);
* ``exposition`` -- the sans-IO text / OpenMetrics parser;
* ``transport`` -- the aiohttp client (the only HTTP code);
* ``ingest`` -- one target's scrape -> one TSDB batch (sync, thread-safe per target);
* ``scrape_loop`` -- per-target schedule, staleness on stop, target status;
* ``manager`` -- ``ScrapeManager``: all jobs, reload, ``/api/v1/targets`` data.

Nothing is imported here, so ``import scraper.exposition`` stays light.
"""
