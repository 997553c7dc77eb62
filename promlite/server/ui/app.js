/* promlite web UI: the targets and status pages, and the router.
 *
 * One HTML page serves every route; the last path segment picks the page. All
 * requests use relative URLs ("api/v1/...") so the UI works behind a path prefix.
 * Scripts load in order: chart.js, util.js, complete.js, graph.js, rules.js, app.js.
 */
'use strict';

(function () {
  const { formatTime } = window.PromliteChart;
  const { el, api, errorBox, ago, graphPage, alertsPage, rulesPage } = window.Promlite;
  const main = document.getElementById('main');

  // ---- targets page ----------------------------------------------------------
  async function targetsPage() {
    const onlyBad = el('input', { type: 'checkbox', id: 'unhealthy' });
    const out = el('div', { id: 'targets' });
    const refresh = el('button', { onclick: () => load() }, 'Refresh');
    main.replaceChildren(el('h2', {}, 'Targets'),
      el('div', { class: 'controls' }, el('label', {}, onlyBad, 'only unhealthy'), refresh), out);
    onlyBad.addEventListener('change', () => load());
    let timer = null;

    async function load() {
      clearTimeout(timer);
      let env;
      try {
        env = await api('targets', { state: 'active' });
      } catch (e) {
        out.replaceChildren(errorBox(e));
        return;
      }
      const pools = new Map();
      for (const t of env.data.activeTargets) {
        if (!pools.has(t.scrapePool)) pools.set(t.scrapePool, []);
        pools.get(t.scrapePool).push(t);
      }
      const sections = [];
      for (const [pool, ts] of [...pools].sort((a, b) => a[0].localeCompare(b[0]))) {
        const up = ts.filter((t) => t.health === 'up').length;
        const shown = onlyBad.checked ? ts.filter((t) => t.health !== 'up') : ts;
        if (!shown.length && onlyBad.checked) continue;
        sections.push(el('section', { class: 'pool' },
          el('h3', {}, pool, el('span', { class: 'count', text: `(${up}/${ts.length} up)` })),
          el('table', { class: 'data' },
            el('thead', {}, el('tr', {}, ['Endpoint', 'State', 'Labels', 'Last scrape', 'Scrape duration', 'Error'].map((h) => el('th', {}, h)))),
            el('tbody', {}, shown.map((t) => el('tr', { class: 'target' },
              el('td', {}, el('a', { href: t.scrapeUrl, rel: 'noreferrer', text: t.scrapeUrl })),
              el('td', {}, el('span', { class: 'health ' + (['up', 'down'].includes(t.health) ? t.health : 'unknown'), text: t.health })),
              el('td', {}, Object.keys(t.labels).sort().map((k) => el('span', { class: 'badge', text: `${k}="${t.labels[k]}"` }))),
              el('td', { title: t.lastScrape }, ago(t.lastScrape)),
              el('td', { class: 'num' }, t.lastScrapeDuration ? `${(t.lastScrapeDuration * 1000).toFixed(1)} ms` : ''),
              el('td', { class: 'err' }, t.lastError || '')))))));
      }
      const dropped = Object.values(env.data.droppedTargetCounts || {}).reduce((a, b) => a + b, 0);
      if (!sections.length) sections.push(el('div', { class: 'alert info', text: onlyBad.checked ? 'All targets are up.' : 'No targets.' }));
      if (dropped) sections.push(el('p', { class: 'hint', text: `${dropped} target(s) dropped by relabeling.` }));
      out.replaceChildren(...sections);
      timer = setTimeout(load, 10000);  // keep "last scrape" fresh while the page is open
    }
    load();
  }

  // ---- status page -----------------------------------------------------------
  function kvTable(obj, fmt) {
    return el('table', { class: 'data kv' }, el('tbody', {}, Object.entries(obj).map(([k, v]) =>
      el('tr', {}, el('th', {}, k), el('td', { class: 'mono' }, fmt ? fmt(k, v) : String(v))))));
  }

  function topTable(title, rows) {
    return el('div', {}, el('h3', {}, title), el('table', { class: 'data kv' },
      el('thead', {}, el('tr', {}, el('th', {}, 'Name'), el('th', {}, 'Count'))),
      el('tbody', {}, (rows || []).map((r) => el('tr', {}, el('td', { class: 'mono' }, r.name), el('td', { class: 'num' }, String(r.value)))))));
  }

  async function statusPage() {
    const secs = {};
    for (const id of ['buildinfo', 'runtimeinfo', 'tsdb', 'config']) secs[id] = el('div', { id: 'status-' + id });
    main.replaceChildren(
      el('h2', {}, 'Build information'), secs.buildinfo,
      el('h2', {}, 'Runtime information'), secs.runtimeinfo,
      el('h2', {}, 'TSDB status'), secs.tsdb,
      el('h2', {}, 'Configuration'), secs.config);
    const load = async (id, render) => {
      try {
        secs[id].replaceChildren(...[].concat(render((await api('status/' + id)).data)));
      } catch (e) {
        secs[id].replaceChildren(errorBox(e));
      }
    };
    load('buildinfo', (d) => kvTable(d));
    load('runtimeinfo', (d) => kvTable(d));
    load('tsdb', (d) => [
      kvTable(d.headStats, (k, v) => (k === 'minTime' || k === 'maxTime') && Math.abs(v) < 1e15 ? `${formatTime(v, false)} (${v})` : String(v)),
      topTable('Top series count by metric name', d.seriesCountByMetricName),
      topTable('Top label value count by label name', d.labelValueCountByLabelName),
      topTable('Top memory (bytes of label values) by label name', d.memoryInBytesByLabelName),
      topTable('Top series count by label pair', d.seriesCountByLabelValuePair),
    ]);
    load('config', (d) => el('pre', { class: 'alert info mono', style: 'color: inherit', text: d.yaml || '(built-in configuration)' }));
  }

  // ---- router ----------------------------------------------------------------
  function currentPage() {
    const seg = location.pathname.split('/').filter(Boolean).pop() || 'graph';
    return ['graph', 'alerts', 'rules', 'targets', 'status'].includes(seg) ? seg : 'graph';
  }

  const page = currentPage();
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.page === page);
  document.title = `promlite · ${page}`;
  ({ graph: graphPage, alerts: alertsPage, rules: rulesPage, targets: targetsPage, status: statusPage })[page](main);
})();

