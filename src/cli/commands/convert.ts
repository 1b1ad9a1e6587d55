import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeAtomically } from '../../batch/outputs.js';
import { parseOptions } from '../../engine/options.js';
import { setOcrThreads } from '../../ocr/threads.js';
import { setting } from '../../settings.js';
import { type Command, EXIT, UsageError } from '../command.js';
import { plural, readInputFile } from '../input.js';

export const convertCommand: Command = {
  name: 'convert',
  usage: 'convert <file.pdf|-> [-o out.md] [-f format]',
  summary: 'Convert one PDF locally, without a server.',
  help: `Usage: docmark convert <file.pdf|-> [options]

Converts a PDF on this machine (no server). "-" reads the PDF from stdin.

Options:
  -o, --output FILE       write here instead of stdout ("-" = stdout); the file appears
                          whole or not at all (--out is accepted too)
  -f, --format F          markdown (default) | json | html
      --page-range R      0-based pages, e.g. 0,2-4
      --paginate          put a page separator between pages
      --force-ocr         OCR every page, even with a text layer
      --extract-images    write the page images as PNG files beside the output
                          (the current directory when writing to stdout)
      --password P        password of an encrypted PDF
  -q, --quiet             no summary on stderr

Exit code: 0 converted (pages that could not be read are listed on stderr), 1 the PDF
could not be converted or the output not written, 2 wrong arguments (an unknown flag, a
wrong value, an input that is not there).`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        output: { type: 'string', short: 'o' },
        out: { type: 'string' },
        format: { type: 'string', short: 'f' },
        'page-range': { type: 'string' },
        paginate: { type: 'boolean' },
        'force-ocr': { type: 'boolean' },
        'extract-images': { type: 'boolean' },
        password: { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
      },
    });
    if (positionals.length !== 1) throw new UsageError('convert takes exactly one input file (or "-" for stdin).');
    const options = parseOptions({
      output_format: values.format,
      page_range: values['page-range'],
      paginate_output: values.paginate ? 'true' : undefined,
      force_ocr: values['force-ocr'] ? 'true' : undefined,
      extract_images: values['extract-images'] ? 'true' : undefined,
      password: values.password,
    });
    const input = positionals[0];
    const out = values.output ?? values.out;
    const bytes = input === '-' ? await readStdin() : await readInputFile(input);
    setOcrThreads(setting('DOCMARK_OCR_THREADS'));
    const { convertPdf } = await import('../../engine/convert.js');
    const result = await convertPdf(bytes, options);
    // Images first: the Markdown refers to them by file name, relative to its own folder.
    const imageDir = out && out !== '-' ? path.dirname(out) : '.';
    if (result.images?.length) await fs.mkdir(imageDir, { recursive: true });
    for (const image of result.images ?? []) await fs.writeFile(path.join(imageDir, image.id), Buffer.from(image.data, 'base64'));
    if (!out || out === '-') process.stdout.write(result.output);
    else await writeAtomically(out, result.output);
    // Lost pages are reported even with --quiet: the output is incomplete.
    for (const f of result.metadata.failed_pages ?? []) process.stderr.write(`${input}: warning: ${f.message} (${f.code})\n`);
    if (!values.quiet && out && out !== '-') {
      const m = result.metadata;
      process.stderr.write(`${input}: ${plural(m.pages, 'page')} in ${m.duration_ms} ms → ${out}\n`);
    }
    return EXIT.ok;
  },
};

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
