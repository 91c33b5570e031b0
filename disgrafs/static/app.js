// DisGraFS web page: search with suggestions, the file/tag graph (Cytoscape.js,
// served from /static/vendor), file details with download, drag-and-drop upload.
// Plain JavaScript, no build step for this file.
'use strict';

const $ = (sel) => document.querySelector(sel);
const state = { offset: 0, limit: 20, total: 0, query: null, selected: null, uploads: [] };
const TOKEN_KEY = 'disgrafs-token';
const KIND_COLORS = {
  keyword: '#2a9d8f', type: '#e76f51', ext: '#f4a261', size: '#8d99ae', language: '#9b5de5',
  format: '#e9c46a', resolution: '#90be6d', camera: '#f15bb5', year: '#43aa8b', author: '#577590',
  duration: '#4d908e', pages: '#bc6c25', artist: '#f3722c', album: '#f8961e', genre: '#f9844a',
};
const kindColor = (k) => KIND_COLORS[k] || '#adb5bd';

// ---------------------------------------------------------------- helpers
function token() { return localStorage.getItem(TOKEN_KEY) || ''; }

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (options.auth) headers.Authorization = 'Bearer ' + token();
  const res = await fetch(path, Object.assign({}, options, { headers }));
  if (res.status === 204) return null;
  const body = await res.json().catch(() => ({ message: res.statusText }));
  if (!res.ok) throw new Error(body.message || res.statusText);
  return body;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function humanSize(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
}

let toastTimer = null;
function toast(message, isError = false) {
  const t = $('#toast');
  t.textContent = message;
  t.className = isError ? 'error' : '';
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 5000);
}

function chip(tag, onclick) {
  return el('button', {
    type: 'button', class: 'chip', title: tag.kind + (tag.count !== undefined ? ` · ${tag.count} files` : ''),
    style: `--kind:${kindColor(tag.kind)}`, onclick,
  }, tag.name);
}

// ---------------------------------------------------------------- graph
let cy = null;

function initGraph() {
  cy = cytoscape({
    container: $('#graph'),
    minZoom: 0.2, maxZoom: 3, wheelSensitivity: 0.3,
    style: [
      { selector: 'node', style: { 'font-size': 10, 'text-valign': 'bottom', 'text-margin-y': 3,
        color: '#334', 'text-outline-color': '#fff', 'text-outline-width': 2, label: 'data(label)' } },
      { selector: 'node[type = "file"]', style: { shape: 'round-rectangle', width: 26, height: 20,
        'background-color': '#264653', 'border-width': 0, 'text-max-width': 120, 'text-wrap': 'ellipsis' } },
      { selector: 'node[type = "tag"]', style: { shape: 'ellipse', width: 'mapData(degree, 1, 10, 12, 34)',
        height: 'mapData(degree, 1, 10, 12, 34)', 'background-color': 'data(color)', 'font-size': 9 } },
      { selector: 'edge', style: { width: 1, 'line-color': '#c9d1d9', 'curve-style': 'haystack', opacity: 0.8 } },
      { selector: '.faded', style: { opacity: 0.15 } },
      { selector: 'node.hit', style: { 'border-width': 3, 'border-color': '#ffb703' } },
      { selector: 'node:selected', style: { 'border-width': 4, 'border-color': '#e63946' } },
    ],
  });
  cy.on('tap', 'node[type = "file"]', (e) => showFile(e.target.data('file_id')));
  cy.on('tap', 'node[type = "tag"]', (e) => runSearch(e.target.data('label'), 'tag'));
  cy.on('mouseover', 'node', (e) => {
    const hood = e.target.closedNeighborhood();
    cy.elements().not(hood).addClass('faded');
  });
  cy.on('mouseout', 'node', () => cy.elements().removeClass('faded'));
  $('#graph').addEventListener('mouseleave', () => cy.elements().removeClass('faded'));
}

async function loadGraph() {
  const g = await api('/api/graph?limit=150');
  const elements = [];
  for (const n of g.nodes) {
    elements.push({ group: 'nodes', data: Object.assign({}, n, n.type === 'tag' ? { color: kindColor(n.kind) } : {}) });
  }
  g.edges.forEach((e, i) => elements.push({ group: 'edges', data: { id: 'e' + i, source: e.source, target: e.target } }));
  cy.elements().remove();
  cy.add(elements);
  cy.layout({ name: 'cose', animate: false, nodeRepulsion: () => 9000, idealEdgeLength: () => 60,
    nodeDimensionsIncludeLabels: true, randomize: true, padding: 20 }).run();
  $('#graph-empty').hidden = g.nodes.length > 0;
  const kinds = [...new Set(g.nodes.filter((n) => n.type === 'tag').map((n) => n.kind))].sort();
  $('#legend').replaceChildren(
    el('span', { class: 'legend-item' }, el('i', { class: 'file-swatch' }), 'file'),
    ...kinds.map((k) => el('span', { class: 'legend-item' }, el('i', { style: `background:${kindColor(k)}` }), k)));
  if (state.selected) cy.$id('f:' + state.selected).select();
  document.body.dataset.graphNodes = String(g.nodes.length);
}

function highlight(ids) {
  cy.nodes().removeClass('hit');
  for (const id of ids) cy.$id('f:' + id).addClass('hit');
}

// ---------------------------------------------------------------- lists
function fileRow(f) {
  const tags = (f.tags || []).filter((t) => !['size', 'ext'].includes(t.kind)).slice(0, 6);
  return el('li', { 'data-id': f.id },
    el('button', { type: 'button', class: 'file-name', onclick: () => showFile(f.id) }, f.name),
    el('span', { class: 'meta' }, `${humanSize(f.size)} · ${f.mime}`,
      f.tag_status !== 'done' ? el('span', { class: 'status ' + f.tag_status }, f.tag_status) : ''),
    el('div', { class: 'chips small' }, ...tags.map((t) => chip(t, () => runSearch(t.name, 'tag')))));
}

async function loadList() {
  const page = `offset=${state.offset}&limit=${state.limit}`;
  let data;
  if (state.query) {
    const q = encodeURIComponent(state.query.q);
    data = await api(`/api/search?q=${q}&by=${state.query.by}&${page}`);
    $('#results-title').textContent = `${data.total} result${data.total === 1 ? '' : 's'} for “${state.query.q}”`;
    $('#results-title').append(el('button', { type: 'button', class: 'link', onclick: clearSearch }, 'show all'));
    highlight(data.items.map((f) => f.id));
  } else {
    data = await api(`/api/files?${page}`);
    $('#results-title').textContent = `Files (${data.total})`;
    highlight([]);
  }
  state.total = data.total;
  $('#result-list').replaceChildren(...data.items.map(fileRow));
  if (!data.items.length) $('#result-list').append(el('li', { class: 'empty' }, state.query ? 'Nothing found.' : 'No files yet.'));
  const last = Math.min(state.offset + state.limit, state.total);
  $('#page-info').textContent = state.total ? `${state.offset + 1}–${last} of ${state.total}` : '';
  $('#prev').disabled = state.offset === 0;
  $('#next').disabled = last >= state.total;
}

function runSearch(q, by) {
  $('#q').value = q;
  $('#by').value = by;
  state.query = { q, by };
  state.offset = 0;
  hideSuggestions();
  loadList().catch((e) => toast(e.message, true));
}

function clearSearch() {
  state.query = null;
  state.offset = 0;
  $('#q').value = '';
  loadList().catch((e) => toast(e.message, true));
}

// ---------------------------------------------------------------- details
let pollTimer = null;

async function showFile(id) {
  clearTimeout(pollTimer);
  let f;
  try {
    f = await api('/api/files/' + encodeURIComponent(id));
  } catch (e) { // deleted meanwhile, or the server is gone
    if (state.selected === id) { state.selected = null; $('#details').hidden = true; }
    toast(e.message, true);
    return;
  }
  state.selected = id;
  $('#details').hidden = false;
  $('#details').dataset.id = id;
  $('#d-name').textContent = f.name;
  $('#d-size').textContent = `${humanSize(f.size)} (${f.size.toLocaleString()} bytes)`;
  $('#d-mime').textContent = f.mime;
  $('#d-created').textContent = new Date(f.created).toLocaleString();
  $('#d-sha').textContent = f.sha256;
  $('#d-status').replaceChildren(el('span', { class: 'status ' + f.tag_status }, f.tag_status),
    f.tag_error ? el('span', { class: 'error-text' }, ' ' + f.tag_error) : '');
  $('#d-tags').replaceChildren(...f.tags.map((t) => chip(t, () => runSearch(t.name, 'tag'))));
  const dl = $('#d-download');
  dl.href = `/api/files/${encodeURIComponent(f.id)}/content`;
  dl.setAttribute('download', f.name);
  const rel = await api(`/api/files/${encodeURIComponent(id)}/related?limit=8`).catch(() => ({ items: [] }));
  $('#d-related').replaceChildren(...rel.items.map((r) => el('li', {},
    el('button', { type: 'button', class: 'link', onclick: () => showFile(r.id) }, r.name),
    el('span', { class: 'meta' }, ` shares ${r.shared.slice(0, 4).join(', ')}`))));
  if (!rel.items.length) $('#d-related').append(el('li', { class: 'empty' }, 'None yet.'));
  if (cy) { cy.nodes().unselect(); cy.$id('f:' + id).select(); }
  if (f.tag_status === 'pending' || f.tag_status === 'running') {
    pollTimer = setTimeout(() => { if (state.selected === id) showFile(id); }, 1000);
  }
}

async function withToken(action) {
  if (!token()) await askToken();
  if (!token()) { toast('A write token is needed for this.', true); return; }
  try { await action(); } catch (e) { toast(e.message, true); }
}

function bindDetails() {
  $('#d-close').addEventListener('click', () => {
    $('#details').hidden = true; state.selected = null; if (cy) cy.nodes().unselect();
  });
  $('#d-retag').addEventListener('click', () => withToken(async () => {
    await api(`/api/files/${state.selected}/retag`, { method: 'POST', auth: true });
    toast('Queued for tagging.');
    showFile(state.selected);
  }));
  $('#d-delete').addEventListener('click', () => withToken(async () => {
    const name = $('#d-name').textContent;
    if (!confirm(`Delete “${name}”?`)) return;
    await api(`/api/files/${state.selected}`, { method: 'DELETE', auth: true });
    $('#details').hidden = true;
    state.selected = null;
    toast(`Deleted ${name}.`);
    await refresh();
  }));
}

// ---------------------------------------------------------------- suggestions
let suggestTimer = null;
let suggestIndex = -1;

function hideSuggestions() { $('#suggestions').hidden = true; suggestIndex = -1; }

async function suggest() {
  const q = $('#q').value.trim();
  if (!q) { hideSuggestions(); return; }
  const data = await api(`/api/suggest?q=${encodeURIComponent(q)}&limit=8`);
  if ($('#q').value.trim() !== q) return; // typed on meanwhile
  const list = $('#suggestions');
  list.replaceChildren(...data.items.map((s) => el('li', {
    role: 'option', 'data-type': s.type,
    onmousedown: (e) => { e.preventDefault(); pickSuggestion(s); },
  }, el('span', { class: 'sugg-kind', style: s.type === 'tag' ? `background:${kindColor(s.kind)}` : '' },
    s.type === 'tag' ? s.kind : 'file'),
  s.name, s.type === 'tag' ? el('span', { class: 'meta' }, ` ${s.count}`) : '')));
  list._items = data.items;
  list.hidden = data.items.length === 0;
  suggestIndex = -1;
}

function pickSuggestion(s) {
  hideSuggestions();
  if (s.type === 'file') { $('#q').value = s.name; showFile(s.id); } else runSearch(s.name, 'tag');
}

function bindSearch() {
  $('#q').addEventListener('input', () => {
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(() => suggest().catch(() => {}), 150);
  });
  $('#q').addEventListener('keydown', (e) => {
    const list = $('#suggestions');
    if (list.hidden) return;
    const items = list.querySelectorAll('li');
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      suggestIndex = (suggestIndex + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length;
      items.forEach((li, i) => li.classList.toggle('active', i === suggestIndex));
    } else if (e.key === 'Enter' && suggestIndex >= 0) {
      e.preventDefault();
      pickSuggestion(list._items[suggestIndex]);
    } else if (e.key === 'Escape') hideSuggestions();
  });
  $('#q').addEventListener('blur', () => setTimeout(hideSuggestions, 100));
  $('#search').addEventListener('submit', (e) => {
    e.preventDefault();
    const q = $('#q').value.trim();
    if (q) runSearch(q, $('#by').value); else clearSearch();
  });
  const page = (delta) => {
    state.offset = Math.max(0, state.offset + delta);
    loadList().catch((e) => toast(e.message, true));
  };
  $('#prev').addEventListener('click', () => page(-state.limit));
  $('#next').addEventListener('click', () => page(state.limit));
}

// ---------------------------------------------------------------- token
function showTokenState() { $('#token-state').textContent = token() ? 'set' : 'not set'; }

function askToken() {
  const dialog = $('#token-dialog');
  $('#token-input').value = token();
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      if (dialog.returnValue === 'save') {
        const v = $('#token-input').value.trim();
        if (v) localStorage.setItem(TOKEN_KEY, v); else localStorage.removeItem(TOKEN_KEY);
      }
      showTokenState();
      resolve();
    }, { once: true });
  });
}

// ---------------------------------------------------------------- upload
function uploadOne(file) {
  const row = el('div', { class: 'upload' }, el('span', { class: 'upload-name' }, file.name),
    el('progress', { max: '100', value: '0' }), el('span', { class: 'upload-state' }, '0%'));
  $('#uploads').append(row);
  const bar = row.querySelector('progress');
  const label = row.querySelector('.upload-state');
  const record = { name: file.name, size: file.size, progressEvents: 0, percent: 0, status: 'sending' };
  state.uploads.push(record);
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/files?conflict=rename');
    xhr.setRequestHeader('Authorization', 'Bearer ' + token());
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) {
        const pct = Math.round((100 * e.loaded) / e.total);
        record.progressEvents++;
        record.percent = pct;
        bar.value = pct;
        label.textContent = pct + '%';
      }
    };
    const finish = (ok, text) => {
      record.status = ok ? 'stored' : 'failed';
      record.message = text;
      row.classList.add(ok ? 'done' : 'failed');
      label.textContent = text;
      setTimeout(() => row.remove(), ok ? 4000 : 12000);
      resolve(ok);
    };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status === 201) {
        bar.value = 100;
        finish(true, body.name !== file.name ? `stored as ${body.name}` : 'stored');
      } else finish(false, body.message || `HTTP ${xhr.status}`);
    };
    xhr.onerror = () => finish(false, 'network error');
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}

async function uploadFiles(files) {
  if (!files.length) return;
  if (!token()) await askToken();
  if (!token()) { toast('Uploading needs the write token.', true); return; }
  const results = await Promise.all([...files].map(uploadOne));
  const stored = results.filter(Boolean).length;
  toast(`${stored} of ${results.length} file(s) uploaded; tagging…`, stored < results.length);
  await refresh();
  watchTagging();
}

// Tags arrive after the upload: poll the server's queue (bounded) and redraw
// the graph once it is empty.
let watching = false;
async function watchTagging() {
  if (watching) return;
  watching = true;
  try {
    for (let i = 0; i < 120; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const h = await api('/healthz').catch(() => null);
      if (h && h.tagging.queued === 0 && h.tagging.running === 0) break;
    }
    await refresh();
  } finally {
    watching = false;
  }
}

function bindUpload() {
  $('#upload-btn').addEventListener('click', () => $('#file-input').click());
  $('#file-input').addEventListener('change', (e) => { uploadFiles(e.target.files); e.target.value = ''; });
  let depth = 0;
  const overlay = $('#drop-overlay');
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  window.addEventListener('dragenter', (e) => { if (hasFiles(e)) { depth++; overlay.hidden = false; e.preventDefault(); } });
  window.addEventListener('dragover', (e) => { if (hasFiles(e)) e.preventDefault(); });
  window.addEventListener('dragleave', () => { depth = Math.max(0, depth - 1); if (!depth) overlay.hidden = true; });
  window.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    overlay.hidden = true;
    uploadFiles(e.dataTransfer.files);
  });
}

// ---------------------------------------------------------------- start
async function refresh() {
  await Promise.all([loadGraph(), loadList()]);
  if (state.selected) await showFile(state.selected);
}

window.addEventListener('DOMContentLoaded', async () => {
  $('#token-btn').addEventListener('click', askToken);
  showTokenState();
  bindSearch();
  bindDetails();
  bindUpload();
  initGraph();
  try { await refresh(); } catch (e) { toast(e.message, true); }
  document.body.dataset.ready = '1';
});

// for the browser test and the curious
window.disgrafs = { get cy() { return cy; }, refresh, showFile, runSearch, uploadFiles, state };
