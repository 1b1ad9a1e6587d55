import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeAtomically } from '../../batch/outputs.js';
import { isDocmarkError } from '../../errors.js';
import { CorpusError, listDocuments, outputPath, type EvalDocument } from '../../eval/corpus.js';
import { evaluate, type OutputResult } from '../../eval/evaluate.js';
import { documentName, evaluationJson, formatFooter, formatHeader, formatRow, nameWidth } from '../../eval/report.js';
import { type Command, EXIT, UsageError } from '../command.js';
import { checkFolder, plural } from '../input.js';

export const evalCommand: Command = {
  name: 'eval',
  usage: 'eval <truth-dir> [outputs-dir] [--json]',
  summary: 'Score conversions against known-good Markdown (or text, for scans).',
  help: `Usage: docmark eval <truth-dir> [outputs-dir] [options]

Scores conversions against their truth. <truth-dir> holds the PDFs, each with its truth
beside it under the same name: report.pdf with report.md (the Markdown it should give:
every metric) or report.txt (the text of a scan: text and character error rate). A
manifest.json in the folder (the dev corpus's format) lists the documents instead, and
names the running headers and footers each one prints.

Without [outputs-dir], docmark converts each PDF itself, on this machine. With it, the
outputs there are scored: report.md for report.pdf (what \`docmark batch\` writes, or any
other converter's). A missing output is scored as an empty one.

Metrics (1 is best, except cer): text (1 - edit distance / length), headings and their
levels, tables and their cells, list items, code blocks (each an F1 of blocks found),
reading order, furniture (running headers, footers and page numbers removed), and cer
(character error rate, .txt truths).

Options:
      --json              the scores as JSON on stdout (per document, and the means)
      --only ID[,ID...]   only these documents (file names without .pdf)
  -o, --output DIR        also write the conversions here (when docmark converts)
  -q, --quiet             no progress on stderr

Exit code: 0 every document had an output, 1 some had none (not converted, or missing
from [outputs-dir]: scored as empty), 2 wrong arguments.`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        only: { type: 'string' },
        output: { type: 'string', short: 'o' },
        quiet: { type: 'boolean', short: 'q' },
      },
    });
    if (positionals.length < 1 || positionals.length > 2) throw new UsageError('eval takes a truth folder and, optionally, a folder of outputs.');
    const [truthDir, outputsDir] = positionals;
    await checkFolder(truthDir, 'the PDFs and their truths');
    if (outputsDir !== undefined) await checkFolder(outputsDir, 'the outputs to score');
    if (outputsDir !== undefined && values.output !== undefined)
      throw new UsageError('--output saves conversions; with an outputs folder there are none to save.');

    let documents: EvalDocument[];
    try {
      documents = listDocuments(truthDir);
    } catch (err) {
      if (err instanceof CorpusError) throw new UsageError(err.message);
      throw err;
    }
    if (values.only !== undefined) {
      const wanted = new Set(values.only.split(',').map((s) => s.trim()));
      const unknown = [...wanted].filter((id) => !documents.some((d) => d.id === id));
      if (unknown.length) throw new UsageError(`--only: no document ${unknown.map((id) => `"${id}"`).join(', ')} in ${truthDir}.`);
      documents = documents.filter((d) => wanted.has(d.id));
    }
    if (!documents.length) {
      throw new UsageError(`${truthDir} holds no document to score: put each PDF beside its truth (report.pdf with report.md or report.txt).`);
    }

    const outputFor = outputsDir === undefined ? await converter(values.output) : readOutput(outputsDir);
    const width = nameWidth(documents.map((d) => d.id));
    const progress = !values.quiet && !values.json;
    if (progress)
      process.stderr.write(`docmark eval: ${plural(documents.length, 'document')}${outputsDir === undefined ? ', converted here' : ''}\n`);
    // The table is printed as it goes (a converted corpus takes minutes); the means come last.
    if (!values.json) process.stdout.write(formatHeader(width) + '\n');
    const evaluation = await evaluate(documents, outputFor, (result) => {
      if (!values.json) process.stdout.write(formatRow(documentName(result), result.scores, width) + '\n');
    });
    if (values.json) {
      process.stdout.write(evaluationJson(evaluation) + '\n');
    } else {
      process.stdout.write(formatFooter(evaluation, width) + '\n');
    }
    return evaluation.documents.some((d) => d.missing) ? EXIT.failed : EXIT.ok;
  },
};

function readOutput(outputsDir: string): (doc: EvalDocument) => Promise<OutputResult> {
  return async (doc) => {
    const file = outputPath(outputsDir, doc);
    try {
      return { output: await fs.readFile(file, 'utf8') };
    } catch {
      return { missing: `no ${path.basename(file)} in ${outputsDir}` };
    }
  };
}

/** Converts each document's PDF on this machine, as `docmark convert` would. */
async function converter(saveDir: string | undefined): Promise<(doc: EvalDocument) => Promise<OutputResult>> {
  const { setOcrThreads } = await import('../../ocr/threads.js');
  const { setting } = await import('../../settings.js');
  const { convertPdf } = await import('../../engine/convert.js');
  setOcrThreads(setting('DOCMARK_OCR_THREADS'));
  return async (doc) => {
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(doc.pdf);
    } catch {
      return { missing: `${path.basename(doc.pdf)} could not be read` };
    }
    try {
      const { output } = await convertPdf(bytes, {});
      if (saveDir !== undefined) await writeAtomically(outputPath(saveDir, doc), output);
      return { output };
    } catch (err) {
      if (!isDocmarkError(err)) throw err;
      return { missing: `conversion failed: ${err.message} [${err.code}]` };
    }
  };
}
