/* promlite web UI: the time-series chart, drawn on <canvas> by hand (no libraries).
 *
 * Strategy: a range query's samples all sit on the grid start + i*step, so each series
 * becomes one Float64Array over that grid (NaN = no sample). Stacking, the y range and
 * hover lookup are then index arithmetic, with no per-pixel search. Two canvases are
 * layered: "base" holds axes and series and is redrawn only when data, size or
 * visibility change; "overlay" holds the crosshair and the zoom selection and is
 * redrawn on every mouse move (cheap: it is cleared and a few shapes are drawn).
 *
 * Invariants: values that are not finite (NaN, +Inf, -Inf) are gaps in the lines;
 * the tooltip still reports the value when a sample exists. Everything is sized in
 * CSS pixels and scaled once by devicePixelRatio, so lines stay sharp on HiDPI screens.
 */
'use strict';

const PALETTE = ['#1f77b4', '#e6522c', '#2ca02c', '#9467bd', '#d62728', '#17becf',
  '#bcbd22', '#8c564b', '#e377c2', '#7f7f7f', '#3b5bdb', '#f59f00'];

function seriesColor(i) {
  if (i < PALETTE.length) return PALETTE[i];
  return `hsl(${(i * 137.508) % 360}, 62%, 45%)`;  // golden angle: far-apart hues
}

/* Tick spacing for the time axis, in seconds: the smallest that keeps labels apart. */
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
  21600, 43200, 86400, 172800, 604800, 1209600, 2592000, 7776000, 31536000];

function pad2(n) { return String(n).padStart(2, '0'); }

/* Calendar fields of t (ms) in UTC or the browser's zone. */
function timeParts(t, local) {
  const d = new Date(t);
  return local
    ? { Y: d.getFullYear(), M: d.getMonth() + 1, D: d.getDate(), h: d.getHours(), m: d.getMinutes(), s: d.getSeconds() }
    : { Y: d.getUTCFullYear(), M: d.getUTCMonth() + 1, D: d.getUTCDate(), h: d.getUTCHours(), m: d.getUTCMinutes(), s: d.getUTCSeconds() };
}

function formatTime(t, local) {
  const p = timeParts(t, local);
  const ms = Math.round(t % 1000);
  return `${p.Y}-${pad2(p.M)}-${pad2(p.D)} ${pad2(p.h)}:${pad2(p.m)}:${pad2(p.s)}` +
    (ms ? '.' + String(ms).padStart(3, '0') : '') + (local ? '' : ' UTC');
}

/* Time ticks (ms) between t0 and t1, aligned to the interval in the chosen zone. */
function timeTicks(t0, t1, maxTicks, local) {
  const span = (t1 - t0) / 1000;
  let step = TIME_STEPS[TIME_STEPS.length - 1];
  for (const s of TIME_STEPS) { if (span / s <= maxTicks) { step = s; break; } }
  const stepMs = step * 1000;
  // shift by the zone offset so that e.g. 6 h ticks land on local 00:00, 06:00, ...
  const off = local ? -new Date(t0).getTimezoneOffset() * 60000 : 0;
  const ticks = [];
  for (let t = Math.ceil((t0 + off) / stepMs) * stepMs - off; t <= t1; t += stepMs) ticks.push(t);
  return { ticks, step };
}

/* "Nice" y ticks: 1, 2 or 5 times a power of ten. */
function valueTicks(lo, hi, maxTicks) {
  const raw = (hi - lo) / Math.max(1, maxTicks);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  let step = mag;
  for (const f of [1, 2, 2.5, 5, 10]) { if (raw <= f * mag) { step = f * mag; break; } }
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return { ticks, step };
}

/* Short axis label: SI prefixes for big and small magnitudes, as Prometheus's UI does. */
function formatValue(v, step) {
  if (v === 0) return '0';
  if (!isFinite(v)) return v > 0 ? '+Inf' : (v < 0 ? '-Inf' : 'NaN');
  const a = Math.abs(v);
  const units = [[1e15, 'P'], [1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [f, u] of units) {
    if (a >= f) return trimNum(v / f, step ? step / f : 0) + u;
  }
  if (a < 1e-3) {
    for (const [f, u] of [[1e-3, 'm'], [1e-6, 'µ'], [1e-9, 'n'], [1e-12, 'p']]) {
      if (a >= f) return trimNum(v / f, step ? step / f : 0) + u;
    }
    return v.toExponential(2);
  }
  return trimNum(v, step);
}

function trimNum(v, step) {
  const digits = step ? Math.max(0, Math.min(6, -Math.floor(Math.log10(step)) + 1)) : 4;
  return String(parseFloat(v.toFixed(digits)));
}

class Chart {
  /* container: an element to fill; opts.onZoom(startMs, endMs) is called after a drag selection. */
  constructor(container, opts) {
    this.opts = opts || {};
    this.root = document.createElement('div');
    this.root.className = 'graph';
    this.base = document.createElement('canvas');
    this.base.className = 'base';
    this.overlay = document.createElement('canvas');
    this.overlay.className = 'overlay';
    this.tooltip = document.createElement('div');
    this.tooltip.className = 'tooltip';
    this.tooltip.hidden = true;
    this.root.append(this.base, this.overlay, this.tooltip);
    container.append(this.root);
    this.height = this.opts.height || 380;
    this.series = [];
    this.drag = null;
    this.hover = null;
    this.overlay.addEventListener('mousemove', (e) => this.onMove(e));
    this.overlay.addEventListener('mouseleave', () => { this.hover = null; if (!this.drag) this.drawOverlay(); });
    this.overlay.addEventListener('mousedown', (e) => { if (e.button === 0) { this.drag = { x0: this.mouseX(e), x1: this.mouseX(e) }; e.preventDefault(); } });
    this.overlay.addEventListener('dblclick', () => { if (this.opts.onReset) this.opts.onReset(); });
    this._up = (e) => this.onUp(e);
    window.addEventListener('mouseup', this._up);
    this._resize = () => this.draw();
    window.addEventListener('resize', this._resize);
  }

  destroy() {
    window.removeEventListener('mouseup', this._up);
    window.removeEventListener('resize', this._resize);
    this.root.remove();
  }

  /* data: {start, end, step (ms), series: [{name, values: Float64Array, color, visible}]}, stacked, local */
  setData(data, stacked, local) {
    this.data = data;
    this.stacked = stacked;
    this.local = local;
    this.hover = null;
    this.draw();
  }

  /* Emphasise one series (legend hover) or none (null). */
  setHighlight(s) {
    if (this.highlight === s) return;
    this.highlight = s;
    if (this.data) this.draw();
  }

  mouseX(e) { return e.clientX - this.overlay.getBoundingClientRect().left; }
  mouseY(e) { return e.clientY - this.overlay.getBoundingClientRect().top; }

  /* Per visible series: the y of each point's bottom and top (stacked) or value (lines). */
  layers() {
    const d = this.data;
    const n = Math.round((d.end - d.start) / d.step) + 1;
    const acc = new Float64Array(n);
    const out = [];
    for (const s of d.series) {
      if (!s.visible) continue;
      const lo = new Float64Array(n).fill(NaN);
      const hi = new Float64Array(n).fill(NaN);
      for (let i = 0; i < n; i++) {
        const v = s.values[i];
        if (!isFinite(v)) continue;
        if (this.stacked) { lo[i] = acc[i]; acc[i] += v; hi[i] = acc[i]; } else { hi[i] = v; }
      }
      out.push({ s, lo, hi });
    }
    return { n, layers: out };
  }

  draw() {
    const d = this.data;
    const w = this.root.clientWidth || 800;
    const h = this.height;
    const dpr = window.devicePixelRatio || 1;
    for (const c of [this.base, this.overlay]) {
      c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
      c.style.width = w + 'px'; c.style.height = h + 'px';
    }
    const ctx = this.base.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, w, h);
    if (!d) return;
    const { n, layers } = this.layers();
    let lo = Infinity, hi = -Infinity;
    for (const L of layers) {
      for (let i = 0; i < n; i++) {
        const v = L.hi[i];
        if (!isFinite(v)) continue;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        if (this.stacked && L.lo[i] < lo) lo = L.lo[i];
      }
    }
    if (lo === Infinity) { lo = 0; hi = 1; }
    if (this.stacked) { lo = Math.min(lo, 0); hi = Math.max(hi, 0); }
    if (hi === lo) { const pad = Math.abs(hi) * 0.1 || 1; lo -= pad; hi += pad; }
    ctx.font = '11px system-ui, sans-serif';
    const plotTop = 10, plotBottom = h - 36;
    const yt = valueTicks(lo, hi, Math.max(2, Math.floor((plotBottom - plotTop) / 45)));
    // frame the data by whole ticks, so the highest and lowest lines do not touch the edges
    lo = Math.floor(lo / yt.step + 1e-9) * yt.step;
    hi = Math.ceil(hi / yt.step - 1e-9) * yt.step;
    yt.ticks = [];
    for (let k = 0, nt = Math.round((hi - lo) / yt.step); k <= nt; k++) {
      const v = lo + k * yt.step;
      yt.ticks.push(Math.abs(v) < yt.step * 1e-9 ? 0 : v);
    }
    const yLabels = yt.ticks.map((v) => formatValue(v, yt.step));
    const left = 12 + Math.max(...yLabels.map((s) => ctx.measureText(s).width));
    const right = w - 16;
    const g = { left, right, top: plotTop, bottom: plotBottom, lo, hi, t0: d.start, t1: d.end, n };
    g.x = (t) => left + (t - g.t0) / Math.max(1, g.t1 - g.t0) * (right - left);
    g.y = (v) => plotBottom - (v - lo) / (hi - lo) * (plotBottom - plotTop);
    g.t = (x) => g.t0 + (x - left) / (right - left) * (g.t1 - g.t0);
    this.geom = g;
    this.cached = layers;

    // grid and axes
    ctx.strokeStyle = '#e6e8ec';
    ctx.lineWidth = 1;
    ctx.fillStyle = '#4b5563';
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    yt.ticks.forEach((v, k) => {
      const y = Math.round(g.y(v)) + 0.5;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(right, y); ctx.stroke();
      ctx.fillText(yLabels[k], left - 6, y);
    });
    const tt = timeTicks(d.start, d.end, Math.max(2, Math.floor((right - left) / 95)), this.local);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    let lastDay = '';
    for (const t of tt.ticks) {
      const x = Math.round(g.x(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(x, plotTop); ctx.lineTo(x, plotBottom); ctx.stroke();
      const p = timeParts(t, this.local);
      const day = `${p.Y}-${pad2(p.M)}-${pad2(p.D)}`;
      const label = tt.step >= 86400 ? `${pad2(p.M)}-${pad2(p.D)}`
        : tt.step < 60 ? `${pad2(p.h)}:${pad2(p.m)}:${pad2(p.s)}` : `${pad2(p.h)}:${pad2(p.m)}`;
      ctx.fillText(label, x, plotBottom + 5);
      if (day !== lastDay && tt.step < 86400) { ctx.fillText(day, x, plotBottom + 19); lastDay = day; }
    }
    ctx.strokeStyle = '#9aa1ac';
    ctx.beginPath(); ctx.moveTo(left + 0.5, plotTop); ctx.lineTo(left + 0.5, plotBottom + 0.5); ctx.lineTo(right, plotBottom + 0.5); ctx.stroke();

    // series, clipped to the plot area
    ctx.save();
    ctx.beginPath(); ctx.rect(left, plotTop - 1, right - left + 1, plotBottom - plotTop + 2); ctx.clip();
    const tAt = (i) => d.start + i * d.step;
    for (const L of layers) {
      // a series hovered in the legend stands out; the others fade
      ctx.globalAlpha = this.highlight && this.highlight !== L.s ? 0.2 : 1;
      if (this.stacked) {
        ctx.fillStyle = L.s.color;
        ctx.globalAlpha = 0.35;
        this.eachRun(L.hi, n, (a, b) => {
          ctx.beginPath();
          for (let i = a; i <= b; i++) ctx.lineTo(g.x(tAt(i)), g.y(L.hi[i]));
          for (let i = b; i >= a; i--) ctx.lineTo(g.x(tAt(i)), g.y(L.lo[i]));
          ctx.closePath(); ctx.fill();
        });
        ctx.globalAlpha = this.highlight && this.highlight !== L.s ? 0.2 : 1;
      }
      ctx.strokeStyle = L.s.color;
      ctx.fillStyle = L.s.color;
      ctx.lineWidth = 1.6;
      ctx.lineJoin = 'round';
      this.eachRun(L.hi, n, (a, b) => {
        if (a === b) {  // a lone sample: a dot, or it would be invisible
          ctx.beginPath(); ctx.arc(g.x(tAt(a)), g.y(L.hi[a]), 2, 0, 2 * Math.PI); ctx.fill();
          return;
        }
        ctx.beginPath();
        for (let i = a; i <= b; i++) ctx.lineTo(g.x(tAt(i)), g.y(L.hi[i]));
        ctx.stroke();
      });
    }
    ctx.globalAlpha = 1;
    ctx.restore();
    this.drawOverlay();
  }

  /* Calls fn(a, b) for each maximal run [a, b] of finite values. */
  eachRun(arr, n, fn) {
    let a = -1;
    for (let i = 0; i <= n; i++) {
      const ok = i < n && isFinite(arr[i]);
      if (ok && a < 0) a = i;
      if (!ok && a >= 0) { fn(a, i - 1); a = -1; }
    }
  }

  onMove(e) {
    const x = this.mouseX(e), y = this.mouseY(e);
    if (this.drag) { this.drag.x1 = x; this.hover = null; this.drawOverlay(); return; }
    this.hover = { x, y };
    this.drawOverlay();
  }

  onUp(e) {
    if (!this.drag) return;
    const { x0 } = this.drag;
    const x1 = this.mouseX(e);
    this.drag = null;
    this.drawOverlay();
    const g = this.geom;
    if (!g || Math.abs(x1 - x0) < 5 || !this.opts.onZoom) return;
    const clamp = (x) => Math.max(g.left, Math.min(g.right, x));
    const a = g.t(clamp(Math.min(x0, x1))), b = g.t(clamp(Math.max(x0, x1)));
    if (b - a >= 1000) this.opts.onZoom(a, b);
  }

  drawOverlay() {
    const ctx = this.overlay.getContext('2d');
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.overlay.width, this.overlay.height);
    this.tooltip.hidden = true;
    const g = this.geom;
    if (!g || !this.data) return;
    if (this.drag) {
      const a = Math.max(g.left, Math.min(this.drag.x0, this.drag.x1));
      const b = Math.min(g.right, Math.max(this.drag.x0, this.drag.x1));
      ctx.fillStyle = 'rgba(31, 95, 191, 0.15)';
      ctx.fillRect(a, g.top, b - a, g.bottom - g.top);
      ctx.strokeStyle = 'rgba(31, 95, 191, 0.6)';
      ctx.strokeRect(a + 0.5, g.top + 0.5, b - a, g.bottom - g.top);
      return;
    }
    const hv = this.hover;
    if (!hv || hv.x < g.left || hv.x > g.right || hv.y > g.bottom) return;
    const d = this.data;
    const i = Math.max(0, Math.min(g.n - 1, Math.round((g.t(hv.x) - d.start) / d.step)));
    let best = null;
    for (const L of this.cached) {
      if (!isFinite(L.hi[i])) continue;
      const dist = Math.abs(g.y(L.hi[i]) - hv.y);
      if (!best || dist < best.dist) best = { L, dist };
    }
    const t = d.start + i * d.step;
    const x = Math.round(g.x(t)) + 0.5;
    ctx.strokeStyle = 'rgba(0,0,0,0.35)';
    ctx.beginPath(); ctx.moveTo(x, g.top); ctx.lineTo(x, g.bottom); ctx.stroke();
    if (!best) return;
    const yy = g.y(best.L.hi[i]);
    ctx.fillStyle = best.L.s.color;
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 2;
    ctx.beginPath(); ctx.arc(x, yy, 4.5, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
    this.showTooltip(best.L.s, best.L.s.values[i], t, x, yy);
  }

  showTooltip(s, v, t, x, y) {
    const tip = this.tooltip;
    tip.replaceChildren();
    const head = document.createElement('div');
    head.className = 't';
    head.textContent = formatTime(t, this.local);
    const row = document.createElement('div');
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = s.color;
    const val = document.createElement('span');
    val.className = 'v';
    val.textContent = s.raw ? s.raw[Math.round((t - this.data.start) / this.data.step)] || String(v) : String(v);
    row.append(sw, document.createTextNode(s.name + ': '), val);
    tip.append(head, row);
    tip.hidden = false;
    const w = this.root.clientWidth;
    const tw = tip.offsetWidth;
    tip.style.left = (x + 14 + tw > w ? Math.max(0, x - 14 - tw) : x + 14) + 'px';
    tip.style.top = Math.max(0, y - 40) + 'px';
  }
}

window.PromliteChart = { Chart, seriesColor, formatTime, formatValue };
