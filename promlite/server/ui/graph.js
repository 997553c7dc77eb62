/* promlite web UI: the graph page -- expression, table view and graph view.
 *
 * The page keeps its state in the query string (expr, tab, range, end, step, stacked,
 * local), so a view can be bookmarked and the back button works (a popstate reloads).
 * Queries go out as form POSTs; a newer query aborts the one in flight, and an answer
 * that arrives after a newer query started is dropped.
 */
'use strict';

(function () {
  const { Chart, seriesColor, formatTime } = window.PromliteChart;
  const { el, APIError, api, errorBox, labelsText, parseSampleValue, parseDuration, formatDuration, parseEndTime, Autocomplete } = window.Promlite;

  const RANGES = [60, 300, 900, 1800, 3600, 7200, 21600, 43200, 86400, 172800, 604800, 1209600, 2419200, 4838400];
  const MAX_POINTS = 11000;  // Prometheus's per-series limit for query_range
  const MAX_TABLE_ROWS = 10000;

  function readState() {
    const p = new URLSearchParams(location.search);
    return {
      expr: p.get('expr') || '',
      tab: p.get('tab') === 'table' ? 'table' : 'graph',
      range: parseDuration(p.get('range') || '1h') || 3600,
      end: p.get('end') ? parseFloat(p.get('end')) * 1000 : null,
      step: p.get('step') ? parseDuration(p.get('step')) : null,
      stacked: p.get('stacked') === '1',
      local: p.get('local') === '1',
    };
  }

  function writeState(st, push) {
    const p = new URLSearchParams();
    if (st.expr) p.set('expr', st.expr);
    p.set('tab', st.tab);
    p.set('range', formatDuration(st.range));
    if (st.end !== null) p.set('end', String(st.end / 1000));
    if (st.step) p.set('step', formatDuration(st.step));
    if (st.stacked) p.set('stacked', '1');
    if (st.local) p.set('local', '1');
    const url = location.pathname + '?' + p;
    if (push) history.pushState(null, '', url); else history.replaceState(null, '', url);
  }

  function graphPage(main) {
    const st = readState();
    const zoomStack = [];
    let inflight = null;
    let chart = null;
    let lastData = null;

    const ta = el('textarea', { id: 'expr', rows: 1, spellcheck: 'false', placeholder: 'Expression (press Enter to execute; Shift+Enter for a new line)', 'aria-label': 'Expression' });
    ta.value = st.expr;
    const execBtn = el('button', { id: 'execute', class: 'primary', onclick: () => execute(true) }, 'Execute');
    const fmtBtn = el('button', { id: 'format', title: 'Format the expression (api/v1/format_query)', onclick: formatExpr }, 'Format');
    const wrap = el('div', { class: 'exprwrap' }, ta);
    const ac = new Autocomplete(ta, () => execute(true));
    api('label/__name__/values').then((env) => { ac.names = env.data; }).catch(() => { /* autocomplete is optional */ });

    const tabTable = el('button', { 'data-tab': 'table', onclick: () => setTab('table') }, 'Table');
    const tabGraph = el('button', { 'data-tab': 'graph', onclick: () => setTab('graph') }, 'Graph');
    const alerts = el('div', { id: 'alerts' });
    const stats = el('div', { class: 'stats', id: 'stats' });
    const body = el('div', { id: 'result' });

    // graph controls
    const rangeIn = el('input', { type: 'text', class: 'range', id: 'range', value: formatDuration(st.range), title: 'Range (e.g. 1h, 30m, 2d)' });
    const endIn = el('input', { type: 'text', class: 'endtime', id: 'endtime', placeholder: 'now', title: 'End time: YYYY-MM-DD HH:MM:SS, unix seconds, or empty for now' });
    const stepIn = el('input', { type: 'text', class: 'step', id: 'step', placeholder: 'auto', value: st.step ? formatDuration(st.step) : '', title: 'Resolution (step), e.g. 15s; empty for automatic' });
    const stackedIn = el('input', { type: 'checkbox', id: 'stacked', checked: st.stacked, onchange: () => { st.stacked = stackedIn.checked; writeState(st); redraw(); } });
    const localIn = el('input', { type: 'checkbox', id: 'localtime', checked: st.local, onchange: () => { st.local = localIn.checked; showEnd(); writeState(st); redraw(); } });
    const resetBtn = el('button', { id: 'resetzoom', hidden: true, onclick: resetZoom }, 'Reset zoom');
    const showEnd = () => { endIn.value = st.end === null ? '' : formatTime(st.end, st.local); };
    showEnd();
    const shiftRange = (dir) => {
      const i = RANGES.findIndex((r) => r >= st.range);
      const k = dir < 0 ? (i <= 0 ? 0 : (RANGES[i] === st.range ? i - 1 : i - 1)) : (i < 0 ? RANGES.length - 1 : (RANGES[i] === st.range ? Math.min(i + 1, RANGES.length - 1) : i));
      st.range = RANGES[Math.max(0, k)];
      rangeIn.value = formatDuration(st.range);
      execute(true);
    };
    const shiftEnd = (dir) => {
      const now = Date.now();
      const end = (st.end === null ? now : st.end) + dir * st.range * 500;
      st.end = end >= now ? null : Math.round(end);
      showEnd();
      execute(true);
    };
    rangeIn.addEventListener('change', () => {
      const r = parseDuration(rangeIn.value);
      if (r && r > 0) { st.range = r; execute(true); } else rangeIn.value = formatDuration(st.range);
    });
    endIn.addEventListener('change', () => {
      const t = parseEndTime(endIn.value, st.local);
      if (t === undefined) { showEnd(); return; }
      st.end = t; showEnd(); execute(true);
    });
    stepIn.addEventListener('change', () => {
      const s = stepIn.value.trim() ? parseDuration(stepIn.value) : null;
      st.step = s && s > 0 ? s : null;
      stepIn.value = st.step ? formatDuration(st.step) : '';
      execute(true);
    });
    const graphControls = el('div', { class: 'controls', id: 'graphcontrols' },
      el('span', { class: 'group' },
        el('button', { title: 'Shorter range', onclick: () => shiftRange(-1) }, '−'), rangeIn,
        el('button', { title: 'Longer range', onclick: () => shiftRange(1) }, '+')),
      el('span', { class: 'group' },
        el('button', { title: 'Back by half the range', onclick: () => shiftEnd(-1) }, '«'), endIn,
        el('button', { title: 'Forward by half the range', onclick: () => shiftEnd(1) }, '»'),
        el('button', { title: 'End at now', onclick: () => { st.end = null; showEnd(); execute(true); } }, 'now')),
      stepIn,
      el('label', {}, stackedIn, 'stacked'),
      el('label', {}, localIn, 'local time'),
      resetBtn);
    const tableControls = el('div', { class: 'controls', id: 'tablecontrols' },
      el('span', { class: 'hint', text: 'Instant query evaluated at the end time:' }),
      el('span', { class: 'group' },
        el('button', { title: 'Back by half the range', onclick: () => shiftEnd(-1) }, '«'),
        el('button', { title: 'Evaluate at now', onclick: () => { st.end = null; showEnd(); execute(true); } }, 'now')));
    const panel = el('div', { class: 'panel' }, graphControls, tableControls, alerts, stats, body);

    main.replaceChildren(
      el('div', { class: 'exprbar' }, wrap, fmtBtn, execBtn),
      el('div', { class: 'tabs' }, tabTable, tabGraph),
      panel);

    function setTab(tab) {
      st.tab = tab;
      tabTable.classList.toggle('active', tab === 'table');
      tabGraph.classList.toggle('active', tab === 'graph');
      graphControls.hidden = tab !== 'graph';
      tableControls.hidden = tab !== 'table';
      execute(false);
    }

    async function formatExpr() {
      if (!ta.value.trim()) return;
      alerts.replaceChildren();
      try {
        ta.value = (await api('format_query', { query: ta.value }, { post: true })).data;
      } catch (e) {
        alerts.replaceChildren(errorBox(e));
      }
    }

    function resetZoom() {
      const prev = zoomStack.pop();
      if (!prev) return;
      st.range = prev.range; st.end = prev.end;
      rangeIn.value = formatDuration(st.range); showEnd();
      execute(true);
    }

    function redraw() {
      if (chart && lastData) chart.setData(lastData, st.stacked, st.local);
    }

    async function execute(push) {
      st.expr = ta.value.trim();
      resetBtn.hidden = zoomStack.length === 0;
      writeState(st, push);
      alerts.replaceChildren();
      if (!st.expr) { body.replaceChildren(el('div', { class: 'alert info', text: 'Enter an expression and press Execute.' })); stats.textContent = ''; return; }
      if (inflight) inflight.abort();
      const ctrl = inflight = new AbortController();
      stats.textContent = 'Loading…';
      const t0 = performance.now();
      try {
        if (st.tab === 'table') {
          const time = st.end === null ? Date.now() / 1000 : st.end / 1000;
          const env = await api('query', { query: st.expr, time }, { post: true, signal: ctrl.signal });
          if (ctrl !== inflight) return;
          showWarnings(env);
          renderTable(env.data);
          stats.textContent = `Load time: ${Math.round(performance.now() - t0)} ms · Evaluated at ${formatTime(time * 1000, st.local)} · Result: ${resultSize(env.data)}`;
        } else {
          const end = st.end === null ? Date.now() : st.end;
          const range = st.range * 1000;
          let step = st.step ? st.step * 1000 : Math.max(Math.floor(st.range / 250), 1) * 1000;
          step = Math.max(step, Math.ceil(range / (MAX_POINTS - 1) / 1000) * 1000);
          const start = end - range;
          const env = await api('query_range', { query: st.expr, start: start / 1000, end: end / 1000, step: step / 1000 }, { post: true, signal: ctrl.signal });
          if (ctrl !== inflight) return;
          showWarnings(env);
          renderGraph(env.data, start, end, step);
          stats.textContent = `Load time: ${Math.round(performance.now() - t0)} ms · Resolution: ${formatDuration(step / 1000)} · Result series: ${env.data.result.length}`;
        }
      } catch (e) {
        if (e.name === 'AbortError') return;
        if (ctrl !== inflight) return;
        stats.textContent = '';
        body.replaceChildren();
        if (chart) { chart.destroy(); chart = null; }
        alerts.replaceChildren(errorBox(e));
      }
    }

    function showWarnings(env) {
      for (const w of env.warnings || []) alerts.append(el('div', { class: 'alert warn', text: 'Warning: ' + w }));
      for (const w of env.infos || []) alerts.append(el('div', { class: 'alert info', text: w }));
    }

    function resultSize(data) {
      if (data.resultType === 'scalar' || data.resultType === 'string') return data.resultType;
      return `${data.result.length} series`;
    }

    function renderTable(data) {
      if (chart) { chart.destroy(); chart = null; }
      const rows = [];
      const r = data.result;
      if (data.resultType === 'scalar' || data.resultType === 'string') {
        rows.push([data.resultType, r[1]]);
      } else if (data.resultType === 'vector') {
        for (const s of r.slice(0, MAX_TABLE_ROWS)) rows.push([labelsText(s.metric), s.value[1]]);
      } else {
        for (const s of r.slice(0, MAX_TABLE_ROWS)) {
          rows.push([labelsText(s.metric), (s.values || []).map(([t, v]) => `${v} @${t}`).join('\n')]);
        }
      }
      if (!rows.length) { body.replaceChildren(el('div', { class: 'alert info', text: 'Empty query result' })); return; }
      const table = el('table', { class: 'data', id: 'resulttable' },
        el('thead', {}, el('tr', {}, el('th', {}, 'Series'), el('th', {}, 'Value'))),
        el('tbody', {}, rows.map(([k, v]) => el('tr', {}, el('td', { class: 'labels' }, k), el('td', { class: 'num', style: 'white-space: pre' }, v)))));
      body.replaceChildren(table);
      if (Array.isArray(r) && r.length > MAX_TABLE_ROWS && data.resultType !== 'scalar') {
        alerts.append(el('div', { class: 'alert warn', text: `Showing ${MAX_TABLE_ROWS} of ${r.length} series.` }));
      }
    }

    function renderGraph(data, start, end, step) {
      if (data.resultType !== 'matrix') throw new APIError('ui', `a range query returned ${data.resultType}`);
      const n = Math.round((end - start) / step) + 1;
      const series = data.result.map((s, k) => {
        const values = new Float64Array(n).fill(NaN);
        const raw = new Array(n);
        for (const [t, v] of s.values || []) {
          const i = Math.round((t * 1000 - start) / step);
          if (i >= 0 && i < n) { values[i] = parseSampleValue(v); raw[i] = v; }
        }
        return { name: labelsText(s.metric), values, raw, color: seriesColor(k), visible: true };
      });
      if (!series.length) {
        if (chart) { chart.destroy(); chart = null; }
        body.replaceChildren(el('div', { class: 'alert info', text: 'Empty query result' }));
        return;
      }
      lastData = { start, end: start + (n - 1) * step, step, series };
      if (!chart) {
        body.replaceChildren();
        chart = new Chart(body, {
          onZoom: (a, b) => {
            zoomStack.push({ range: st.range, end: st.end });
            st.end = Math.round(b);
            st.range = Math.max(1, Math.round((b - a) / 1000));
            rangeIn.value = formatDuration(st.range); showEnd();
            execute(true);
          },
          onReset: resetZoom,
        });
      } else {
        for (const old of body.querySelectorAll('.legend, .hint')) old.remove();
      }
      const legend = el('ul', { class: 'legend', id: 'legend' });
      const paint = () => {
        [...legend.children].forEach((li, k) => li.classList.toggle('off', !series[k].visible));
        chart.setData(lastData, st.stacked, st.local);
      };
      for (const s of series) {
        legend.append(el('li', {
          onmouseenter: () => { if (s.visible) chart.setHighlight(s); },
          onmouseleave: () => chart.setHighlight(null),
          title: 'Click: show only this series (again: all). Ctrl/Cmd+click: toggle it.',
          onclick: (e) => {
            if (e.ctrlKey || e.metaKey) s.visible = !s.visible;
            else {
              const only = s.visible && series.every((o) => o === s || !o.visible);
              for (const o of series) o.visible = only || o === s;
            }
            paint();
          },
        }, el('span', { class: 'swatch', style: `background:${s.color}` }), s.name));
      }
      body.append(legend, el('div', { class: 'hint', text: 'Drag on the graph to zoom in; double-click or "Reset zoom" to go back.' }));
      paint();
    }

    window.addEventListener('popstate', () => location.reload());  // the URL holds the whole state
    setTab(st.tab);
    ta.focus();
  }


  window.Promlite.graphPage = graphPage;
})();
