/* promlite web UI: the Alerts and Rules pages (from /api/v1/rules).
 *
 * Alerts: every alerting rule with its state (firing, pending, inactive), counts
 * per state, a filter by state, and for each rule its definition and its active
 * alert instances (labels, state, active since, value). Rules: every group with
 * its interval and last evaluation, and each rule's query, labels, health, last
 * error and evaluation time. Both refresh every 15 s while open.
 * Text from the server goes through el() (textContent only), as everywhere.
 */
'use strict';

(function () {
  const { el, api, errorBox, formatDuration, ago } = window.Promlite;

  function seconds(s) {
    if (!s) return '0s';
    return s < 1 ? `${(s * 1000).toFixed(1)} ms` : formatDuration(Math.round(s));
  }

  function badges(obj) {
    return Object.keys(obj || {}).sort().map((k) => el('span', { class: 'badge', text: `${k}="${obj[k]}"` }));
  }

  function graphLink(expr) {
    return el('a', { class: 'mono', href: 'graph?' + new URLSearchParams({ expr, tab: 'table' }), text: expr });
  }

  function keyValues(rows) {
    return el('table', { class: 'data kv' }, el('tbody', {}, rows.filter((r) => r[1] !== null && r[1] !== undefined)
      .map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {}, v)))));
  }

  async function loadRules(type) {
    return (await api('rules', type ? { type } : {})).data.groups;
  }

  // ---- alerts page -----------------------------------------------------------
  async function alertsPage(main) {
    const states = ['firing', 'pending', 'inactive'];
    const boxes = Object.fromEntries(states.map((s) => [s, el('input', { type: 'checkbox', id: 'show-' + s, checked: true })]));
    const counts = el('div', { id: 'alert-counts', class: 'controls' });
    const out = el('div', { id: 'alerts' });
    main.replaceChildren(el('h2', {}, 'Alerts'), counts,
      el('div', { class: 'controls' }, states.map((s) => el('label', {}, boxes[s], s))), out);
    let timer = null;
    let groups = [];

    function render() {
      const rules = groups.flatMap((g) => g.rules.map((r) => ({ ...r, group: g.name, file: g.file })));
      const n = Object.fromEntries(states.map((s) => [s, rules.filter((r) => r.state === s).length]));
      counts.replaceChildren(...states.map((s) => el('span', { class: 'health ' + s, text: `${s} (${n[s]})` })));
      const shown = rules.filter((r) => boxes[r.state] && boxes[r.state].checked);
      if (!shown.length) {
        out.replaceChildren(el('div', { class: 'alert info', text: rules.length ? 'No alerting rules in the selected states.' : 'No alerting rules configured.' }));
        return;
      }
      out.replaceChildren(...shown.map((r) => {
        const details = el('details', { class: 'rule alert-rule ' + r.state, open: r.state !== 'inactive' },
          el('summary', {},
            el('span', { class: 'health ' + r.state, text: r.state }), ' ',
            el('strong', { class: 'rule-name', text: r.name }),
            el('span', { class: 'count', text: ` (${r.alerts.length} active)` }),
            el('span', { class: 'hint', text: ` ${r.file} > ${r.group}` })),
          keyValues([
            ['alert', r.name], ['expr', graphLink(r.query)],
            ['for', r.duration ? formatDuration(r.duration) : null],
            ['keep_firing_for', r.keepFiringFor ? formatDuration(r.keepFiringFor) : null],
            ['labels', Object.keys(r.labels).length ? badges(r.labels) : null],
            ['annotations', Object.keys(r.annotations).length ? el('div', {}, Object.keys(r.annotations).sort().map((k) => el('div', {}, el('span', { class: 'mono', text: k + ': ' }), r.annotations[k]))) : null],
            ['error', r.lastError ? el('span', { class: 'err', text: r.lastError }) : null],
          ]));
        if (r.alerts.length) {
          details.append(el('table', { class: 'data alert-instances' },
            el('thead', {}, el('tr', {}, ['Labels', 'State', 'Active since', 'Value'].map((h) => el('th', {}, h)))),
            el('tbody', {}, r.alerts.map((a) => el('tr', { class: 'alert-instance' },
              el('td', {}, badges(a.labels)),
              el('td', {}, el('span', { class: 'health ' + a.state, text: a.state })),
              el('td', { title: a.activeAt }, ago(a.activeAt)),
              el('td', { class: 'num mono' }, a.value))))));
        }
        return details;
      }));
    }

    async function load() {
      clearTimeout(timer);
      try {
        groups = await loadRules('alert');
      } catch (e) {
        out.replaceChildren(errorBox(e));
        return;
      }
      render();
      timer = setTimeout(load, 15000);
    }
    for (const b of Object.values(boxes)) b.addEventListener('change', render);
    load();
  }

  // ---- rules page ------------------------------------------------------------
  async function rulesPage(main) {
    const out = el('div', { id: 'rules' });
    main.replaceChildren(el('h2', {}, 'Rules'), out);
    let timer = null;

    async function load() {
      clearTimeout(timer);
      let groups;
      try {
        groups = await loadRules('');
      } catch (e) {
        out.replaceChildren(errorBox(e));
        return;
      }
      if (!groups.length) {
        out.replaceChildren(el('div', { class: 'alert info', text: 'No rules configured (rule_files in the configuration).' }));
        return;
      }
      out.replaceChildren(...groups.map((g) => el('section', { class: 'pool rule-group' },
        el('h3', {}, g.name, el('span', { class: 'count', text: ` ${g.file} · every ${formatDuration(g.interval)} · last evaluation ${ago(g.lastEvaluation)} · took ${seconds(g.evaluationTime)}` })),
        el('table', { class: 'data' },
          el('thead', {}, el('tr', {}, ['Rule', 'State', 'Error', 'Last evaluation', 'Evaluation time'].map((h) => el('th', {}, h)))),
          el('tbody', {}, g.rules.map((r) => el('tr', { class: 'rule-row' },
            el('td', {},
              el('div', {}, el('span', { class: 'mono', text: (r.type === 'alerting' ? 'alert: ' : 'record: ') }), el('strong', { text: r.name })),
              el('div', {}, el('span', { class: 'mono', text: 'expr: ' }), graphLink(r.query)),
              Object.keys(r.labels).length ? el('div', {}, badges(r.labels)) : null),
            el('td', {}, el('span', { class: 'health ' + (r.health === 'ok' ? 'up' : r.health === 'err' ? 'down' : 'unknown'), text: r.health })),
            el('td', { class: 'err' }, r.lastError || ''),
            el('td', { title: r.lastEvaluation }, ago(r.lastEvaluation)),
            el('td', { class: 'num' }, seconds(r.evaluationTime)))))))));
      timer = setTimeout(load, 15000);
    }
    load();
  }

  window.Promlite.alertsPage = alertsPage;
  window.Promlite.rulesPage = rulesPage;
})();
