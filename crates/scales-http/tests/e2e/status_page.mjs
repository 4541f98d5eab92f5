// The status page in Debian's Chromium, driven by playwright-core: clicks, typing, reading
// the DOM. Run by tests/it/live_page.rs, which starts the servers and passes:
//   PLAYWRIGHT   node_modules directory holding playwright-core (scripts/playwright.sh)
//   CHROMIUM     the browser binary
//   BASE         a demo-like tree's /status/ URL (stats moving)
//   HOSTILE      a tree of hostile names' /status/ URL
//   LAZY         30 groups of 100 stats (10 past the page's rows), a needle in one of those
//   WATCH        /watched (a gauge counting its reads) and /probe/watched_reads, no history
//   OUT          where screenshots go
//   BENCH        optional: "label=url,label=url" trees to time (first paint, one refresh)
// Prints one JSON line of measurements; exits non-zero with the failed check's message.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.PLAYWRIGHT, 'x.js'));
const { chromium } = require('playwright-core');

const BASE = process.env.BASE;
const HOSTILE = process.env.HOSTILE;
const OUT = process.env.OUT;
const results = { checks: [] };

function check(ok, what, detail) {
  if (!ok) {
    throw new Error(`FAILED: ${what}${detail === undefined ? '' : ': ' + JSON.stringify(detail)}`);
  }
  results.checks.push(what);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic'],
});

async function newPage(options = {}) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, ...options });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') { problems.push(m.text()); } });
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('dialog', async (d) => { problems.push('dialog: ' + d.message()); await d.dismiss(); });
  return { context, page, problems };
}
const enhanced = (page) => page.waitForSelector('body[data-enhanced="1"]', { timeout: 10000 });
const rowPaths = (page) => page.$$eval('#scales-tree .s:not([hidden])', (rows) =>
  rows.filter((r) => r.offsetParent !== null).map((r) => r.getAttribute('data-path')));
async function refreshes(page) {
  return Number(await page.getAttribute('#scales-tree', 'data-refreshes') || 0);
}
async function waitRefreshes(page, n) {
  await page.waitForFunction((n) => Number(document.getElementById('scales-tree')
    .getAttribute('data-refreshes') || 0) >= n, n, { timeout: 15000 });
}

try {
  // ---- default state: overview, dense rows, units, fits in about two screens --------
  {
    const { context, page, problems } = await newPage();
    await page.goto(BASE);
    await enhanced(page);
    const overview = await page.textContent('#scales-overview');
    for (const fact of ['host', 'pid', 'uptime', 'CPU', 'memory', 'threads', 'fds']) {
      check(overview.includes(fact), `overview shows ${fact}`, overview);
    }
    const formats = await page.$$eval('nav.formats a', (as) => as.map((a) => a.getAttribute('href')));
    for (const f of ['json', 'prettyjson', 'json&sketches=1', 'prometheus', 'html', 'history']) {
      check(formats.some((h) => h.endsWith('?format=' + f)), `link to ?format=${f}`, formats);
    }
    const labels = await page.$$eval('[id="s:web/latency"] > summary .c i', (is) => is.map((i) => i.textContent));
    check(JSON.stringify(labels) === JSON.stringify(['n', 'rate', 'mean', 'p50', 'p99', 'p99.9', 'max']),
      'a distribution is one row, percentiles in numeric order', labels);
    const p50 = await page.textContent('[id="s:web/latency"] > summary .c:nth-child(4)');
    check(/\d (ms|µs|s)$/.test(p50.replace(/^p50/, '')), 'durations carry their unit', p50);
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    results.default_height_px = height;
    check(height <= 2200, 'the demo-like tree fits in about two screens at 1400x1000', height);
    await page.screenshot({ path: path.join(OUT, 'status-default.png'), fullPage: true });
    check(problems.length === 0, 'no console errors or CSP violations', problems);
    await context.close();
  }

  // ---- dark mode ---------------------------------------------------------------------------
  {
    const { context, page } = await newPage({ colorScheme: 'dark' });
    await page.goto(BASE);
    await enhanced(page);
    const bg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    check(bg === 'rgb(21, 23, 26)', 'dark mode follows the system', bg);
    await page.click('[id="s:web/latency"] > summary');
    await page.waitForSelector('[id="s:web/latency"] svg.histogram', { timeout: 10000 });
    await page.locator('[id="s:web/latency"] svg.histogram').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(OUT, 'status-dark.png') });
    await context.close();
  }

  // ---- collapse and expand, remembered across reloads --------------------------------
  {
    const { context, page, problems } = await newPage();
    await page.goto(BASE);
    await enhanced(page);
    const web = '[id="g:web"]';
    check(await page.$eval(web, (d) => d.open), 'web starts open');
    await page.click(`${web} > summary`);
    check(!(await page.$eval(web, (d) => d.open)), 'a click closes a group');
    check(!(await page.isVisible('[id="s:web/latency"]')), 'its rows are hidden');
    await page.reload();
    await enhanced(page);
    check(!(await page.$eval(web, (d) => d.open)), 'closed after a reload');
    await page.click(`${web} > summary`);
    check(await page.isVisible('[id="s:web/latency"]'), 'a click opens it again');
    await page.reload();
    await enhanced(page);
    check(await page.$eval(web, (d) => d.open), 'open after a reload');
    // Deep link: a stat inside a closed group opens the way to it.
    await page.click(`${web} > summary`);
    await page.goto(BASE + '#s:web/latency');
    await page.reload();
    await enhanced(page);
    check(await page.isVisible('[id="s:web/latency"]'), 'a deep link opens the groups above the stat');
    check(await page.$eval('[id="s:web/latency"]', (e) => e.matches(':target')), 'the stat is the target');
    await page.click('#scales-expand');
    // From the top: a full-page shot taken scrolled down draws the sticky bar mid-page.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(OUT, 'status-expanded.png'), fullPage: true });
    const closed = await page.$$eval('details.g:not([data-lazy])', (ds) => ds.filter((d) => !d.open).length);
    check(closed === 0, 'expand all opens every group', closed);
    check(problems.length === 0, 'no console errors', problems);
    await context.close();
  }

  // ---- filter as you type, '/' to focus ----------------------------------------------
  {
    const { context, page } = await newPage();
    await page.goto(BASE);
    await enhanced(page);
    const all = await rowPaths(page);
    await page.keyboard.press('/');
    check(await page.evaluate(() => document.activeElement.id === 'scales-filter'), '/ focuses the filter');
    await page.keyboard.type('latency');
    const some = await rowPaths(page);
    check(some.length > 0 && some.length < all.length, 'typing narrows the rows', [some.length, all.length]);
    check(some.every((p) => p.toLowerCase().includes('latency')), 'every row left matches', some);
    await page.screenshot({ path: path.join(OUT, 'status-filtered.png'), fullPage: true });
    await page.keyboard.press('Escape');
    check((await rowPaths(page)).length === all.length, 'Escape clears the filter');
    // Enter asks the server in the ?query= language.
    await page.fill('#scales-filter', 'processor');
    await Promise.all([page.waitForNavigation(), page.press('#scales-filter', 'Enter')]);
    check(new URL(page.url()).searchParams.get('query') === 'processor', 'Enter submits ?query=', page.url());
    const served = await rowPaths(page);
    check(served.length > 0 && served.every((p) => p.includes('processor')), 'the server filtered', served);
    await context.close();
  }

  // ---- sort by what moved; refresh while values change ------------------------------
  {
    const { context, page, problems } = await newPage();
    await page.goto(BASE);
    await enhanced(page);
    const order = () => page.$$eval('[id="g:web"] > .lv > *', (es) => es.map((e) => [e.getAttribute('data-path'), Number(e.getAttribute('data-moved') || 0)]));
    const byName = await order();
    await page.click('#scales-sort-moved');
    const moved = await order();
    check(moved.every((e, i) => i === 0 || moved[i - 1][1] >= e[1]), 'each level sorted by recent change', moved);
    check(moved[0][1] > 0 && JSON.stringify(moved) !== JSON.stringify(byName), 'what moved comes first', moved);
    const still = moved.findIndex((e) => e[0] === 'web/config_version');
    const busy = moved.findIndex((e) => e[0] === 'web/requests');
    check(busy >= 0 && still > busy, 'a busy counter before a still value', moved);
    await page.reload();
    await enhanced(page);
    check(await page.getAttribute('#scales-sort-moved', 'aria-pressed') === 'true', 'the sort is remembered');
    await page.click('#scales-sort-name');
    check(JSON.stringify((await order()).map((e) => e[0])) === JSON.stringify(byName.map((e) => e[0])), 'back to by name');

    const cell = '[id="s:web/requests"] > .v';
    const before = await page.textContent(cell);
    await page.selectOption('select[aria-label="refresh interval"]', '1');
    await waitRefreshes(page, 2);
    const after = await page.textContent(cell);
    check(before !== after, 'a refresh shows the new value', [before, after]);
    check(/^[\d,]+rate[\d.]+[k]?\/s$/.test(after.replace(/\s/g, '')), 'counter with its rate per second', after);
    // Paused while hidden.
    await page.evaluate(() => {
      Object.defineProperty(document, 'hidden', { value: true, configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    const paused = await refreshes(page);
    await page.waitForTimeout(2500);
    check(await refreshes(page) === paused, 'no refresh while hidden', [paused, await refreshes(page)]);
    check((await page.textContent('#scales-status')).includes('paused'), 'says it is paused');
    check(problems.length === 0, 'no console errors', problems);
    await context.close();
  }

  // ---- the histogram of a distribution's sketch ---------------------------------------
  {
    const { context, page, problems } = await newPage();
    await page.goto(BASE);
    await enhanced(page);
    const row = '[id="s:client/connect_time"]';
    await page.click(`${row} > summary`);
    await page.waitForSelector(`${row} svg.histogram`, { timeout: 10000 });
    const bars = await page.$$eval(`${row} svg.histogram rect.bar`, (rs) => rs.length);
    check(bars === 5, 'one bar per sketch bucket holding values', bars);
    const markers = await page.$$eval(`${row} svg.histogram text.marker`, (ts) => ts.map((t) => t.textContent));
    check(markers.length === 3 && markers[0].startsWith('p50'), 'percentile markers', markers);
    const xs = await page.$$eval(`${row} svg.histogram rect.bar`, (rs) => rs.map((r) => Number(r.getAttribute('x'))));
    const gaps = xs.slice(1).map((x, i) => x - xs[i]);
    // 1, 3, 10, 30, 100 ms: equal ratios are equal steps on a log axis.
    check(Math.abs(gaps[0] - gaps[2]) < 5 && Math.abs(gaps[1] - gaps[3]) < 5, 'log-scale x axis', gaps);
    await page.locator(row).scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(OUT, 'status-histogram.png') });
    // An open histogram is drawn again at each refresh, from the new sketch.
    const live = '[id="s:web/latency"]';
    await page.click(`${live} > summary`);
    await page.waitForSelector(`${live} svg.histogram`, { timeout: 10000 });
    const first = await page.getAttribute(`${live} svg.histogram`, 'aria-label');
    await page.selectOption('select[aria-label="refresh interval"]', '1');
    await waitRefreshes(page, 2);
    const later = await page.getAttribute(`${live} svg.histogram`, 'aria-label');
    check(first !== later, 'an open histogram refreshes', [first, later]);
    check(problems.length === 0, 'no console errors', problems);
    await context.close();
  }

  // ---- past the page's 2,000 rows: groups load when opened, and refresh --------------
  {
    const { context, page, problems } = await newPage();
    await page.goto(process.env.LAZY);
    await enhanced(page);
    const drawn = await page.$$eval('#scales-tree .s', (r) => r.length);
    check(drawn === 2000, 'a page draws at most 2,000 stats', drawn);
    const lazy = await page.$$eval('details[data-lazy]', (ds) => ds.map((d) => [d.id, d.open, d.querySelectorAll('.s').length]));
    check(lazy.length === 10 && lazy.every((g) => !g[1] && g[2] === 0), 'groups past the limit start closed and empty', lazy);
    const last = lazy[lazy.length - 1][0];
    await page.click(`[id="${last}"] > summary`);
    await page.waitForFunction((id) => document.getElementById(id).querySelectorAll('.s').length === 100, last, { timeout: 10000 });
    check(true, 'an opened group loads its 100 stats');
    await page.selectOption('select[aria-label="refresh interval"]', '1');
    await waitRefreshes(page, 2);
    const kept = await page.$eval(`[id="${last}"]`, (d) => d.open && d.querySelectorAll('.s').length);
    check(kept === 100, 'a loaded group stays open and loaded across refreshes', kept);
    check(problems.length === 0, 'no console errors', problems);
    await context.close();
  }

  // ---- the filter finds a stat in a group the page has not loaded (server search) ----
  {
    const { context, page, problems } = await newPage();
    await page.goto(process.env.LAZY);
    await enhanced(page);
    check(await page.$$eval('[id="s:service0025/needle_unique"]', (r) => r.length) === 0, 'the needle is not on the page');
    await page.fill('#scales-filter', 'needle');
    await page.waitForFunction(() => {
      const row = document.getElementById('s:service0025/needle_unique');
      return row && row.offsetParent !== null;
    }, null, { timeout: 10000 });
    const shown = await rowPaths(page);
    check(JSON.stringify(shown) === JSON.stringify(['service0025/needle_unique']), 'typing finds a stat in an unloaded lazy group', shown);
    check((await page.textContent('#scales-status')).startsWith('1 stats match'), 'and counts it', await page.textContent('#scales-status'));
    await page.keyboard.press('Escape');
    const after = await page.$eval('[id="g:service0025"]', (d) => [d.open, d.outerHTML.slice(0, 200), document.activeElement.id, document.getElementById('scales-filter').value]);
    check(!after[0], 'clearing the filter closes what it opened', after);
    check(problems.length === 0, 'no console errors', problems);
    await context.close();
  }

  // ---- a refresh leaves closed groups unread; opening one reads it -------------------
  {
    const { context, page, problems } = await newPage();
    await page.goto(process.env.WATCH);
    await enhanced(page);
    const probe = () => page.textContent('[id="s:probe/watched_reads"] > .v');
    check(await page.$eval('[id="g:watched"]', (d) => d.open), 'the watched group starts open');
    await page.evaluate(() => { document.getElementById('s:probe/watched_reads').scalesMark = 1; document.getElementById('s:watched/a').scalesMark = 2; });
    await page.click('[id="g:watched"] > summary');
    const start = await refreshes(page);
    await page.selectOption('select[aria-label="refresh interval"]', '1');
    await waitRefreshes(page, start + 3);
    check(await probe() === '1', 'refreshes did not read the closed group (read once, by the first page)', await probe());
    const placeholder = await page.$eval('[id="g:watched"]', (d) => [d.hasAttribute('data-pruned'), d.hasAttribute('data-lazy'), d.querySelector(':scope > summary .meta').textContent]);
    check(placeholder[0] && placeholder[1] && placeholder[2] === '3 stats', 'drawn closed, marked unread, with its count', placeholder);
    const kept = await page.evaluate(() => [document.getElementById('s:probe/watched_reads').scalesMark, document.getElementById('s:watched/a').scalesMark]);
    check(kept[0] === 1 && kept[1] === 2, 'refreshes move cells into the same rows (nothing redrawn), the closed group keeps its rows', kept);
    await page.click('[id="g:watched"] > summary');
    await page.waitForFunction(() => {
      const row = document.getElementById('s:watched/reads');
      return row && row.offsetParent !== null && Number(row.querySelector('.v').textContent) >= 2;
    }, null, { timeout: 10000 });
    const rows = await page.$$eval('[id="g:watched"] .s', (rs) => rs.map((r) => r.getAttribute('data-path')));
    check(rows.length === 3, 'opening it fetches its stats', rows);
    const opened = await refreshes(page);
    await waitRefreshes(page, opened + 2);
    check(Number(await probe()) >= 3, 'open, it is read at each refresh again', await probe());
    check(!(await page.$eval('[id="g:watched"]', (d) => d.hasAttribute('data-pruned') || d.hasAttribute('data-lazy'))), 'and part of the page again');
    check(problems.length === 0, 'no console errors', problems);
    await context.close();
  }

  // ---- without JavaScript ----------------------------------------------------------------
  {
    const { context, page } = await newPage({ javaScriptEnabled: false });
    await page.goto(BASE);
    check(await page.getAttribute('body', 'data-enhanced') === null, 'the script did not run');
    const count = await page.textContent('[id="s:web/requests"] > .v');
    check(/\d,\d{3}/.test(count), 'thousands separators from the server', count);
    const p99 = await page.textContent('[id="s:web/latency"] > summary');
    check(/p99[\d.]+ ms/.test(p99), 'units from the server', p99);
    await page.click('[id="g:processor"] > summary');
    check(!(await page.$eval('[id="g:processor"]', (d) => d.open)), 'groups close without script');
    await page.click('[id="s:web/latency"] > summary');
    await Promise.all([page.waitForNavigation(), page.click('[id="s:web/latency"] a.load')]);
    check(await page.isVisible('svg.histogram'), "the stat's page draws its histogram");
    await context.close();
  }

  // ---- hostile names: escaped, and they refresh -----------------------------------------
  {
    const { context, page, problems } = await newPage();
    await page.goto(HOSTILE);
    await enhanced(page);
    await page.selectOption('select[aria-label="refresh interval"]', '1');
    await waitRefreshes(page, 2);
    const scripts = await page.$$eval('script', (s) => s.length);
    check(scripts === 1, 'only the page\'s own script', scripts);
    check(await page.$$eval('#scales-tree img, #scales-tree b, #scales-tree iframe', (e) => e.length) === 0, 'no markup from names');
    const names = await page.$$eval('#scales-tree .n', (ns) => ns.map((n) => n.textContent));
    for (const name of ['<b>bold', '"quoted" \'single\'', '__proto__', 'naïve ☃ 名前']) {
      check(names.includes(name), `the name ${name} shown as text`, names.slice(0, 40));
    }
    check(names.some((n) => n.length > 300), 'a very long name');
    check(await page.evaluate(() => ({}).polluted === undefined && Object.prototype.toString.call({}) === '[object Object]'), 'no prototype pollution');
    await page.fill('#scales-filter', '__proto__');
    const left = await rowPaths(page);
    check(left.length > 0 && left.every((p) => p.includes('__proto__')), 'filter by a hostile name', left);
    check(problems.length === 0, 'no console errors', problems);
    await context.close();
  }

  // ---- behind basic authentication: the refresh sends the page's credentials ------------
  if (process.env.AUTH) {
    const [user, password, url] = process.env.AUTH.split(' ');
    const { context, page, problems } = await newPage({ httpCredentials: { username: user, password } });
    await page.goto(url);
    await enhanced(page);
    await page.selectOption('select[aria-label="refresh interval"]', '1');
    await waitRefreshes(page, 1);
    check((await page.textContent('#scales-status')).startsWith('updated'), 'refreshes behind basic auth');
    check(problems.length === 0, 'no console errors', problems);
    await context.close();
  }

  // ---- timings ----------------------------------------------------------------------------
  results.bench = {};
  for (const spec of (process.env.BENCH || '').split(',').filter(Boolean)) {
    const [label, url] = spec.split('=');
    const runs = [];
    for (let run = 0; run < 3; run++) {
    const { context, page } = await newPage();
    const t0 = Date.now();
    await page.goto(url, { timeout: 120000 });
    const paint = await page.evaluate(() => {
      const p = performance.getEntriesByName('first-contentful-paint')[0];
      return p ? p.startTime : null;
    });
    await enhanced(page);
    const loaded = Date.now() - t0;
    const bytes = await page.evaluate(() => document.documentElement.outerHTML.length);
    const refresh = await page.evaluate(() => new Promise((resolve) => {
      const tree = document.getElementById('scales-tree');
      const start = performance.now();
      new MutationObserver(() => resolve(performance.now() - start))
        .observe(tree, { attributes: true, attributeFilter: ['data-refreshes'] });
      const select = document.querySelector('select[aria-label="refresh interval"]');
      select.value = '60';
      select.dispatchEvent(new Event('change'));
    }));
    const rows = await page.$$eval('#scales-tree .s', (r) => r.length);
    runs.push({ first_paint_ms: Math.round(paint), loaded_ms: loaded, refresh_ms: Math.round(refresh), rows_drawn: rows, html_bytes: bytes });
    await context.close();
    }
    // The median run of three, by first paint; every run kept.
    const sorted = runs.slice().sort((a, b) => a.first_paint_ms - b.first_paint_ms);
    results.bench[label] = { median: sorted[1], runs };
  }
} catch (e) {
  console.error(e.message || e);
  await browser.close();
  process.exit(1);
}
await browser.close();
console.log(JSON.stringify(results));
