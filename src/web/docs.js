// The API reference, rendered here from /openapi.json (no external renderer, nothing fetched
// from elsewhere): operations with their options, answers and schemas, and every error code.
import { getJson } from '/assets/api.js';

const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
};

/** Inline `code` spans of the descriptions, as text nodes and <code> elements (never as HTML). */
function prose(text = '') {
  const p = el('p');
  text.split(/(`[^`]+`)/).forEach((part) => {
    if (part.startsWith('`') && part.endsWith('`')) p.append(el('code', { text: part.slice(1, -1) }));
    else p.append(part);
  });
  return p;
}

function refName(ref) {
  return ref.replace('#/components/schemas/', '');
}

/** A one-line type: a component link, an enum, a union, an array of something. */
function typeLabel(schema) {
  if (!schema) return el('span', { text: 'any' });
  if (schema.$ref) return el('a', { href: `#schema-${refName(schema.$ref)}`, text: refName(schema.$ref) });
  if ('const' in schema) return el('code', { text: JSON.stringify(schema.const) });
  if (schema.enum) return el('span', {}, 'one of ', ...schema.enum.flatMap((v, i) => [i ? ', ' : '', el('code', { text: String(v) })]));
  if (schema.anyOf) return el('span', {}, ...schema.anyOf.flatMap((s, i) => [i ? ' | ' : '', typeLabel(s)]));
  if (schema.allOf) return el('span', {}, ...schema.allOf.flatMap((s, i) => [i ? ' with ' : '', s.$ref ? typeLabel(s) : constraint(s)]));
  if (schema.type === 'array')
    return el('span', {}, 'array of ', schema.prefixItems ? `[${schema.prefixItems.map((s) => s.type).join(', ')}]` : typeLabel(schema.items));
  return el('span', { text: schema.type ?? 'any' });
}

/** An allOf part that narrows a component (e.g. the error codes of one status). */
function constraint(schema) {
  const codes = schema?.properties?.error?.properties?.code?.enum;
  if (codes) return el('span', {}, 'code ', ...codes.flatMap((c, i) => [i ? ', ' : '', el('code', { text: c })]));
  return el('span', { text: 'constraints' });
}

/** An object's properties, one per line, nested objects indented. */
function schemaTree(schema, depth = 0) {
  const list = el('ul', { class: 'schema' });
  const required = new Set(schema.required ?? []);
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    const line = el('li', {}, el('code', { text: name }), required.has(name) ? '' : ' (optional)', ': ', typeLabel(prop));
    if (prop.description) line.append(el('span', { class: 'muted', text: ` — ${prop.description}` }));
    if (prop.properties && depth < 3) line.append(schemaTree(prop, depth + 1));
    if (prop.items?.properties && depth < 3) line.append(schemaTree(prop.items, depth + 1));
    list.append(line);
  }
  return list;
}

function parameters(params = []) {
  if (!params.length) return null;
  const rows = params.map((p) =>
    el(
      'tr',
      {},
      el('td', {}, el('code', { text: p.name })),
      el('td', { text: p.in }),
      el('td', {}, typeLabel(p.schema)),
      el('td', { text: p.schema?.default === undefined ? '' : String(p.schema.default) }),
      el('td', {}, prose(p.description)),
    ),
  );
  return el(
    'table',
    { class: 'grid' },
    el('thead', {}, el('tr', {}, ...['name', 'in', 'type', 'default', 'meaning'].map((h) => el('th', { text: h })))),
    el('tbody', {}, ...rows),
  );
}

function content(contentMap = {}) {
  return Object.entries(contentMap).map(([type, { schema }]) =>
    el('div', {}, el('code', { text: type }), ': ', typeLabel(schema), schema?.properties ? schemaTree(schema) : null),
  );
}

function operation(path, method, op) {
  const body = el('div', { class: 'op-body' });
  if (op.description) body.append(prose(op.description));
  const params = parameters(op.parameters);
  if (params) body.append(el('h3', { text: 'Parameters' }), params);
  if (op.requestBody) body.append(el('h3', { text: 'Request body' }), ...content(op.requestBody.content));
  body.append(el('h3', { text: 'Responses' }));
  for (const [status, response] of Object.entries(op.responses ?? {})) {
    const block = el('div', { class: 'response' }, el('strong', { text: status }), ' ', prose(response.description));
    block.append(...content(response.content));
    for (const [name, h] of Object.entries(response.headers ?? {}))
      block.append(el('div', {}, 'header ', el('code', { text: name }), h.description ? ` — ${h.description}` : ''));
    body.append(block);
  }
  return el(
    'details',
    { class: 'op', id: `op-${method}-${path.replace(/[^\w]+/g, '-')}` },
    el('summary', {}, el('span', { class: `method ${method}`, text: method }), ' ', el('code', { text: path }), ' — ', op.summary ?? ''),
    body,
  );
}

function errorTable(codes = []) {
  return el(
    'table',
    { class: 'grid', id: 'error-codes' },
    el('thead', {}, el('tr', {}, el('th', { class: 'num', text: 'status' }), el('th', { text: 'code' }), el('th', { text: 'when' }))),
    el(
      'tbody',
      {},
      ...codes.map((c) =>
        el('tr', {}, el('td', { class: 'num', text: String(c.status) }), el('td', {}, el('code', { text: c.code })), el('td', {}, prose(c.when))),
      ),
    ),
  );
}

async function main() {
  const root = document.getElementById('reference');
  const { ok, body: spec } = await getJson('/openapi.json');
  if (!ok) {
    root.replaceChildren(el('p', { class: 'error', text: `${spec.error?.code}: ${spec.error?.message}` }));
    return;
  }
  const parts = [el('h1', { text: `${spec.info.title} ${spec.info.version} — HTTP API` }), prose(spec.info.description)];
  for (const tag of spec.tags ?? []) {
    parts.push(el('h2', { text: tag.description.replace(/\.$/, '') }));
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(methods)) if ((op.tags ?? []).includes(tag.name)) parts.push(operation(path, method, op));
    }
  }
  parts.push(el('h2', { text: 'Error codes' }), errorTable(spec['x-error-codes']));
  parts.push(el('h2', { text: 'Schemas' }));
  for (const [name, schema] of Object.entries(spec.components?.schemas ?? {})) {
    parts.push(el('h3', { id: `schema-${name}`, text: name }), schemaTree(schema));
  }
  root.replaceChildren(...parts);
  // The first operation open: the page shows what an operation looks like without a click.
  root.querySelector('details.op')?.setAttribute('open', '');
  document.body.dataset.state = 'ready';
}

void main();
