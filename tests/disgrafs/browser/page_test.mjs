// Drives Debian's headless Chromium through the DisGraFS page like a person:
// token, drag-and-drop upload with progress, the graph, suggestions, search,
// clicking a file node, downloading it, deleting it. Run by test_browser.py:
//
//   node page_test.mjs --url URL --token TOKEN --samples DIR [--screenshot PNG]
//
// Prints one JSON line with what it saw; exits non-zero on the first failure.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' }, token: { type: 'string' }, samples: { type: 'string' },
    screenshot: { type: 'string' }, chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const seen = { steps: {} };
const t0 = Date.now();
const step = (name) => { seen.steps[name] = Date.now() - t0; };
const problems = [];
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

function check(cond, message) {
  if (!cond) throw new Error('check failed: ' + message);
}

async function until(page, fn, arg, what, timeout = 20000) {
  try {
    return await page.waitForFunction(fn, arg, { timeout, polling: 100 });
  } catch (e) {
    throw new Error(`timed out waiting for ${what}`);
  }
}

const profile = mkdtempSync(join(tmpdir(), 'disgrafs-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: opt.chromium, args: FLAGS, headless: true, acceptDownloads: true,
  viewport: { width: 1400, height: 860 },
});
try {
  const page = context.pages()[0] || await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('requestfailed', (r) => problems.push('request failed: ' + r.url()));
  page.on('request', (r) => {
    if (!r.url().startsWith(opt.url)) problems.push('off-site request: ' + r.url()); // no CDN
  });

  step('s1');
  // 1. the page loads, with the graph library served locally
  await page.goto(opt.url, { waitUntil: 'load' });
  await until(page, () => document.body.dataset.ready === '1', null, 'the page to start');
  check(await page.evaluate(() => typeof window.cytoscape === 'function'), 'cytoscape loaded');
  check(await page.isVisible('#graph-empty'), 'empty-graph hint shown');

  step('s2');
  // 2. the token, through the dialog
  await page.click('#token-btn');
  await page.fill('#token-input', opt.token);
  await page.click('#token-save');
  await until(page, () => document.querySelector('#token-state').textContent === 'set', null,
    'the token to be saved');

  step('s3');
  // 3. drag and drop the sample files onto the graph
  const names = readdirSync(opt.samples).sort();
  const files = names.map((name) => ({ name, b64: readFileSync(join(opt.samples, name)).toString('base64') }));
  const overlayShown = await page.evaluate((files) => {
    const dt = new DataTransfer();
    for (const f of files) {
      const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
      dt.items.add(new File([bytes], f.name));
    }
    const target = document.querySelector('#graph-pane');
    target.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
    target.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    const shown = !document.querySelector('#drop-overlay').hidden;
    target.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    return shown;
  }, files);
  check(overlayShown, 'drop overlay appears while dragging');
  check(await page.isVisible('.upload progress'), 'a progress bar per upload');
  await until(page, (n) => window.disgrafs.state.uploads.filter((u) => u.status !== 'sending').length === n,
    names.length, 'all uploads to finish');
  const uploads = await page.evaluate(() => window.disgrafs.state.uploads);
  for (const u of uploads) {
    check(u.status === 'stored', `upload of ${u.name} stored (${u.message})`);
    check(u.progressEvents > 0 && u.percent === 100, `progress reached 100% for ${u.name}`);
  }
  seen.uploads = uploads.map((u) => ({ name: u.name, events: u.progressEvents }));

  step('s4');
  // 4. tags arrive (the page watches the queue and redraws): every file node has tag edges
  await until(page, (n) => {
    const files = window.disgrafs.cy.nodes('[type = "file"]');
    return files.length === n && files.every((f) => f.degree() >= 3);
  }, names.length, 'all files tagged in the graph', 60000);
  seen.graph = await page.evaluate(() => ({
    files: window.disgrafs.cy.nodes('[type = "file"]').length,
    tags: window.disgrafs.cy.nodes('[type = "tag"]').length,
    edges: window.disgrafs.cy.edges().length,
  }));
  check(seen.graph.edges >= seen.graph.files, 'edges link files to tags');
  check(!(await page.isVisible('#graph-empty')), 'empty-graph hint gone');

  step('s5');
  // 5. suggestions while typing, then keyboard choice -> search by tag
  await page.click('#q');
  await page.keyboard.type('gra', { delay: 30 });
  await page.waitForSelector('#suggestions:not([hidden]) li', { timeout: 10000 });
  const suggestions = await page.$$eval('#suggestions li', (lis) => lis.map((li) => li.textContent));
  seen.suggestions = suggestions;
  check(suggestions.some((s) => s.includes('graph')), 'suggestion "graph" offered for "gra"');
  const idx = suggestions.findIndex((s) => s.includes('keyword') && s.includes('graph'));
  for (let i = 0; i <= idx; i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await until(page, () => document.querySelector('#results-title').textContent.includes('“graph”'), null,
    'search results for graph');
  const hits = await page.$$eval('#result-list .file-name', (b) => b.map((x) => x.textContent));
  seen.search_graph = hits;
  check(hits.includes('paper.pdf') && hits.includes('notes.md'), 'pdf and markdown found by keyword "graph"');
  check(!hits.includes('photo.jpg'), 'the photo is not a "graph" hit');
  const highlighted = await page.evaluate(() => window.disgrafs.cy.nodes('.hit').map((n) => n.data('label')));
  check(highlighted.includes('paper.pdf'), 'hits highlighted in the graph');

  step('s6');
  // 6. click the photo's node on the canvas: details, tags, related, download
  const photo = names.find((n) => n.endsWith('.jpg'));
  const pos = await page.evaluate((label) => {
    const cy = window.disgrafs.cy;
    const node = cy.nodes('[type = "file"]').filter((n) => n.data('label') === label)[0];
    cy.center(node);
    const p = node.renderedPosition();
    const box = cy.container().getBoundingClientRect();
    return { x: box.left + p.x, y: box.top + p.y };
  }, photo);
  await page.mouse.click(pos.x, pos.y);
  await until(page, (n) => !document.querySelector('#details').hidden &&
    document.querySelector('#d-name').textContent === n, photo, 'details of the clicked photo');
  await until(page, () => document.querySelector('#d-status').textContent.includes('done'), null, 'tagging done');
  const chips = await page.$$eval('#d-tags .chip', (c) => c.map((x) => x.textContent));
  seen.photo_tags = chips;
  for (const t of ['canon eos 5d', '2021', 'jpeg', 'geotagged']) check(chips.includes(t), `photo tag ${t}`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#d-download')]);
  check(download.suggestedFilename() === photo, 'download keeps the name');
  const saved = join(profile, 'downloaded');
  await download.saveAs(saved);
  check(sha256(readFileSync(saved)) === sha256(readFileSync(join(opt.samples, photo))), 'downloaded bytes identical');

  step('s7');
  // 7. a clicked tag chip searches by that tag
  await page.click('#d-tags .chip:text-is("canon eos 5d")');
  await until(page, () => document.querySelector('#results-title').textContent.includes('canon eos 5d'), null,
    'search by clicked tag');

  if (opt.screenshot) {
    await page.evaluate(() => { window.disgrafs.cy.fit(undefined, 30); }); // (returning cy would serialize it)
    await page.mouse.move(700, 20);
    await page.waitForTimeout(300);
    await page.screenshot({ path: opt.screenshot });
  }

  step('s8');
  // 8. delete through the page (confirm dialog accepted)
  page.once('dialog', (d) => d.accept());
  await page.click('#d-delete');
  await until(page, (n) => document.querySelector('#details').hidden &&
    window.disgrafs.cy.nodes('[type = "file"]').length === n, names.length - 1, 'the photo to disappear');
  const after = await page.evaluate(() => fetch('/api/files?limit=100').then((r) => r.json()));
  check(!after.items.some((f) => f.name === photo), 'the photo is gone from the API');

  step('end');
  check(problems.length === 0, 'no console errors, failed or off-site requests: ' + problems.join(' | '));
  console.log(JSON.stringify({ ok: true, seen }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: e.message, problems, seen }));
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
