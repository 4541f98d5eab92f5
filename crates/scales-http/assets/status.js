// scales status page: live refresh, remembered groups, filter as you type, sort by what
// moved, lazy groups and histograms. A refresh names the groups shown closed (closed=) so the
// server leaves them unread; it draws them as placeholders (data-pruned), filled from their
// own page when opened. The filter asks the server (search=) for stats in groups this page
// has not loaded, and loads the groups that hold them. The page is complete without this script: the server
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
  // closed=: at most this many paths, and this many characters of the list (the server
  // takes up to 256 paths and 8 KiB; the request head up to 16 KiB, escapes included).
  var CLOSED_MAX = 256;
  var CLOSED_CHARS = 3000;

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
    // A group left unread but still holding what it showed, opened by the filter: that
    // serves the filter, and the next refresh reads it (it is open now).
    var stale = d.hasAttribute('data-filter-open') && d.hasAttribute('data-pruned') && d.querySelector(':scope > .lv');
    if (d.open && !stale) { fill(d); }
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
        if (d.hasAttribute('data-pruned')) {
          // Left unread only because it was closed: open, it is part of the page again.
          d.removeAttribute('data-pruned');
          d.removeAttribute('data-lazy');
          d.removeAttribute('data-loaded');
        } else {
          d.setAttribute('data-loaded', '1');
        }
        if (tree.getAttribute('data-filter')) { applyFilter(); revealMatches(); }
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
      // (An empty filter shows everything and opens nothing.)
      if (any && text && !e.open) { e.setAttribute('data-filter-open', ''); e.open = true; }
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
    if (!text) {
      tree.querySelectorAll('[data-filter-open]').forEach(function (d) {
        d.open = false;
        d.removeAttribute('data-filter-open');
      });
    }
    if (root) {
      Array.prototype.forEach.call(root.children, function (k) {
        if (k.hasAttribute('data-path')) { filterNode(k, text, text === ''); }
      });
      shown = tree.querySelectorAll('.s:not([hidden])').length;
    }
    filtering = false;
    tree.setAttribute('data-filter', text);
    var note = '';
    if (text && searched && searched.text === text && searched.capped) {
      note = ' (the server\'s search stops at ' + searched.limit + ' matches: narrow the filter)';
    }
    say(text ? shown + ' stats match' + note : '', false);
  }
  function filterText() { return filter.value === serverQuery ? '' : filter.value.trim().toLowerCase(); }

  // ---- the server's search, for groups this page has not loaded ----------------------
  var searched = null;
  var searchTimer = null;
  // Groups drawn empty (placeholders), not loaded: the filter cannot see inside them.
  function unloaded() {
    return Array.prototype.filter.call(tree.querySelectorAll('details.g[data-lazy]:not([data-loaded])'), function (d) {
      return !d.querySelector(':scope > .lv');
    });
  }
  function scheduleSearch() {
    clearTimeout(searchTimer);
    var text = filterText();
    // (The server searches for at most 200 characters.)
    if (!text || text.length > 200 || !unloaded().length) { return; }
    if (searched && searched.text === text) { revealMatches(); return; }
    searchTimer = setTimeout(function () { search(text); }, 250);
  }
  function search(text) {
    var u = new URL(url(location.href));
    u.search = '';
    u.searchParams.set('search', text);
    fetch(u.toString(), { cache: 'no-store', headers: { Accept: 'application/json' } }).then(function (r) {
      if (!r.ok) { throw new Error('HTTP ' + r.status); }
      return r.json();
    }).then(function (answer) {
      if (text !== filterText() || !answer || !Array.isArray(answer.matches)) { return; }
      searched = {
        text: text,
        matches: answer.matches.map(function (m) { return String(m).toLowerCase(); }),
        capped: answer.capped === true,
        limit: Number(answer.limit) || 0
      };
      revealMatches();
      applyFilter();
    }, function (e) { say('search failed: ' + e.message, true); });
  }
  // Opens (and so loads) the unloaded groups that hold a match of the server's search.
  function revealMatches() {
    if (!searched || searched.text !== filterText()) { return; }
    unloaded().forEach(function (d) {
      var prefix = pathOf(d) + '/';
      var holds = searched.matches.some(function (m) { return m.slice(0, prefix.length) === prefix; });
      if (!holds) { return; }
      if (!d.open) { d.setAttribute('data-filter-open', ''); d.open = true; }
      fill(d);
    });
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
  function cells(row) { return row.querySelector(':scope > .v, :scope > summary > .v'); }
  function spark(row) { return row.querySelector(':scope > .spark, :scope > summary > .spark'); }
  function levelOf(d) { return d.querySelector(':scope > .lv'); }
  function key(k) { return k.id || '.' + k.className; }
  // Whether every group above `e` is open (below `root`, when given).
  function visible(e, root) {
    for (var p = e.parentElement; p && p !== root && p !== tree; p = p.parentElement) {
      if (p instanceof HTMLDetailsElement && !p.open) { return false; }
    }
    return true;
  }
  // Moves `fresh` (a level from the server) into `mine`, level by level: new cells into the
  // same rows when a level holds the same parts, else that level anew with this page's open
  // groups, loaded contents and histograms carried over.
  function merge(mine, fresh) {
    var kids = Array.prototype.slice.call(mine.children);
    var news = Array.prototype.slice.call(fresh.children);
    if (kids.map(key).sort().join('\n') !== news.map(key).sort().join('\n')) { replaceLevel(mine, fresh); return; }
    var old = new Map();
    kids.forEach(function (k) { old.set(key(k), k); });
    news.forEach(function (e) {
      var o = old.get(key(e));
      if (!o) { return; }
      if (!e.id) {
        if (o.textContent !== e.textContent) { o.replaceWith(document.adoptNode(e)); }
        return;
      }
      mergeItem(o, e);
    });
  }
  function mergeItem(o, e) {
    // A group left unread has no "what moved" of its own: it keeps the last one known.
    if (!e.hasAttribute('data-pruned')) {
      if (e.hasAttribute('data-moved')) { o.setAttribute('data-moved', e.getAttribute('data-moved')); } else { o.removeAttribute('data-moved'); }
    }
    var meta = e.querySelector(':scope > summary > .meta');
    var oldMeta = o.querySelector(':scope > summary > .meta');
    if (meta && oldMeta && meta.textContent !== oldMeta.textContent) { oldMeta.textContent = meta.textContent; }
    if (e.classList.contains('s')) {
      var c = cells(e), oc = cells(o);
      if (c && oc && c.innerHTML !== oc.innerHTML) {
        var n = document.adoptNode(c);
        oc.replaceWith(n);
        n.classList.add('changed');
      }
      var s = spark(e), os = spark(o);
      if (s && os && s.outerHTML !== os.outerHTML) { os.replaceWith(document.adoptNode(s)); }
    }
    if (e.matches('details.g')) { mergeGroup(o, e); }
  }
  function mergeGroup(o, e) {
    var fl = levelOf(e), ol = levelOf(o);
    var pruned = e.hasAttribute('data-pruned');
    if (fl) {
      // Drawn: part of this page.
      o.removeAttribute('data-pruned');
      o.removeAttribute('data-lazy');
      if (o.getAttribute('data-loaded') !== 'loading') { o.removeAttribute('data-loaded'); }
      if (ol) {
        merge(ol, fl);
      } else {
        var lv = document.adoptNode(fl);
        var note = o.querySelector(':scope > .note');
        if (note) { note.replaceWith(lv); } else { o.appendChild(lv); }
        prepare(lv);
      }
      return;
    }
    // A placeholder: left unread (closed), or past the page's rows.
    o.setAttribute('data-lazy', e.getAttribute('data-lazy') || '');
    if (pruned) { o.setAttribute('data-pruned', ''); } else { o.removeAttribute('data-pruned'); }
    if (!ol) {
      var mineNote = o.querySelector(':scope > .note');
      var freshNote = e.querySelector(':scope > .note');
      if (mineNote && freshNote && mineNote.textContent !== freshNote.textContent) { mineNote.replaceWith(document.adoptNode(freshNote)); }
      return;
    }
    // What this page shows of it stays; filled again from its own page when next opened.
    var loaded = o.getAttribute('data-loaded');
    if (loaded === 'loading') { return; }
    if (!o.open) { o.removeAttribute('data-loaded'); return; }
    if (loaded === '1') { return; } // refreshed from its own page
    if (pruned) {
      fill(o); // opened while the server was told it was closed
    } else {
      o.setAttribute('data-loaded', '1'); // past the page's rows: refreshed from its own page
    }
  }
  function replaceLevel(mine, fresh) {
    var keep = new Map();
    mine.querySelectorAll('details[id]').forEach(function (d) { keep.set(d.id, d); });
    var level = document.adoptNode(fresh);
    level.querySelectorAll('details[id]').forEach(function (d) {
      var k = keep.get(d.id);
      if (!k) { return; }
      if (d.classList.contains('dist')) {
        var hist = k.querySelector(':scope > .hist');
        var mineHist = d.querySelector(':scope > .hist');
        if (hist && mineHist && hist.querySelector(':scope > svg')) { mineHist.replaceWith(hist); }
      } else if (d.matches('details.g') && !levelOf(d)) {
        var inner = levelOf(k);
        var placeholder = d.querySelector(':scope > .note');
        if (inner && placeholder) {
          placeholder.replaceWith(inner);
          if (k.open && k.getAttribute('data-loaded') === '1') { d.setAttribute('data-loaded', '1'); }
        }
      }
      d.open = k.open;
    });
    mine.replaceWith(level);
    prepare(level);
  }
  // closed=: the groups below `root` the server need not read, the outermost ones only:
  // those shown closed, and those filled from their own page (loaded or loading). As paths
  // relative to `base`, each name percent-encoded, names joined by '/', paths by ','.
  function unread(d) {
    return !d.open || (d.matches('details.g') && d.hasAttribute('data-lazy') && d.hasAttribute('data-loaded'));
  }
  function closedList(root, base) {
    var out = [];
    var chars = 0;
    var prefix = base ? base + '/' : '';
    root.querySelectorAll('details.g:not(.sd)').forEach(function (d) {
      if (out.length >= CLOSED_MAX || !unread(d)) { return; }
      for (var p = d.parentElement; p && p !== root; p = p.parentElement) {
        if (p instanceof HTMLDetailsElement && unread(p)) { return; }
      }
      var path = d.getAttribute('data-path') || '';
      if (path.slice(0, prefix.length) !== prefix || path.length === prefix.length) { return; }
      var rel = path.slice(prefix.length).split('/').map(encodeURIComponent).join('/');
      if (chars + rel.length + 1 > CLOSED_CHARS) { return; }
      chars += rel.length + 1;
      out.push(rel);
    });
    return out.join(',');
  }
  function withClosed(href, root, base) {
    var u = new URL(href, location.href);
    var list = closedList(root, base);
    if (list) { u.searchParams.set('closed', list); }
    return u.toString();
  }
  function refresh() {
    if (busy) { return Promise.resolve(); }
    busy = true;
    var jobs = [getPage(withClosed(location.href, tree, tree.getAttribute('data-base') || '')).then(function (doc) {
      var facts = doc.querySelector('#scales-overview dl');
      var mine = document.querySelector('#scales-overview dl');
      if (facts && mine) { mine.replaceWith(document.adoptNode(facts)); }
      var level = doc.querySelector('#scales-tree > .lv');
      var old = tree.querySelector(':scope > .lv');
      if (level && old) { merge(old, level); }
    })];
    tree.querySelectorAll('details[data-lazy][data-loaded="1"]').forEach(function (d) {
      if (!d.open || !visible(d)) { return; }
      jobs.push(getPage(withClosed(d.getAttribute('data-lazy'), d, d.getAttribute('data-path') || '')).then(function (doc) {
        var level = doc.querySelector('#scales-tree > .lv');
        var old = d.querySelector(':scope > .lv');
        if (level && old) { merge(old, level); }
      }));
    });
    // Open histograms are drawn again from their stat's page: one request each.
    tree.querySelectorAll('details.dist[open][data-src]').forEach(function (d) {
      if (d.querySelector(':scope > .hist > svg') && visible(d)) { jobs.push(histogram(d)); }
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
      // (Groups left unread still hold what they showed; opened, they are read again.)
      tree.querySelectorAll('details.g').forEach(function (d) {
        if (!d.hasAttribute('data-lazy') || d.querySelector(':scope > .lv')) { d.open = true; }
      });
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

  filter.addEventListener('input', function () { applyFilter(); scheduleSearch(); });
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
