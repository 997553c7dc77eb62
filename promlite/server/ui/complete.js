/* promlite web UI: autocomplete of metric and function names in the expression box.
 *
 * Strategy: the identifier left of the cursor is matched against the metric names
 * (fetched once by the graph page) and PromQL's function names: prefix matches first,
 * then substring matches, at most 50. Nothing is offered inside {...}, [...] or quotes,
 * where label names, durations and values go. Enter runs the query unless an entry
 * was chosen with the arrow keys, so typing a full name and pressing Enter never
 * replaces it with a longer one.
 */
'use strict';

(function () {
  const { el } = window.Promlite;

  // PromQL functions and aggregations, offered after the metric names.
  const FUNCS = ['abs', 'absent', 'absent_over_time', 'avg', 'avg_over_time', 'bottomk', 'ceil', 'changes',
    'clamp', 'clamp_max', 'clamp_min', 'count', 'count_over_time', 'count_values', 'delta', 'deriv', 'exp',
    'floor', 'group', 'histogram_quantile', 'holt_winters', 'idelta', 'increase', 'irate', 'label_join',
    'label_replace', 'last_over_time', 'ln', 'log2', 'log10', 'max', 'max_over_time', 'min', 'min_over_time',
    'predict_linear', 'quantile', 'quantile_over_time', 'rate', 'resets', 'round', 'scalar', 'sort',
    'sort_desc', 'sqrt', 'stddev', 'stddev_over_time', 'stdvar', 'sum', 'sum_over_time', 'time',
    'timestamp', 'topk', 'vector', 'without', 'by', 'offset', 'ignoring', 'on', 'group_left', 'group_right'];

  class Autocomplete {
    constructor(textarea, onExecute) {
      this.ta = textarea;
      this.onExecute = onExecute;
      this.names = [];
      this.items = [];
      this.sel = -1;
      this.list = el('ul', { class: 'complete', role: 'listbox', hidden: true });
      textarea.after(this.list);
      textarea.addEventListener('input', () => this.update());
      textarea.addEventListener('keydown', (e) => this.onKey(e));
      textarea.addEventListener('blur', () => setTimeout(() => this.close(), 150));
    }

    /* The identifier being typed at the cursor: [start, end) in the text. */
    wordAt() {
      const v = this.ta.value, end = this.ta.selectionStart;
      let start = end;
      while (start > 0 && /[A-Za-z0-9_:]/.test(v[start - 1])) start--;
      if (start === end || /[0-9]/.test(v[start])) return null;
      // inside {...} or quotes we would be completing label names/values: not offered
      const before = v.slice(0, start);
      const quotes = (before.match(/"/g) || []).length;
      if (quotes % 2 === 1 || before.lastIndexOf('{') > before.lastIndexOf('}')) return null;
      if (before.lastIndexOf('[') > before.lastIndexOf(']')) return null;
      return { start, end, word: v.slice(start, end) };
    }

    update() {
      const w = this.wordAt();
      if (!w) return this.close();
      const q = w.word.toLowerCase();
      const pool = this.names.concat(FUNCS);
      const prefix = [], inner = [];
      for (const n of pool) {
        const i = n.toLowerCase().indexOf(q);
        if (i === 0) prefix.push(n); else if (i > 0) inner.push(n);
      }
      this.items = prefix.concat(inner).filter((n, k, a) => a.indexOf(n) === k).slice(0, 50);
      if (!this.items.length || (this.items.length === 1 && this.items[0] === w.word)) return this.close();
      this.word = w;
      this.sel = -1;
      this.render(q);
    }

    render(q) {
      this.list.replaceChildren(...this.items.map((n, k) => {
        const i = n.toLowerCase().indexOf(q);
        return el('li', {
          class: k === this.sel ? 'sel' : '', role: 'option',
          onmousedown: (e) => { e.preventDefault(); this.accept(k); },
        }, n.slice(0, i), el('b', { text: n.slice(i, i + q.length) }), n.slice(i + q.length));
      }));
      this.list.hidden = false;
      const s = this.list.children[this.sel];
      if (s) s.scrollIntoView({ block: 'nearest' });
    }

    close() { this.list.hidden = true; this.items = []; this.sel = -1; }

    accept(k) {
      const n = this.items[k], w = this.word, v = this.ta.value;
      this.ta.value = v.slice(0, w.start) + n + v.slice(w.end);
      const pos = w.start + n.length;
      this.ta.setSelectionRange(pos, pos);
      this.close();
      this.ta.focus();
    }

    onKey(e) {
      const open = !this.list.hidden && this.items.length;
      if (open && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
        e.preventDefault();
        const n = this.items.length;
        this.sel = e.key === 'ArrowDown' ? (this.sel + 1) % n : (this.sel - 1 + n) % n;
        this.render(this.word.word.toLowerCase());
      } else if (open && e.key === 'Tab') {
        e.preventDefault();
        this.accept(Math.max(0, this.sel));
      } else if (open && e.key === 'Enter' && this.sel >= 0) {
        e.preventDefault();
        this.accept(this.sel);
      } else if (open && e.key === 'Escape') {
        this.close();
      } else if (e.key === 'Enter' && !e.shiftKey) {
        // Enter runs the query; Shift+Enter inserts a newline
        e.preventDefault();
        this.close();
        this.onExecute();
      }
    }
  }


  window.Promlite.Autocomplete = Autocomplete;
})();
