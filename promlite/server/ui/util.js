/* promlite web UI: shared helpers -- DOM building, the API client, durations and times.
 *
 * Invariant: text from the server (label names and values, errors, build strings)
 * reaches the DOM only through textContent (el() never parses markup) -- scraped
 * targets control label values, and a label must not be able to inject markup.
 */
'use strict';

(function () {
  /* el('div', {class: 'x', onclick: fn}, 'text', child, ...) */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k in e && typeof v !== 'string') e[k] = v;
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  class APIError extends Error {
    constructor(type, message) { super(message); this.type = type; }
    toString() { return `${this.type}: ${this.message}`; }
  }

  /* Calls the API; resolves to the whole envelope on success, throws APIError otherwise.
     Queries go as form-encoded POSTs (as Grafana sends them) so long expressions fit. */
  async function api(path, params, opts) {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
      if (v === undefined || v === null || v === '') continue;
      for (const x of Array.isArray(v) ? v : [v]) body.append(k, String(x));
    }
    const post = opts && opts.post;
    const url = 'api/v1/' + path + (!post && [...body].length ? '?' + body : '');
    let resp;
    try {
      resp = await fetch(url, post
        ? { method: 'POST', body, signal: opts.signal, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }
        : { signal: opts && opts.signal });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new APIError('network', `cannot reach the server: ${e.message}`);
    }
    let env;
    try {
      env = await resp.json();
    } catch (e) {
      throw new APIError('http', `HTTP ${resp.status} ${resp.statusText}: the answer is not JSON`);
    }
    if (env.status !== 'success') throw new APIError(env.errorType || 'error', env.error || `HTTP ${resp.status}`);
    return env;
  }

  function errorBox(err) {
    return el('div', { class: 'alert error', role: 'alert', text: 'Error: ' + String(err) });
  }

  function labelsText(metric) {
    const name = metric.__name__ || '';
    const pairs = Object.keys(metric).filter((k) => k !== '__name__').sort()
      .map((k) => `${k}=${JSON.stringify(metric[k])}`);
    return pairs.length || !name ? `${name}{${pairs.join(', ')}}` : name;
  }

  function parseSampleValue(s) {
    if (s === '+Inf') return Infinity;
    if (s === '-Inf') return -Infinity;
    return parseFloat(s);  // "NaN" -> NaN
  }

  // ---- durations: "1h30m" <-> seconds ---------------------------------------
  const UNITS = { y: 31536000, w: 604800, d: 86400, h: 3600, m: 60, s: 1, ms: 0.001 };

  function parseDuration(text) {
    const s = String(text).trim();
    if (/^\d+(\.\d+)?$/.test(s)) return parseFloat(s);
    const re = /(\d+)(ms|y|w|d|h|m|s)/g;
    let total = 0, used = 0, m;
    while ((m = re.exec(s)) !== null) { total += parseInt(m[1], 10) * UNITS[m[2]]; used += m[0].length; }
    return used === s.length && used > 0 ? total : null;
  }

  function formatDuration(sec) {
    let rest = Math.round(sec * 1000) / 1000;
    if (rest <= 0) return '0s';
    let out = '';
    for (const u of ['y', 'w', 'd', 'h', 'm', 's']) {
      const n = Math.floor(rest / UNITS[u]);
      if (n > 0) { out += n + u; rest -= n * UNITS[u]; }
    }
    if (rest > 0) out += Math.round(rest * 1000) + 'ms';
    return out;
  }

  /* How long ago an RFC 3339 time was ("1.8s ago", "3m20s ago"); Go's zero time is "never". */
  function ago(iso) {
    const t = Date.parse(iso);
    if (!t || t < 1000) return 'never';
    const s = (Date.now() - t) / 1000;
    if (s < 0) return 'just now';
    return s < 60 ? `${s.toFixed(1)}s ago` : `${formatDuration(Math.round(s))} ago`;
  }

  /* "YYYY-MM-DD HH:MM[:SS]" (UTC unless local) or unix seconds -> ms; '' -> null (now). */
  function parseEndTime(text, local) {
    const s = text.trim();
    if (!s || s === 'now') return null;
    if (/^\d+(\.\d+)?$/.test(s)) return Math.round(parseFloat(s) * 1000);
    const m = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d)(?::(\d\d))?(?:\s*UTC|Z)?$/.exec(s);
    if (!m) return undefined;
    const f = m.slice(1).map((x) => parseInt(x || '0', 10));
    return local ? new Date(f[0], f[1] - 1, f[2], f[3], f[4], f[5]).getTime()
      : Date.UTC(f[0], f[1] - 1, f[2], f[3], f[4], f[5]);
  }


  window.Promlite = Object.assign(window.Promlite || {}, {
    el, APIError, api, errorBox, labelsText, parseSampleValue, parseDuration, formatDuration, parseEndTime, ago,
  });
})();
