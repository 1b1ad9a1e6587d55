// Markdown and HTML from a conversion, made safe to show: marked renders, DOMPurify keeps only
// the tags a document needs (no script, style, form, frame or event handler) and only links a
// browser will not run (http, https, mailto and in-page anchors).
import DOMPurify from '/assets/lib/purify.es.mjs';
import { Marked } from '/assets/lib/marked.esm.js';

const marked = new Marked({ gfm: true, breaks: false, async: false });

const ALLOWED_TAGS = [
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'p',
  'br',
  'hr',
  'blockquote',
  'pre',
  'code',
  'em',
  'strong',
  'del',
  's',
  'sup',
  'sub',
  'ul',
  'ol',
  'li',
  'a',
  'img',
  'table',
  'thead',
  'tbody',
  'tfoot',
  'tr',
  'th',
  'td',
  'caption',
  'span',
  'div',
  'input',
];
const ALLOWED_ATTR = ['href', 'title', 'alt', 'src', 'colspan', 'rowspan', 'align', 'start', 'type', 'checked', 'disabled', 'id'];
/** Links and images: http, https, mailto or no scheme at all (anchors, relative names); anything else is dropped. */
const ALLOWED_URI_REGEXP = /^(?:(?:https?|mailto):|[^a-z]|[a-z+.-]+(?:[^a-z+.\-:]|$))/i;

const purify = DOMPurify(window);
purify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A' && node.hasAttribute('href')) node.setAttribute('rel', 'noopener noreferrer nofollow');
  if (node.tagName === 'INPUT' && node.getAttribute('type') !== 'checkbox') node.remove();
});

/** A DocumentFragment of safe nodes. `images` maps image ids in the output to data: URLs. */
export function renderMarkdown(markdown, images = new Map()) {
  return sanitize(marked.parse(markdown), images);
}

export function renderHtml(html, images = new Map()) {
  return sanitize(html, images);
}

function sanitize(html, images) {
  const fragment = purify.sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOWED_URI_REGEXP,
    RETURN_DOM_FRAGMENT: true,
  });
  // Extracted images are referenced by id; they come with the answer as base64 PNG.
  for (const img of fragment.querySelectorAll('img')) {
    const id = img.getAttribute('src') ?? '';
    if (images.has(id)) img.setAttribute('src', images.get(id));
    else if (!id.startsWith('data:image/png;base64,')) img.removeAttribute('src');
  }
  return fragment;
}
