// scales status page enhancements: live refresh, readable numbers, trend lines.
// The page is complete without this script. Everything taken from the server's data is
// written with textContent / setAttribute on numbers and URL-encoded paths, never as HTML.
// Names from the server (`__proto__`, `constructor`, `toString` are names like any other)
// only ever index Maps and Sets, or are looked up as an object's own properties.
(function () {
  'use strict';
  var SEP = '\u001f';
  var tree = document.getElementById('scales-tree');
  if (!tree || !window.fetch || !window.URL || !document.createElementNS) { return; }
  var statName = tree.hasAttribute('data-stat') ? tree.getAttribute('data-stat') : null;
  // On a page for keys inside a stat (/status/web/latency/count), the keys after its name.
  var statKeys = [];
  try { statKeys = JSON.parse(tree.getAttribute('data-keys') || '[]'); } catch (e) { statKeys = []; }
  var linkBase = tree.getAttribute('data-link-base') || '';
  var SVG = 'http://www.w3.org/2000/svg';
  var TIME_NAME = /(latency|time|duration|delay|elapsed|wait|seconds|secs)/i;
  var DIST_KEYS = new Set(['min', 'max', 'mean', 'stddev', 'median', '75percentile',
    '95percentile', '98percentile', '99percentile', '999percentile']);
  var RATE_KEYS = new Set(['m1', 'm5', 'm15', 'mean']);
  var CHOICES = [0, 1, 2, 5, 10, 30, 60];

  var leaves = new Map();    // leaf key -> { div, span, path }
  var collapsed = new Map(); // level key -> [link divs] (collapsed groups are not in the JSON)
  var kinds = null;          // stat key -> kind name (a Map), from ?format=history
  var series = new Map();    // leaf key -> [number|null]
  var historyStep = 5;      // seconds between history samples
  var lastHistory = 0;
  var timer = null;
  var status = null;

  function join(path) { return path.join(SEP); }
  function el(tag, cls) { var e = document.createElement(tag); if (cls) { e.className = cls; } return e; }
  function isObject(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }
  function hasOwn(o, k) { return Object.prototype.hasOwnProperty.call(o, k); }
  function isError(v) {
    return isObject(v) && Object.keys(v).length === 1 && hasOwn(v, 'error') &&
      typeof v.error === 'string';
  }
  // A JSON object's own entries as a Map (JSON.parse makes `__proto__` an own property).
  function toMap(obj) {
    var m = new Map();
    if (isObject(obj)) { Object.keys(obj).forEach(function (k) { m.set(k, obj[k]); }); }
    return m;
  }
  // { k: v } for any k, `__proto__` included.
  function wrap(k, v) {
    var o = {};
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
    return o;
  }

  // ---- number formatting -------------------------------------------------------------
  function trim(s) { return s.indexOf('e') < 0 && s.indexOf('.') >= 0 ? s.replace(/\.?0+$/, '') : s; }
  function sig(v, n) { return trim(Number(v).toPrecision(n)); }
  function group(v) { return v.toLocaleString('en-US', { maximumFractionDigits: 1 }); }
  function plain(v) {
    if (!isFinite(v)) { return String(v); }
    var a = Math.abs(v);
    if (Number.isInteger(v)) { return a >= 10000 ? group(v) : String(v); }
    if (a >= 10000) { return group(v); }
    if (a !== 0 && a < 0.001) { return v.toExponential(2); }
    return sig(v, 4);
  }
  function duration(s) {
    if (!isFinite(s)) { return String(s); }
    var a = Math.abs(s);
    if (a === 0) { return '0 s'; }
    if (a < 1e-6) { return sig(s * 1e9, 3) + ' ns'; }
    if (a < 1e-3) { return sig(s * 1e6, 3) + ' µs'; }
    if (a < 1) { return sig(s * 1e3, 3) + ' ms'; }
    if (a < 60) { return sig(s, 3) + ' s'; }
    if (a < 3600) { return Math.floor(s / 60) + 'm ' + Math.round(s % 60) + 's'; }
    if (a < 86400) { return Math.floor(s / 3600) + 'h ' + Math.round((s % 3600) / 60) + 'm'; }
    return Math.floor(s / 86400) + 'd ' + Math.round((s % 86400) / 3600) + 'h';
  }
  function rate(v) {
    if (!isFinite(v)) { return String(v) + '/s'; }
    var a = Math.abs(v);
    if (a >= 1e6) { return sig(v / 1e6, 3) + 'M/s'; }
    if (a >= 1e4) { return sig(v / 1e3, 3) + 'k/s'; }
    return (a !== 0 && a < 0.01 ? v.toExponential(1) : sig(v, 3)) + '/s';
  }
  // The stat a leaf belongs to: the longest prefix of its path that is a stat.
  function statOf(path) {
    if (!kinds) { return null; }
    for (var n = path.length; n > 0; n--) {
      var kind = kinds.get(join(path.slice(0, n)));
      if (typeof kind === 'string') { return { kind: kind, name: path[n - 1], inner: path.length - n }; }
    }
    return null;
  }
  function unitOf(path) {
    var last = path[path.length - 1];
    var stat = statOf(path);
    if (!stat) { return /^m(1|5|15)$/.test(last) ? 'rate' : ''; }
    if (/Pmf/.test(stat.kind) && DIST_KEYS.has(last) && TIME_NAME.test(stat.name)) { return 'duration'; }
    if (stat.kind === 'StateTimeStat' && stat.inner === 1) { return 'duration'; }
    if (stat.inner === 0 && /(seconds|secs)$/i.test(stat.name)) { return 'duration'; }
    if (/^Meter/.test(stat.kind) && RATE_KEYS.has(last)) { return 'rate'; }
    return '';
  }
  function formatNumber(v, path) {
    var unit = unitOf(path);
    if (unit === 'duration') { return duration(v); }
    if (unit === 'rate') { return rate(v); }
    return plain(v);
  }
  function pyText(v) {
    if (v === null) { return 'None'; }
    if (v === true) { return 'True'; }
    if (v === false) { return 'False'; }
    if (typeof v === 'string') { return v; }
    return JSON.stringify(v);
  }
  function typeClass(v) {
    if (v === null) { return 'NoneType'; }
    if (typeof v === 'boolean') { return 'bool'; }
    if (typeof v === 'number') { return Number.isInteger(v) ? 'int' : 'float'; }
    if (typeof v === 'string') { return 'str'; }
    return 'list';
  }
  // Shows a value in a leaf's value span; numbers formatted, the raw value as a tooltip.
  function show(leaf, v) {
    var span = leaf.span;
    var text, raw;
    if (isError(v)) {
      span.className = 'error';
      text = 'error: ' + v.error;
      raw = '';
    } else if (typeof v === 'number') {
      // (classList: the span may also be highlighted as `changed`, which stays.)
      if (!span.classList.contains('int') && !span.classList.contains('float')) {
        span.className = typeClass(v);
      }
      text = formatNumber(v, leaf.path);
      raw = String(v);
    } else {
      span.className = typeClass(v);
      text = pyText(v);
      raw = '';
    }
    if (span.textContent !== text) {
      if (span.textContent !== '' && leaf.shown) {
        span.classList.remove('changed');
        void span.offsetWidth; // restart the highlight
        span.classList.add('changed');
      }
      span.textContent = text;
    }
    leaf.shown = true;
    if (raw && raw !== text) { span.title = raw; } else { span.removeAttribute('title'); }
  }
  // The value a server-rendered span stands for.
  function initialValue(span) {
    var t = span.textContent;
    if (span.classList.contains('int') || span.classList.contains('float')) {
      var n = Number(t);
      return isNaN(n) ? t : n;
    }
    return null;
  }

  // ---- the tree ------------------------------------------------------------------------
  function isNodePath(path) {
    // A group key is a node of the stat tree (so it has a page) unless it lies inside a stat.
    if (!kinds) { return false; }
    for (var n = 1; n < path.length; n++) { if (kinds.has(join(path.slice(0, n)))) { return false; } }
    return true;
  }
  function href(path) { return linkBase + path.map(encodeURIComponent).join('/'); }
  function linkGroup(keyDiv, path) {
    if (keyDiv.getAttribute('data-linked') || !isNodePath(path)) { return; }
    var a = el('a');
    a.textContent = path[path.length - 1];
    a.href = href(path);
    a.title = 'open this sub-tree';
    keyDiv.textContent = '';
    keyDiv.appendChild(a);
    keyDiv.setAttribute('data-linked', '1');
  }
  // Walks a rendered level: registers leaves, links groups, keeps collapsed-group links.
  function index(level, path, first) {
    var kids = level.children;
    for (var i = 0; i < kids.length; i++) {
      var e = kids[i];
      if (e.classList.contains('key')) {
        if (e.querySelector('a') && !e.getAttribute('data-linked')) {
          if (first) {
            var at = join(path);
            if (!collapsed.has(at)) { collapsed.set(at, []); }
            collapsed.get(at).push(e);
          }
          continue;
        }
        var next = kids[i + 1];
        if (next && next.classList.contains('level')) {
          var p = path.concat([e.textContent]);
          linkGroup(e, p);
          index(next, p, first);
          i++;
        }
      } else if (e.firstElementChild && e.firstElementChild.classList.contains('key') &&
                 e.children.length >= 2) {
        var key = e.firstElementChild.textContent;
        var lp = path.concat([key]);
        e.classList.add('leaf');
        var leaf = { div: e, span: e.children[1], path: lp, shown: false };
        leaves.set(join(lp), leaf);
        if (first) {
          var v = initialValue(leaf.span);
          if (typeof v === 'number') { show(leaf, v); }
        }
      }
    }
  }
  function build(obj, path) {
    var level = el('div', 'level');
    Object.keys(obj).sort().forEach(function (k) {
      var v = obj[k];
      var p = path.concat([k]);
      if (isObject(v) && !isError(v)) {
        var kd = el('div', 'key');
        kd.textContent = k;
        level.appendChild(kd);
        level.appendChild(build(v, p));
      } else {
        var d = el('div');
        var ks = el('span', 'key');
        ks.textContent = k;
        d.appendChild(ks);
        d.appendChild(document.createTextNode(' '));
        d.appendChild(el('span', typeClass(v)));
        level.appendChild(d);
      }
    });
    (collapsed.get(join(path)) || []).forEach(function (d) { level.appendChild(d); });
    return level;
  }
  function flatten(v, path, out) {
    if (isObject(v) && !isError(v)) {
      Object.keys(v).forEach(function (k) { flatten(v[k], path.concat([k]), out); });
    } else if (path.length) {
      out.set(join(path), v);
    }
  }
  function groups(v, path, out) {
    if (isObject(v) && !isError(v)) {
      if (path.length) { out.push(join(path)); }
      Object.keys(v).forEach(function (k) { groups(v[k], path.concat([k]), out); });
    }
    return out;
  }
  var shape = null;
  function apply(data) {
    if (statName !== null) {
      // The JSON of a stat (or of keys inside one) is its value: wrap it in its names, as
      // the server renders it.
      [statName].concat(statKeys).reverse().forEach(function (k) { data = wrap(k, data); });
    }
    if (!isObject(data)) { return; }
    var flat = new Map();
    flatten(data, [], flat);
    var keys = Array.from(flat.keys());
    var newShape = keys.sort().join('\n') + '\n\n' + groups(data, [], []).sort().join('\n');
    var same = shape === newShape ||
      (shape === null && keys.length === leaves.size &&
       keys.every(function (k) { return leaves.has(k); }));
    if (!same) {
      var y = window.scrollY;
      leaves = new Map();
      var root = build(data, []);
      while (tree.firstChild) { tree.removeChild(tree.firstChild); }
      tree.appendChild(root);
      index(root, [], false);
      window.scrollTo(window.scrollX, y);
    }
    shape = newShape;
    keys.forEach(function (k) { if (leaves.has(k)) { show(leaves.get(k), flat.get(k)); } });
    if (!same) { drawSparks(); }
  }

  // ---- trend lines ---------------------------------------------------------------------
  function drawSpark(leaf, values) {
    var old = leaf.div.querySelector('svg.spark');
    var pts = [];
    values.forEach(function (v, i) { if (typeof v === 'number' && isFinite(v)) { pts.push([i, v]); } });
    var lo = Infinity, hi = -Infinity;
    pts.forEach(function (p) { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); });
    // A value that has not moved gets no line: trends only where something happens.
    if (pts.length < 2 || hi === lo) { if (old) { old.remove(); } return; }
    var W = 96, H = 18, n = Math.max(values.length - 1, 1);
    var xy = pts.map(function (p) {
      var x = 1 + (W - 4) * p[0] / n;
      var y = 2 + (H - 4) * (1 - (p[1] - lo) / (hi - lo));
      return [x.toFixed(1), y.toFixed(1)];
    });
    var svg = old || document.createElementNS(SVG, 'svg');
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    svg.setAttribute('class', 'spark');
    svg.setAttribute('width', String(W));
    svg.setAttribute('height', String(H));
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('role', 'img');
    var line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', xy.map(function (p) { return p.join(','); }).join(' '));
    svg.appendChild(line);
    var dot = document.createElementNS(SVG, 'circle');
    dot.setAttribute('cx', xy[xy.length - 1][0]);
    dot.setAttribute('cy', xy[xy.length - 1][1]);
    dot.setAttribute('r', '1.8');
    svg.appendChild(dot);
    var title = document.createElementNS(SVG, 'title');
    var minutes = Math.max(1, Math.round(values.length * historyStep / 60));
    title.textContent = 'last ' + minutes + ' min: ' + formatNumber(lo, leaf.path) + ' … ' +
      formatNumber(hi, leaf.path);
    svg.appendChild(title);
    svg.setAttribute('aria-label', title.textContent);
    if (!old) { leaf.span.after(svg); }
  }
  function drawSparks() {
    leaves.forEach(function (leaf, k) {
      var values = series.get(k);
      if (Array.isArray(values)) { drawSpark(leaf, values); }
    });
  }
  function url(format) {
    var u = new URL(location.href);
    u.hash = '';
    // fetch() refuses a URL with credentials in it (http://user:password@host/status/);
    // without them, the browser sends the basic-auth credentials it has for the page.
    u.username = '';
    u.password = '';
    u.searchParams.set('format', format);
    if (format === 'history') { u.searchParams.delete('query'); }
    return u.toString();
  }
  function getJSON(format) {
    return fetch(url(format), { cache: 'no-store', headers: { Accept: 'application/json' } })
      .then(function (r) {
        if (!r.ok) { throw new Error('HTTP ' + r.status); }
        return r.json();
      });
  }
  function loadHistory() {
    lastHistory = Date.now();
    return getJSON('history').then(function (h) {
      var firstKinds = kinds === null;
      kinds = toMap(h.kinds);
      series = toMap(h.series);
      historyStep = h.interval_seconds || historyStep;
      if (firstKinds) {
        // Now that stat paths are known: link groups, and format by unit.
        var root = tree.querySelector('.level');
        if (root) { index(root, [], false); }
        leaves.forEach(function (leaf) {
          var v = initialValue(leaf.span);
          var raw = leaf.span.getAttribute('title');
          if (raw !== null && !isNaN(Number(raw))) { v = Number(raw); }
          if (typeof v === 'number') { show(leaf, v); }
        });
      }
      drawSparks();
    });
  }

  // ---- live refresh --------------------------------------------------------------------
  function say(text, bad) {
    if (!status) { return; }
    status.textContent = text;
    status.className = bad ? 'bad' : '';
  }
  function refresh() {
    var jobs = [getJSON('json').then(apply)];
    if (Date.now() - lastHistory >= historyStep * 1000) { jobs.push(loadHistory()); }
    return Promise.all(jobs).then(function () {
      say('updated ' + new Date().toLocaleTimeString(), false);
    }, function (e) {
      say('update failed: ' + e.message, true);
    });
  }
  // localStorage throws in some private modes and sandboxes: then the choice is not kept.
  function load() { try { return localStorage.getItem('scales.refresh'); } catch (e) { return null; } }
  function save(v) { try { localStorage.setItem('scales.refresh', v); } catch (e) { /* not kept */ } }
  function period() {
    var saved = load();
    return saved !== null && CHOICES.indexOf(Number(saved)) >= 0 ? Number(saved) : 5;
  }
  function schedule() {
    clearTimeout(timer);
    timer = null;
    var s = period();
    if (!s || document.hidden) { return; }
    timer = setTimeout(function () { refresh().then(schedule); }, s * 1000);
  }
  function toolbar() {
    var bar = el('div');
    bar.id = 'scales-bar';
    var label = el('label');
    label.appendChild(document.createTextNode('Live refresh '));
    var select = el('select');
    select.setAttribute('aria-label', 'refresh interval');
    CHOICES.forEach(function (s) {
      var o = el('option');
      o.value = String(s);
      o.textContent = s ? 'every ' + s + ' s' : 'off';
      select.appendChild(o);
    });
    select.value = String(period());
    select.addEventListener('change', function () {
      save(select.value);
      refresh().then(schedule);
    });
    label.appendChild(select);
    bar.appendChild(label);
    status = el('span');
    status.id = 'scales-status';
    bar.appendChild(status);
    var hint = el('span');
    hint.textContent = 'hover a value for its raw number, a trend line for its range over the last minutes';
    bar.appendChild(hint);
    tree.parentNode.insertBefore(bar, tree);
  }

  toolbar();
  var root0 = tree.querySelector('.level');
  if (root0) { index(root0, [], true); }
  document.addEventListener('visibilitychange', function () {
    if (document.hidden) { clearTimeout(timer); say('paused while hidden', false); } else { refresh().then(schedule); }
  });
  document.body.setAttribute('data-enhanced', '1');
  refresh().then(schedule);
})();
