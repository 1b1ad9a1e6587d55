// The try-it page: a PDF in, its pages on the left, the result on the right (rendered, source,
// or the whole answer as a tree), scrolled together page by page. document.body.dataset.state
// says where it is (idle, converting, done, error): the browser tests wait on it.
import { apiKey, authRequired, convert, setApiKey } from '/assets/api.js';
import { jsonTree } from '/assets/json-tree.js';
import { renderHtml, renderMarkdown } from '/assets/markdown.js';
import { openPdf, showPages } from '/assets/pdf-view.js';

const $ = (id) => document.getElementById(id);
/** The separator paginate_output puts before each page after the first: "{N}" and 48 dashes. */
const PAGE_SEPARATOR = /^\{(\d+)\}-{48}$/m;
const PAGE_SEPARATOR_ALL = new RegExp(PAGE_SEPARATOR.source, 'gm');

const state = { file: null, bytes: null, result: null, view: 'rendered', pdfSections: [] };

function setState(name) {
  document.body.dataset.state = name;
}

// ---- API key ---------------------------------------------------------------

function showKeyField(focus = false) {
  $('key-field').hidden = false;
  $('api-key').value = apiKey();
  if (focus) $('api-key').focus();
}
if (authRequired()) showKeyField();
$('api-key').addEventListener('change', (e) => setApiKey(e.target.value.trim()));

// ---- choosing a file -------------------------------------------------------

const drop = $('drop-zone');
for (const type of ['dragenter', 'dragover']) {
  drop.addEventListener(type, (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
}
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const file = e.dataTransfer?.files?.[0];
  if (file) void choose(file);
});
// A PDF dropped anywhere else must not make the browser navigate away to it.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => e.preventDefault());
$('file').addEventListener('change', (e) => {
  const file = e.target.files?.[0];
  if (file) void choose(file);
});
$('convert-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void run();
});

async function choose(file) {
  state.file = file;
  state.bytes = new Uint8Array(await file.arrayBuffer());
  $('drop-text').textContent = `${file.name} (${formatBytes(file.size)})`;
  $('convert').disabled = false;
  await preview();
  await run();
}

async function preview(marks = {}) {
  const box = $('pdf-pages');
  try {
    const doc = await openPdf(state.bytes);
    $('pdf-info').textContent = `${doc.numPages} page${doc.numPages === 1 ? '' : 's'}`;
    state.pdfSections = await showPages(box, doc, (i) => pageBadge(i, marks));
  } catch (err) {
    state.pdfSections = [];
    $('pdf-info').textContent = '';
    const note = document.createElement('p');
    note.className = 'muted empty';
    note.textContent = `The browser cannot show this file as a PDF (${err?.message ?? err}).`;
    box.replaceChildren(note);
  }
}

// ---- converting ------------------------------------------------------------

function options() {
  return {
    output_format: $('output_format').value,
    page_range: $('page_range').value.trim(),
    paginate_output: $('paginate_output').checked,
    force_ocr: $('force_ocr').checked,
    extract_images: $('extract_images').checked,
  };
}

let running;

async function run() {
  if (!state.file) return;
  running?.abort();
  const controller = new AbortController();
  running = controller;
  hideError();
  setState('converting');
  $('convert').disabled = true;
  const opts = options();
  const started = performance.now();
  const { ok, status, body } = await convert(state.file, opts, { onProgress: (t) => ($('progress').textContent = t), signal: controller.signal });
  if (running !== controller) return; // a newer conversion took over
  $('convert').disabled = false;
  $('progress').textContent = '';
  if (!ok) {
    showError(status, body.error ?? { code: 'unknown', message: 'The server gave no reason.' });
    if (status === 401) showKeyField(true);
    setState('error');
    return;
  }
  state.result = { ...body, options: opts, seconds: (performance.now() - started) / 1000 };
  const marks = pageMarks(body.metadata);
  if (marks.ocr.size || marks.failed.size) await preview(marks);
  showResult();
  setState('done');
}

function showError(status, error) {
  $('error-code').textContent = error.code;
  $('error-status').textContent = status ? `(HTTP ${status})` : '';
  $('error-message').textContent = error.message;
  $('error').hidden = false;
}

function hideError() {
  $('error').hidden = true;
}

// ---- showing the result ----------------------------------------------------

function pageMarks(metadata = {}) {
  return {
    ocr: new Set(metadata.ocr_pages ?? []),
    failed: new Map((metadata.failed_pages ?? []).map((f) => [f.page, f])),
  };
}

function pageBadge(i, marks) {
  const span = document.createElement('span');
  if (marks.failed?.has(i)) {
    const f = marks.failed.get(i);
    span.className = 'badge failed';
    span.textContent = `failed: ${f.code}`;
    span.title = f.message;
  } else if (marks.ocr?.has(i)) {
    span.className = 'badge ocr';
    span.textContent = 'OCR';
  } else {
    return null;
  }
  return span;
}

/** [{ page, text }] from the output: by paginate_output's separators, or by the JSON blocks' pages. */
function pagesOf(result) {
  const { output, output_format: format, options: opts } = result;
  const firstPage = Number(/^\s*(\d+)/.exec(opts.page_range ?? '')?.[1] ?? 0);
  if (format === 'json') {
    let tree;
    try {
      tree = JSON.parse(output);
    } catch {
      return [{ page: null, text: output }];
    }
    const byPage = new Map();
    for (const block of tree.blocks ?? []) {
      if (!byPage.has(block.page)) byPage.set(block.page, []);
      byPage.get(block.page).push(block);
    }
    return [...byPage].map(([page, blocks]) => ({ page, blocks }));
  }
  if (format !== 'markdown' || !PAGE_SEPARATOR.test(output))
    return [{ page: format === 'markdown' && opts.paginate_output ? firstPage : null, text: output }];
  const parts = output.split(PAGE_SEPARATOR_ALL);
  // split() with a capture group: [before, page, text, page, text, …]
  const out = [{ page: firstPage, text: parts[0] }];
  for (let i = 1; i < parts.length; i += 2) out.push({ page: Number(parts[i]), text: parts[i + 1] });
  return out.filter((p) => p.text.trim() !== '' || p.page !== null);
}

function showResult() {
  const result = state.result;
  const { metadata } = result;
  const marks = pageMarks(metadata);
  const bits = [
    `${metadata.pages} of ${metadata.page_count} page${metadata.page_count === 1 ? '' : 's'}`,
    `${metadata.duration_ms} ms on the server`,
  ];
  if (marks.ocr.size) bits.push(`OCR: page ${[...marks.ocr].map((p) => p + 1).join(', ')}`);
  if (marks.failed.size) bits.push(`could not be read: page ${[...marks.failed.keys()].map((p) => p + 1).join(', ')}`);
  $('summary').textContent = bits.join(' · ');
  $('copy').disabled = false;
  $('download').disabled = false;
  render();
}

function render() {
  const result = state.result;
  const body = $('result');
  body.replaceChildren();
  body.className = `pane-body view-${state.view}`;
  if (!result) return;
  if (state.view === 'json') {
    const shown = { ...result, options: undefined, seconds: undefined };
    if (result.output_format === 'json') {
      try {
        shown.output = JSON.parse(result.output);
      } catch {
        // shown as the string it is
      }
    }
    // Images are long base64 strings: their size says enough.
    if (shown.images) shown.images = shown.images.map((img) => ({ ...img, data: `(${formatBytes((img.data.length * 3) / 4)} of base64 PNG)` }));
    body.append(jsonTree(JSON.parse(JSON.stringify(shown)), { open: true }));
    return;
  }
  const images = new Map((result.images ?? []).map((img) => [img.id, `data:${img.mime};base64,${img.data}`]));
  const marks = pageMarks(result.metadata);
  for (const { page, text, blocks } of pagesOf(result)) {
    const section = document.createElement('section');
    section.className = 'result-page';
    if (page !== null) {
      section.dataset.page = String(page);
      const caption = document.createElement('div');
      caption.className = 'page-caption';
      caption.textContent = `Page ${page + 1}`;
      const badge = pageBadge(page, marks);
      if (badge) caption.append(badge);
      section.append(caption);
    }
    if (blocks) {
      section.append(jsonTree(blocks, { label: 'blocks', open: state.view === 'rendered' }));
    } else if (state.view === 'source') {
      const pre = document.createElement('pre');
      pre.className = 'source';
      pre.textContent = text;
      section.append(pre);
    } else {
      const article = document.createElement('article');
      article.className = 'markdown';
      article.append(result.output_format === 'html' ? renderHtml(text, images) : renderMarkdown(text, images));
      section.append(article);
    }
    body.append(section);
  }
}

for (const tab of document.querySelectorAll('[role="tab"]')) {
  tab.addEventListener('click', () => {
    state.view = tab.dataset.view;
    for (const t of document.querySelectorAll('[role="tab"]')) t.setAttribute('aria-selected', String(t === tab));
    render();
  });
}

// ---- copy and download -----------------------------------------------------

const EXTENSIONS = { markdown: 'md', html: 'html', json: 'json' };

function outputText() {
  return state.view === 'json' ? JSON.stringify(state.result, null, 2) : state.result.output;
}

$('copy').addEventListener('click', async () => {
  const text = outputText();
  try {
    await navigator.clipboard.writeText(text);
    flash('Copied.');
  } catch {
    flash('The browser did not allow copying; select the source and copy it by hand.');
  }
});

$('download').addEventListener('click', () => {
  const format = state.view === 'json' ? 'json' : state.result.output_format;
  const type = { md: 'text/markdown', html: 'text/html', json: 'application/json' }[EXTENSIONS[format]];
  const url = URL.createObjectURL(new Blob([outputText()], { type: `${type};charset=utf-8` }));
  const a = document.createElement('a');
  a.href = url;
  a.download = `${(state.file?.name ?? 'document').replace(/\.pdf$/i, '')}${state.view === 'json' ? '.response' : ''}.${EXTENSIONS[format]}`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
});

function flash(text) {
  $('progress').textContent = text;
  setTimeout(() => {
    if ($('progress').textContent === text) $('progress').textContent = '';
  }, 2500);
}

// ---- scrolling the two panes together ---------------------------------------

/** The page at the top of a pane: the last section whose top has scrolled past the pane's top. */
function topPage(pane) {
  let page = null;
  const top = pane.getBoundingClientRect().top + 8;
  for (const s of pane.querySelectorAll(':scope > section[data-page]')) {
    if (s.getBoundingClientRect().top <= top) page = s.dataset.page;
    else break;
  }
  return page ?? pane.querySelector(':scope > section[data-page]')?.dataset.page ?? null;
}

function scrollToPage(pane, page) {
  const section = pane.querySelector(`:scope > section[data-page="${CSS.escape(page)}"]`);
  if (!section) return;
  pane.scrollTop += section.getBoundingClientRect().top - pane.getBoundingClientRect().top;
}

/** A pane scrolled by the other follows for a moment without leading back. */
const following = new WeakMap();

function link(from, to) {
  let scheduled = false;
  from.addEventListener('scroll', () => {
    if ((following.get(from) ?? 0) > performance.now()) return;
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      const page = topPage(from);
      if (page === null || topPage(to) === page) return;
      following.set(to, performance.now() + 150);
      scrollToPage(to, page);
    });
  });
}
link($('pdf-pages'), $('result'));
link($('result'), $('pdf-pages'));

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
