// A JSON value as a collapsible tree of <details> elements. Children are built when a node is
// first opened, so a block tree of thousands of blocks costs nothing until someone looks.
// Text goes in through textContent only.

const PREVIEW_ITEMS = 3;

export function jsonTree(value, { label = null, open = true } = {}) {
  return node(label, value, open);
}

function node(label, value, open) {
  if (value === null || typeof value !== 'object') {
    const row = document.createElement('div');
    row.className = 'jt-leaf';
    if (label !== null) row.append(keySpan(label));
    const v = document.createElement('span');
    v.className = `jt-${value === null ? 'null' : typeof value}`;
    v.textContent = typeof value === 'string' ? JSON.stringify(value.length > 2000 ? `${value.slice(0, 2000)}…` : value) : String(value);
    row.append(v);
    return row;
  }
  const details = document.createElement('details');
  details.className = 'jt-node';
  const summary = document.createElement('summary');
  if (label !== null) summary.append(keySpan(label));
  const info = document.createElement('span');
  info.className = 'jt-info';
  info.textContent = describe(value);
  summary.append(info);
  details.append(summary);
  let built = false;
  const build = () => {
    if (built) return;
    built = true;
    const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    for (const [k, v] of entries) details.append(node(k, v, false));
  };
  details.addEventListener('toggle', () => details.open && build());
  if (open) {
    details.open = true;
    build();
  }
  return details;
}

function keySpan(label) {
  const k = document.createElement('span');
  k.className = 'jt-key';
  k.textContent = `${label}: `;
  return k;
}

function describe(value) {
  if (Array.isArray(value)) return `[${value.length}]`;
  const keys = Object.keys(value);
  const preview = keys.slice(0, PREVIEW_ITEMS).join(', ');
  return `{${preview}${keys.length > PREVIEW_ITEMS ? ', …' : ''}}`;
}
