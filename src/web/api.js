// How the pages talk to the server. The try-it page calls convert() and nothing else, so a
// conversion through /jobs (with progress) can replace the single POST here without touching it.
// The API key, when the server wants one, lives in this tab's sessionStorage only.

const KEY = 'docmark.apiKey';

export function apiKey() {
  return sessionStorage.getItem(KEY) ?? '';
}

export function setApiKey(value) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

/** Whether the server said it needs a key (filled into the page's <meta name="docmark-auth">). */
export function authRequired() {
  return document.querySelector('meta[name="docmark-auth"]')?.content === 'required';
}

/**
 * An answer, success or not, in one shape: { ok, status, body } where a failed body is always
 * { success: false, error: { code, message } }, network failures included.
 */
async function answer(response) {
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = response.ok
      ? { success: true, output: text }
      : { success: false, error: { code: `http_${response.status}`, message: text.slice(0, 500) || response.statusText } };
  }
  return { ok: response.ok && body?.success !== false, status: response.status, body };
}

function failure(code, message) {
  return { ok: false, status: 0, body: { success: false, error: { code, message } } };
}

/**
 * Convert a file with options ({ output_format, page_range, force_ocr, extract_images,
 * paginate_output }). `onProgress(text)` hears what is happening; `signal` cancels.
 */
export async function convert(file, options, { onProgress = () => {}, signal } = {}) {
  const form = new FormData();
  for (const [name, value] of Object.entries(options)) {
    if (value !== undefined && value !== '' && value !== false) form.append(name, String(value));
  }
  form.append('file', file, file.name || 'document.pdf');
  const headers = {};
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  onProgress(`Uploading ${file.name} and converting…`);
  try {
    const response = await fetch('/convert', { method: 'POST', body: form, headers, signal });
    return await answer(response);
  } catch (err) {
    if (err?.name === 'AbortError') return failure('cancelled', 'The conversion was cancelled.');
    return failure('network_error', `The server could not be reached: ${err?.message ?? err}`);
  }
}

export async function getJson(url) {
  try {
    return await answer(await fetch(url, { headers: { Accept: 'application/json' } }));
  } catch (err) {
    return failure('network_error', `The server could not be reached: ${err?.message ?? err}`);
  }
}
