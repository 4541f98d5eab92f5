// scales status page: live refresh, remembered groups, filter as you type, sort by what
// moved, lazy groups and histograms. The page is complete without this script: the server
// draws every number, unit, trend line and histogram. Refresh fetches this same page and
// moves the server's new cells into place; nothing from the server is ever turned into
// markup here except that page, parsed by DOMParser (which runs no script) from our own
// origin. Names are only compared as strings and used as Map keys.
(function () {
  'use strict';
  var tree = document.getElementById('scales-tree');
  var filter = document.getElementById('scales-filter');
  var bar = document.getElementById('scales-bar');
  if (!tree || !filter || !bar || !window.fetch || !window.DOMParser || !window.Map) { return; }
  var CHOICES = [0, 1, 2, 5, 10, 30, 60];
  var serverQuery = filter.value;
  var timer = null;
  var status = null;
  var busy = false;

  // localStorage throws in some private modes and sandboxes: then nothing is kept.
  function load(key, fallback) {
    try { var v = localStorage.getItem(key); return v === null ? fallback : v; } catch (e) { return fallback; }
  }
  function save(key, v) { try { localStorage.setItem(key, v); } catch (e) { /* not kept */ } }
  function el(tag, text) { var e = document.createElement(tag); if (text) { e.textContent = text; } return e; }

  // ---- groups open or closed, remembered by id ---------------------------------------
  var opened = new Map();
  try {
    var saved = JSON.parse(load('scales.open', '{}'));
    Object.keys(saved).forEach(function (k) { if (typeof saved[k] === 'boolean') { opened.set(k, saved[k]); } });
  } catch (e) { /* a bad entry: start afresh */ }
  function keepOpened() {
    var o = {};
    opened.forEach(function (v, k) { Object.defineProperty(o, k, { value: v, enumerable: true }); });
    save('scales.open', JSON.stringify(o));
  }
  function applyOpened(root) {
    root.querySelectorAll('details[id]').forEach(function (d) {
      if (opened.has(d.id)) { d.open = opened.get(d.id); }
    });
  }
  var filtering = false;
  tree.addEventListener('toggle', function (ev) {
    var d = ev.target;
    if (!(d instanceof HTMLDetailsElement) || !d.id) { return; }
    if (!filtering && !d.hasAttribute('data-filter-open')) {
      opened.set(d.id, d.open);
      keepOpened();
    }
    if (d.open) { fill(d); }
  }, true);

  // ---- lazy groups and histograms: filled from their own pages ------------------------
  function url(href) {
    var u = new URL(href, location.href);
    u.hash = '';
    // fetch() refuses a URL with credentials in it; without them the browser sends the
    // basic-auth credentials it has for the page.
    u.username = '';
    u.password = '';
    return u.toString();
  }
  function getPage(href) {
    return fetch(url(href), { cache: 'no-store', headers: { Accept: 'text/html' } }).then(function (r) {
      if (!r.ok) { throw new Error('HTTP ' + r.status); }
      return r.text();
    }).then(function (text) { return new DOMParser().parseFromString(text, 'text/html'); });
  }
  function fill(d) {
    if (d.hasAttribute('data-lazy') && !d.hasAttribute('data-loaded')) {
      d.setAttribute('data-loaded', 'loading');
      getPage(d.getAttribute('data-lazy')).then(function (doc) {
        var level = doc.querySelector('#scales-tree > .lv');
        var old = d.querySelector(':scope > .note, :scope > .lv');
        if (level && old) {
          var mine = document.adoptNode(level);
          old.replaceWith(mine);
          prepare(mine);
        }
        d.setAttribute('data-loaded', '1');
      }, function () { d.removeAttribute('data-loaded'); });
    }
    var load = d.classList.contains('dist') && d.querySelector(':scope > .hist > a.load');
    if (load) {
      load.textContent = 'loading…';
      histogram(d).catch(function (e) { load.textContent = 'histogram: ' + e.message; });
    }
  }
  // Draws (again) the histogram of an open distribution row, from its stat's page.
  function histogram(d) {
    return getPage(d.getAttribute('data-src')).then(function (doc) {
      var hist = doc.querySelector('#scales-tree .hist');
      var mine = d.querySelector(':scope > .hist');
      if (hist && mine) { mine.replaceWith(document.adoptNode(hist)); }
    });
  }

  // ---- sort: by name (the server's order) or by what moved lately -------------------
  var sortMode = load('scales.sort', 'name') === 'moved' ? 'moved' : 'name';
  function number(e) { var v = Number(e.getAttribute('data-moved')); return isFinite(v) ? v : 0; }
  function sortLevel(level) {
    var kids = Array.prototype.slice.call(level.children);
    kids.forEach(function (k, i) { if (k.scalesOrder === undefined) { k.scalesOrder = i; } });
    kids.sort(function (a, b) {
      if (sortMode === 'moved') {
        var d = number(b) - number(a);
        if (d !== 0) { return d; }
      }
      return a.scalesOrder - b.scalesOrder;
    });
    var changed = kids.some(function (k, i) { return level.children[i] !== k; });
    if (changed) { kids.forEach(function (k) { level.appendChild(k); }); }
  }
  function sortAll(root) {
    if (root.classList && root.classList.contains('lv')) { sortLevel(root); }
    root.querySelectorAll('.lv').forEach(sortLevel);
  }

  // ---- filter as you type -------------------------------------------------------------
  function pathOf(e) { return (e.getAttribute('data-path') || '').toLowerCase(); }
  function filterNode(e, text, inherited) {
    var self = inherited || pathOf(e).indexOf(text) >= 0;
    if (e.matches('details.g')) {
      var level = e.querySelector(':scope > .lv');
      var any = false;
      if (level) {
        Array.prototype.forEach.call(level.children, function (k) {
          if (k.hasAttribute('data-path')) { any = filterNode(k, text, self) || any; }
        });
      }
      var shown = self || any;
      e.hidden = !shown;
      if (any && !e.open) { e.setAttribute('data-filter-open', ''); e.open = true; }
      return shown;
    }
    e.hidden = !self;
    return self;
  }
  function applyFilter() {
    var text = filter.value === serverQuery ? '' : filter.value.trim().toLowerCase();
    filtering = true;
    var shown = 0;
    var root = tree.querySelector(':scope > .lv');
    tree.querySelectorAll('[data-filter-open]').forEach(function (d) {
      if (!text) { d.open = false; }
      d.removeAttribute('data-filter-open');
    });
    if (root) {
      Array.prototype.forEach.call(root.children, function (k) {
        if (k.hasAttribute('data-path')) { filterNode(k, text, text === ''); }
      });
      shown = tree.querySelectorAll('.s:not([hidden])').length;
    }
    filtering = false;
    tree.setAttribute('data-filter', text);
    say(text ? shown + ' stats match' : '', false);
  }

  // ---- deep links ---------------------------------------------------------------------
  function reveal() {
    var id = '';
    try { id = decodeURIComponent(location.hash.slice(1)); } catch (e) { return; }
    var target = id && document.getElementById(id);
    if (!target || !tree.contains(target)) { return; }
    for (var p = target.parentElement; p && p !== tree; p = p.parentElement) {
      if (p instanceof HTMLDetailsElement) { p.open = true; }
    }
    target.scrollIntoView({ block: 'center' });
  }

  // ---- live refresh -------------------------------------------------------------------
  function say(text, bad) {
    if (!status) { return; }
    status.textContent = text;
    status.className = bad ? 'bad' : '';
  }
  // The ids of a container's parts, leaving out what lives inside loaded lazy groups (they
  // refresh from their own page).
  function ids(root) {
    var out = [];
    root.querySelectorAll('[id]').forEach(function (e) {
      var lazy = e.parentElement && e.parentElement.closest('[data-loaded]');
      if (!lazy || !root.contains(lazy) || lazy === root) { out.push(e.id); }
    });
    return out;
  }
  function cells(row) { return row.querySelector(':scope > .v, :scope > summary > .v'); }
  function spark(row) { return row.querySelector(':scope > .spark, :scope > summary > .spark'); }
  // Moves `fresh` (a level from the server) into `mine`: new cells into the same rows when
  // the shape is the same, else the new level with this page's open groups carried over.
  function merge(mine, fresh) {
    var before = ids(mine);
    var after = ids(fresh);
    if (before.join('\n') === after.join('\n')) {
      var old = new Map();
      mine.querySelectorAll('[id]').forEach(function (e) { old.set(e.id, e); });
      fresh.querySelectorAll('[id]').forEach(function (e) {
        var o = old.get(e.id);
        if (!o) { return; }
        if (e.hasAttribute('data-moved')) { o.setAttribute('data-moved', e.getAttribute('data-moved')); } else { o.removeAttribute('data-moved'); }
        var meta = e.querySelector(':scope > summary > .meta');
        var oldMeta = o.querySelector(':scope > summary > .meta');
        if (meta && oldMeta && meta.textContent !== oldMeta.textContent) { oldMeta.textContent = meta.textContent; }
        if (!e.classList.contains('s')) { return; }
        var c = cells(e), oc = cells(o);
        if (c && oc && c.innerHTML !== oc.innerHTML) {
          var n = document.adoptNode(c);
          oc.replaceWith(n);
          n.classList.add('changed');
        }
        var s = spark(e), os = spark(o);
        if (s && os && s.outerHTML !== os.outerHTML) { os.replaceWith(document.adoptNode(s)); }
      });
      return;
    }
    // A new shape: keep what this page opened (loaded lazy groups, drawn histograms).
    var keep = new Map();
    mine.querySelectorAll('details[data-loaded="1"], details.dist').forEach(function (d) {
      if (d.classList.contains('dist') && !d.querySelector(':scope > .hist > svg')) { return; }
      keep.set(d.id, d);
    });
    var open = new Map();
    mine.querySelectorAll('details[id]').forEach(function (d) { open.set(d.id, d.open); });
    var level = document.adoptNode(fresh);
    level.querySelectorAll('details[id]').forEach(function (d) {
      var k = keep.get(d.id);
      if (k && k.hasAttribute('data-loaded')) {
        var inner = k.querySelector(':scope > .lv');
        var placeholder = d.querySelector(':scope > .note');
        if (inner && placeholder) { placeholder.replaceWith(inner); d.setAttribute('data-loaded', '1'); }
      } else if (k) {
        var hist = k.querySelector(':scope > .hist');
        var mineHist = d.querySelector(':scope > .hist');
        if (hist && mineHist) { mineHist.replaceWith(hist); }
      }
      if (open.has(d.id)) { d.open = open.get(d.id); }
    });
    mine.replaceWith(level);
    prepare(level);
  }
  function refresh() {
    if (busy) { return Promise.resolve(); }
    busy = true;
    var jobs = [getPage(location.href).then(function (doc) {
      var facts = doc.querySelector('#scales-overview dl');
      var mine = document.querySelector('#scales-overview dl');
      if (facts && mine) { mine.replaceWith(document.adoptNode(facts)); }
      var level = doc.querySelector('#scales-tree > .lv');
      var old = tree.querySelector(':scope > .lv');
      if (level && old) { merge(old, level); }
    })];
    tree.querySelectorAll('details[data-lazy][data-loaded="1"]').forEach(function (d) {
      if (!d.open) { return; }
      jobs.push(getPage(d.getAttribute('data-lazy')).then(function (doc) {
        var level = doc.querySelector('#scales-tree > .lv');
        var old = d.querySelector(':scope > .lv');
        if (level && old) { merge(old, level); }
      }));
    });
    // Open histograms are drawn again from their stat's page: one request each.
    tree.querySelectorAll('details.dist[open][data-src]').forEach(function (d) {
      if (d.querySelector(':scope > .hist > svg')) { jobs.push(histogram(d)); }
    });
    return Promise.all(jobs).then(function () {
      if (sortMode === 'moved') { sortAll(tree); }
      if (tree.getAttribute('data-filter')) { applyFilter(); }
      tree.setAttribute('data-refreshes', String(Number(tree.getAttribute('data-refreshes') || 0) + 1));
      say('updated ' + new Date().toLocaleTimeString(), false);
    }, function (e) {
      say('update failed: ' + e.message, true);
    }).then(function () { busy = false; });
  }
  function period() {
    var s = Number(load('scales.refresh', '5'));
    return CHOICES.indexOf(s) >= 0 ? s : 5;
  }
  function schedule() {
    clearTimeout(timer);
    timer = null;
    var s = period();
    if (!s || document.hidden) { return; }
    timer = setTimeout(function () { refresh().then(schedule); }, s * 1000);
  }
  document.addEventListener('visibilitychange', function () {
    if (document.hidden) { clearTimeout(timer); timer = null; say('paused while hidden', false); } else { refresh().then(schedule); }
  });

  // ---- the toolbar ---------------------------------------------------------------------
  function button(text, title, onClick) {
    var b = el('button', text);
    b.type = 'button';
    b.title = title;
    b.addEventListener('click', onClick);
    bar.appendChild(b);
    return b;
  }
  function toolbar() {
    var label = el('label', 'sort ');
    var byName = el('button', 'name');
    var byMoved = el('button', 'what moved');
    [byName, byMoved].forEach(function (b) { b.type = 'button'; label.appendChild(b); });
    byName.id = 'scales-sort-name';
    byMoved.id = 'scales-sort-moved';
    byMoved.title = 'each level by how much its stats changed over the last minute';
    function pressed() {
      byName.setAttribute('aria-pressed', String(sortMode === 'name'));
      byMoved.setAttribute('aria-pressed', String(sortMode === 'moved'));
    }
    function choose(mode) { sortMode = mode; save('scales.sort', mode); pressed(); sortAll(tree); }
    byName.addEventListener('click', function () { choose('name'); });
    byMoved.addEventListener('click', function () { choose('moved'); });
    pressed();
    bar.appendChild(label);
    button('expand all', 'open every group drawn on this page', function () {
      tree.querySelectorAll('details.g:not([data-lazy])').forEach(function (d) { d.open = true; });
    }).id = 'scales-expand';
    button('collapse all', 'close every group', function () {
      tree.querySelectorAll('details.g').forEach(function (d) { d.open = false; });
    }).id = 'scales-collapse';
    var refreshLabel = el('label', 'refresh ');
    var select = el('select');
    select.setAttribute('aria-label', 'refresh interval');
    CHOICES.forEach(function (s) {
      var o = el('option', s ? 'every ' + s + ' s' : 'off');
      o.value = String(s);
      select.appendChild(o);
    });
    select.value = String(period());
    select.addEventListener('change', function () { save('scales.refresh', select.value); refresh().then(schedule); });
    refreshLabel.appendChild(select);
    bar.appendChild(refreshLabel);
    status = el('span');
    status.id = 'scales-status';
    bar.appendChild(status);
  }

  function prepare(root) {
    applyOpened(root);
    root.querySelectorAll('details[open]').forEach(fill);
    if (sortMode === 'moved') { sortAll(root); }
  }

  filter.addEventListener('input', applyFilter);
  filter.addEventListener('keydown', function (ev) {
    if (ev.key === 'Escape') { filter.value = ''; applyFilter(); filter.blur(); }
  });
  document.addEventListener('keydown', function (ev) {
    var t = ev.target;
    var typing = t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA' || t.isContentEditable);
    if (ev.key === '/' && !typing && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
      ev.preventDefault();
      filter.focus();
      filter.select();
    }
  });
  window.addEventListener('hashchange', reveal);
  toolbar();
  prepare(tree);
  reveal();
  document.body.setAttribute('data-enhanced', '1');
  schedule();
})();
