import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import MarkdownIt from 'markdown-it';
import { parseDuration } from '../src/cli/commands/restarts.ts';
import { parseOptions, parsePageRange, MAX_PAGE_RANGE_CHARS, OPTION_NAMES } from '../src/engine/options.ts';
import { ALLOWED_SCHEMES, safeLinkTarget } from '../src/engine/link-policy.ts';
import { inline } from '../src/engine/render/html-parts.ts';
import { safeInlineMarkdown } from '../src/engine/render/inline-markdown.ts';
import { flag, memorySize, oneOf, SettingError, wholeNumber } from '../src/settings.js';

// Every parser of what a client (or an operator) types, tried with arbitrary input: each gives a
// value or its own error, in bounded time, and what it returns keeps its promises. The link
// policy and the renderers are tried the same way with hostile targets and texts.

/** CPU time of one call, so a loaded machine does not fail a test that is about algorithmic bounds. */
function cpuMs(f: () => void): number {
  const t0 = process.cpuUsage();
  try {
    f();
  } catch {
    // the caller checks outcomes separately
  }
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / 1000;
}

/** The slowest any parser may be on any input: far above the real cost, far below a hang. */
const BOUND_MS = 250;

/** Numbers as a client might type them: small, around the limits, past 2^53, in exponent form. */
const numberText = fc.oneof(
  fc.nat({ max: 3000 }).map(String),
  fc.bigInt({ min: 0n, max: 10n ** 40n }).map(String),
  fc.constantFrom('9007199254740993', '9007199254740992', '99999', '100000', '1e9', '0x10', '-1', '1.5', 'Infinity', 'NaN', '00000000000000000001'),
  fc.double().map(String),
);

/** Page range specs: mostly well formed, with hostile numbers and separators mixed in. */
const pageRangeText = fc.oneof(
  fc
    .array(fc.tuple(numberText, fc.option(numberText, { nil: undefined }), fc.constantFrom('', ' ', '  ')), { minLength: 1, maxLength: 8 })
    .map((parts) => parts.map(([a, b, pad]) => (b === undefined ? `${pad}${a}` : `${a}${pad}-${pad}${b}`)).join(',')),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: fc.constantFrom('0', '1', '9', ',', '-', ' ', '\t', '\u00a0', '٣', '𝟗'), maxLength: 300 }),
);

const isInvalidOption = (err: unknown): boolean => (err as { code?: string })?.code === 'invalid_option' && (err as Error).message.length > 10;

describe('option parsers are total and bounded', () => {
  it('parsePageRange: sorted unique pages below the limit, or invalid_option; never a hang', () => {
    fc.assert(
      fc.property(pageRangeText, fc.integer({ min: 1, max: 100_000 }), (spec, maxPages) => {
        let pages: number[] | undefined;
        const ms = cpuMs(() => {
          try {
            pages = parsePageRange(spec, maxPages);
          } catch (err) {
            assert.ok(isInvalidOption(err), String(err));
          }
        });
        assert.ok(ms < BOUND_MS, `${JSON.stringify(spec)} took ${ms} ms`);
        if (pages) {
          assert.ok(pages.length > 0 && pages.length <= maxPages);
          for (let i = 0; i < pages.length; i++) {
            assert.ok(Number.isInteger(pages[i]) && pages[i] >= 0 && pages[i] < maxPages);
            if (i) assert.ok(pages[i] > pages[i - 1]);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('parsePageRange: the pages a well-formed range names, exactly', () => {
    const span = fc.tuple(fc.nat({ max: 60 }), fc.nat({ max: 5 })).map(([from, len]) => [from, from + len] as const);
    fc.assert(
      fc.property(fc.array(span, { minLength: 1, maxLength: 6 }), fc.boolean(), (spans, spaced) => {
        const sep = spaced ? ' , ' : ',';
        const spec = spans.map(([a, b]) => (a === b ? `${a}` : `${a}${spaced ? ' - ' : '-'}${b}`)).join(sep);
        const expected = [...new Set(spans.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, k) => a + k)))].sort((x, y) => x - y);
        assert.deepEqual(parsePageRange(spec, 100), expected);
      }),
    );
  });

  it('answers the numbers past 2^53 and past the page limit at once', () => {
    for (const spec of ['9007199254740993', '0-9007199254740993', '9007199254740993-9007199254740993', '1e308', '0-99999999999999999999']) {
      const ms = cpuMs(() => assert.throws(() => parsePageRange(spec, 2000), isInvalidOption));
      assert.ok(ms < BOUND_MS, `${spec}: ${ms} ms`);
    }
    assert.throws(() => parsePageRange('2000', 2000), /at most 2000 pages/);
    assert.deepEqual(parsePageRange('1999', 2000), [1999]);
    // The largest range the largest limit allows is still quick.
    assert.ok(cpuMs(() => assert.equal(parsePageRange('0-99999', 100_000).length, 100_000)) < BOUND_MS);
    assert.throws(() => parsePageRange('0,'.repeat(MAX_PAGE_RANGE_CHARS), 100_000), /too long/);
  });

  it('parseOptions: arbitrary names and values give options or invalid_option', () => {
    const name = fc.oneof(
      fc.constantFrom(...OPTION_NAMES),
      fc.constantFrom('format', 'file', 'pageRange', '__proto__', 'constructor'),
      fc.string({ maxLength: 20 }),
    );
    const value = fc.oneof(
      fc.constantFrom('markdown', 'json', 'html', 'md', 'HTML', 'true', 'false', 'yes', '0', '1', ''),
      numberText,
      pageRangeText,
      fc.string({ maxLength: 100 }),
      fc.nat({ max: 70_000 }).map((n) => 'x'.repeat(n)),
    );
    fc.assert(
      fc.property(
        fc.dictionary(name, value, { maxKeys: 4 }),
        fc.option(fc.integer({ min: 1, max: 100_000 }), { nil: undefined }),
        (raw, maxPages) => {
          const ms = cpuMs(() => {
            try {
              const options = parseOptions(raw, { maxPages });
              assert.ok(['markdown', 'json', 'html'].includes(options.outputFormat));
              for (const key of Object.keys(raw)) assert.ok((OPTION_NAMES as readonly string[]).includes(key), `accepted unknown option ${key}`);
              if (options.pageRange) assert.ok(options.pageRange.every((p) => p < (maxPages ?? 100_000)));
            } catch (err) {
              assert.ok(isInvalidOption(err), String(err));
            }
          });
          assert.ok(ms < BOUND_MS, `${JSON.stringify(raw).slice(0, 200)} took ${ms} ms`);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('refuses unknown options, naming the known ones', () => {
    assert.throws(
      () => parseOptions({ format: 'json' }),
      (err: Error) =>
        isInvalidOption(err) && /Unknown option "format"/.test(err.message) && /output_format/.test(err.message) && /page_range/.test(err.message),
    );
    assert.throws(() => parseOptions({ Output_Format: 'json' }), /Unknown option/);
    assert.throws(() => parseOptions({ file: 'x' }), /file part/);
    assert.equal(parseOptions({ output_format: 'json', page_range: '0-2' }, { maxPages: 10 }).maxPages, 10);
  });

  it('quotes a refused value short and with its control characters escaped', () => {
    assert.throws(
      () => parseOptions({ output_format: `\u001b[31m${'x'.repeat(50)}` }),
      (err: Error) => !err.message.includes('\u001b') && err.message.length < 200,
    );
    assert.throws(
      () => parseOptions({ force_ocr: 'y'.repeat(5000) }),
      (err: Error) => isInvalidOption(err) && err.message.length < 200,
    );
  });

  it('settings parsers: a value or a SettingError for any text', () => {
    const parsers = [wholeNumber(0), wholeNumber(1, 65535), memorySize, flag, oneOf(['app', 'pm2'])];
    fc.assert(
      fc.property(
        fc.oneof(
          numberText,
          fc.string({ maxLength: 40 }),
          fc.nat({ max: 70_000 }).map((n) => '9'.repeat(n)),
        ),
        (raw) => {
          for (const parse of parsers) {
            const ms = cpuMs(() => {
              try {
                const v = parse(raw, 'X');
                if (typeof v === 'number') assert.ok(Number.isSafeInteger(v));
              } catch (err) {
                assert.ok(err instanceof SettingError, String(err));
              }
            });
            assert.ok(ms < BOUND_MS);
          }
        },
      ),
    );
  });

  it('docmark restarts --since: a duration or a usage error, never a date out of range', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.tuple(numberText, fc.constantFrom('s', 'm', 'h', 'd', 'w', 'y', '')).map(([n, u]) => n + u),
          fc.string({ maxLength: 30 }),
        ),
        (raw) => {
          try {
            const s = parseDuration(raw);
            assert.ok(Number.isSafeInteger(s) && s >= 0);
            new Date(Date.now() - s * 1000).toISOString();
          } catch (err) {
            assert.equal((err as Error).constructor.name, 'UsageError', String(err));
          }
        },
      ),
    );
  });
});

/** Link targets as an attacker writes them: script schemes hidden by case, space, controls and entities. */
const hostileTarget = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('', ' ', '\t', '\n', '\u0000', '\u00a0', '\ufeff', '\u200b', '%20'),
      fc.constantFrom(
        'javascript',
        'JaVaScRiPt',
        'java\tscript',
        'java\nscript',
        'java\u0000script',
        'java&#115;cript',
        'vbscript',
        'data',
        'file',
        'http',
        'https',
        'mailto',
        'HTTPS',
        'ftp',
        'blob',
        'about',
        '',
      ),
      fc.constantFrom(':', '&#58;', '%3A', '&colon;', ':\u0000', '://', ':/\\', '://x.org@', '://[::1]'),
      fc.string({
        unit: fc.constantFrom('a', '(', ')', '"', "'", '<', '>', ' ', '`', '\\', '/', '#', '?', '&', ';', '%', 'é', '\ud800', '[', ']', '\u2028'),
        maxLength: 30,
      }),
    )
    .map((parts) => parts.join('')),
  fc.webUrl(),
  fc.string({ maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
);

/** The link policy as a test states it: an allowed scheme (or an in-document anchor) and nothing that ends a link. */
function allowedTarget(href: string): boolean {
  if (/[\s"'<>()`\\]|\p{Cc}/u.test(href)) return false;
  if (href.startsWith('#')) return href.length > 1;
  try {
    return ALLOWED_SCHEMES.includes(new URL(href).protocol);
  } catch {
    return false;
  }
}

describe('link targets are allowed by scheme', () => {
  it('keeps http, https, mailto and anchors; refuses everything else, however it is disguised', () => {
    const kept = {
      'https://example.org/a b/(c)': 'https://example.org/a%20b/%28c%29',
      'HTTP://Example.ORG/x?q="1"': 'http://example.org/x?q=%221%22',
      ' https://example.org/ ': 'https://example.org/',
      "mailto:someone@example.org?subject=it's (fine)": 'mailto:someone@example.org?subject=it%27s%20%28fine%29',
      '#section-2': '#section-2',
      '#a"><script>': '#a%22%3E%3Cscript%3E',
    };
    for (const [raw, safe] of Object.entries(kept)) assert.equal(safeLinkTarget(raw), safe, raw);
    const refused = [
      'javascript:alert(document.cookie)',
      'JAVASCRIPT:alert(1)',
      ' javascript:alert(1)',
      'java\tscript:alert(1)',
      'java\u0000script:alert(1)',
      'javascript&#58;alert(1)',
      '&#106;avascript:alert(1)',
      'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
      'vbscript:msgbox(1)',
      'file:///etc/passwd',
      'ftp://example.org/',
      '\u0001https://example.org/',
      'https://example.org/\u0085',
      'relative/page.html',
      '//example.org/x',
      'https://',
      'mailto:',
      '#',
      'x'.repeat(5000),
    ];
    for (const raw of refused) assert.equal(safeLinkTarget(raw), undefined, JSON.stringify(raw));
  });

  it('any target: refused, or allowed and spelled safely, and checking again changes nothing', () => {
    fc.assert(
      fc.property(hostileTarget, (raw) => {
        const safe = safeLinkTarget(raw);
        if (safe === undefined) return;
        assert.ok(allowedTarget(safe), `${JSON.stringify(raw)} → ${JSON.stringify(safe)}`);
        assert.equal(safeLinkTarget(safe), safe, JSON.stringify(raw));
      }),
      { numRuns: 3000 },
    );
  });
});

/** Inline Markdown built from the pieces links and escapes are made of. */
const hostileInline = fc
  .array(
    fc.oneof(
      fc.constantFrom('[', ']', '(', ')', '\\', '`', '``', '*', '**', '!', '<', '>', ' ', 'a', ':', '&', '"', "'", '&#106;', '\n', '#', '-', '|'),
      hostileTarget,
      hostileTarget.map((t) => `[x](${t})`),
      fc.tuple(fc.string({ maxLength: 8 }), hostileTarget).map(([text, t]) => `[${text}](${t})`),
      fc.constantFrom(
        '[a](<javascript:x>)',
        '[a](javascript:x "t")',
        '[a]: javascript:x',
        '<javascript:alert(1)>',
        '<img src=x onerror=alert(1)>',
        '[a][b]',
        '[b]: data:x',
      ),
    ),
    { maxLength: 25 },
  )
  .map((parts) => parts.join(''));

/** The hrefs and srcs of an HTML string, and whether it has a tag outside `tags`. */
function links(html: string): string[] {
  return [...html.matchAll(/\s(?:href|src)="([^"]*)"/g)].map((m) =>
    m[1]
      .replace(/&amp;/g, '&')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'"),
  );
}

const MARKDOWN_TAGS = new Set([
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'p',
  'ul',
  'ol',
  'li',
  'blockquote',
  'hr',
  'pre',
  'table',
  'thead',
  'tbody',
  'tr',
  'th',
  'td',
  'a',
  'code',
  'strong',
  'em',
  's',
  'br',
]);

describe('renderers let no refused link out', () => {
  it('HTML: only the tags the engine makes, each link allowed', () => {
    fc.assert(
      fc.property(hostileInline, (md) => {
        const html = inline(md);
        for (const tag of html.matchAll(/<\/?([a-z0-9]+)/gi))
          assert.ok(['a', 'code', 'strong', 'em'].includes(tag[1]), `<${tag[1]}> from ${JSON.stringify(md)}`);
        for (const href of links(html)) assert.ok(allowedTarget(href), `${href} from ${JSON.stringify(md)}`);
      }),
      { numRuns: 3000 },
    );
  });

  it('HTML: a link whose text looks like a link cannot cut its target short', () => {
    const html = inline('[a\\](javascript:alert\\(1\\))](https://example.org/)');
    assert.equal(html, '<a href="https://example.org/">a](javascript:alert(1))</a>');
    // Not a link in the engine's grammar (a target holds no parenthesis): text, escaped.
    assert.equal(inline('[click](javascript:alert(1))'), '[click](javascript:alert(1))');
    assert.equal(inline('[click](javascript:alert%281%29)'), 'click');
    assert.equal(inline('[<b>](https://example.org/?a="b")'), '<a href="https://example.org/?a=%22b%22">&lt;b&gt;</a>');
  });

  it('Markdown: a CommonMark reader finds no link, image or HTML the policy refuses, in any block', () => {
    // markdown-it with its own link check off: what it renders is what our output says.
    const reader = new MarkdownIt({ html: true, linkify: false });
    reader.validateLink = () => true;
    fc.assert(
      fc.property(fc.array(hostileInline, { minLength: 1, maxLength: 4 }), (texts) => {
        const safe = texts.map((t) => safeInlineMarkdown(t.replace(/\s+/g, ' ').trim()));
        const doc = [`# ${safe[0]}`, safe[1] ?? '', `- ${safe[2] ?? ''}`, `| ${safe[3] ?? ''} |\n| --- |`, safe[0]].join('\n\n');
        const html = reader.render(doc);
        // Block structure a text may start (a quote, a rule, a list) is Markdown's business; only
        // the tags that fetch or run anything matter here, and markdown-it's raw HTML would show as a foreign tag.
        for (const tag of html.matchAll(/<\/?([a-z0-9]+)/gi)) assert.ok(MARKDOWN_TAGS.has(tag[1]), `<${tag[1]}> from ${JSON.stringify(texts)}`);
        for (const href of links(html)) assert.ok(allowedTarget(href), `${href} from ${JSON.stringify(texts)}`);
        for (const text of safe) assert.equal(safeInlineMarkdown(text), text, 'checking again changes nothing');
      }),
      { numRuns: 2000 },
    );
  });

  it('Markdown: text the engine wrote with allowed links stays exactly as it was', () => {
    for (const md of ['[**Docs**](https://example.org/docs) and `[x](y)`', 'Plain \\[1\\] text', '[a](#intro)', 'See [x] above']) {
      assert.equal(safeInlineMarkdown(md), md);
    }
    assert.equal(safeInlineMarkdown('Wow![site](https://example.org/)'), 'Wow\\![site](https://example.org/)');
    assert.equal(safeInlineMarkdown('[a](javascript:alert(1))'), '\\[a\\](javascript:alert(1))');
    assert.equal(safeInlineMarkdown('[**a**](data:text/html,x) b'), '**a** b');
    assert.equal(safeInlineMarkdown('[!]()[](https://example.org/)'), '\\![](https://example.org/)');
  });
});
