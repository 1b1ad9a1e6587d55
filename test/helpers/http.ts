import http from 'node:http';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
}

/**
 * A plain http.request that reads the response even when the server stops reading
 * the upload half-way (413), which fetch() reports only as a network error.
 */
export function rawRequest(
  url: string,
  { method = 'POST', headers = {}, body }: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    // A fresh connection per request: no test depends on a socket another test left in the pool.
    const req = http.request(
      url,
      { agent: false, method, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: any;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json });
        });
        res.on('error', reject);
      },
    );
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      // Refused before the body was invited (Expect: 100-continue): never send it.
      if (!continued && body) res.once('end', () => req.destroy());
    });
    let continued = false;
    const expectContinue = Object.entries(headers).some(([k, v]) => k.toLowerCase() === 'expect' && /100-continue/i.test(v));
    req.on('error', (err: NodeJS.ErrnoException) => {
      // The server may close the socket after answering; the response handler then has run.
      if (!answered || (err.code !== 'EPIPE' && err.code !== 'ECONNRESET')) reject(err);
    });
    if (body) {
      // Write in chunks so an early answer can arrive before the upload ends.
      let offset = 0;
      const step = 64 * 1024;
      const pump = (): void => {
        while (offset < body.length) {
          const ok = req.write(body.subarray(offset, offset + step));
          offset += step;
          if (!ok) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      if (expectContinue) {
        req.once('continue', () => {
          continued = true;
          pump();
        });
      } else {
        continued = true;
        pump();
      }
    } else {
      req.end();
    }
  });
}

/** multipart/form-data body with a `file` part and optional fields. */
export function multipart(
  file: Buffer | undefined,
  fields: Record<string, string> = {},
  filename = 'doc.pdf',
): { body: Buffer; contentType: string } {
  const boundary = `----docmark${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  }
  if (file) {
    parts.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/pdf\r\n\r\n`),
    );
    parts.push(file, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}
