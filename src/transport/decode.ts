/**
 * `Content-Encoding` of a response body: gzip, deflate and br are decompressed as the bytes arrive
 * (node:zlib streams, so a body split at any byte boundary decodes the same), everything else is
 * refused. rxllm sends `accept-encoding: gzip, deflate, br`, the encodings it can read.
 */
import * as zlib from 'node:zlib';

/** What rxllm asks for in `accept-encoding` (RFC 9110 §12.5.3). */
export const ACCEPT_ENCODING = 'gzip, deflate, br';

const SUPPORTED = new Set(['gzip', 'x-gzip', 'deflate', 'br']);

/**
 * The codings of a `content-encoding` header, in the order they were applied, without `identity`.
 * `undefined` when one of them is not supported (the caller refuses the response).
 */
export function parseContentEncoding(header: string | undefined): string[] | undefined {
  if (!header) return [];
  const codings = header
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c && c !== 'identity');
  return codings.every((c) => SUPPORTED.has(c)) ? codings : undefined;
}

/** Where decoded bytes go. Called asynchronously (zlib works off the main thread). */
export interface DecodedOutput {
  data(chunk: Buffer): void;
  /** The whole body was decoded. */
  end(): void;
  /** `truncated`: the compressed data stopped before its end (a cut body). */
  error(error: Error, truncated: boolean): void;
}

/** A streaming decoder for one response body. */
export interface BodyDecoder {
  /** Feeds compressed bytes; `false` asks the caller to pause until `onDrain`. */
  write(chunk: Buffer): boolean;
  /** No more input. */
  end(): void;
  /** Stops decoding and frees zlib's memory; no output callback runs after it. */
  destroy(): void;
}

function zlibFor(coding: string, first: Buffer): zlib.Zlib & NodeJS.ReadWriteStream {
  if (coding === 'br') return zlib.createBrotliDecompress();
  if (coding === 'deflate') {
    // HTTP "deflate" is zlib-wrapped (RFC 9110 §8.4.1.2), but some servers send raw deflate; a zlib
    // header has compression method 8 in its low nibble (undici and browsers tell them apart so too).
    return (first[0] & 0x0f) === 0x08 ? zlib.createInflate() : zlib.createInflateRaw();
  }
  // Strict about the end: a body cut inside the compressed data errors as truncated (a cut stream).
  return zlib.createGunzip();
}

/**
 * A decoder for `codings` (applied in order by the server, so undone in reverse). Output goes to
 * `out`; `onDrain` is called when a paused input can resume.
 */
export function createBodyDecoder(codings: string[], out: DecodedOutput, onDrain: () => void): BodyDecoder {
  let stages: (zlib.Zlib & NodeJS.ReadWriteStream)[] | undefined;
  let dead = false;
  const build = (first: Buffer) => {
    // Only the outermost stage can sniff its first bytes; inner deflate stages assume zlib wrapping.
    stages = [...codings].reverse().map((c, i) => zlibFor(c, i === 0 ? first : Buffer.from([0x78])));
    for (let i = 0; i < stages.length - 1; i++) stages[i].pipe(stages[i + 1]);
    const last = stages[stages.length - 1];
    for (const stage of stages) {
      stage.on('error', (error: NodeJS.ErrnoException) => {
        if (dead) return;
        dead = true;
        out.error(error, error.code === 'Z_BUF_ERROR' || /unexpected end/i.test(error.message));
      });
    }
    last.on('data', (chunk: Buffer) => {
      if (!dead) out.data(chunk);
    });
    last.on('end', () => {
      if (!dead) out.end();
    });
    stages[0].on('drain', onDrain);
  };
  return {
    write(chunk) {
      if (dead) return true;
      if (!stages) build(chunk);
      return stages![0].write(chunk);
    },
    end() {
      if (dead) return;
      if (!stages) {
        // An empty compressed body: nothing to decode.
        out.end();
        return;
      }
      stages[0].end();
    },
    destroy() {
      dead = true;
      for (const stage of stages ?? []) (stage as unknown as { destroy(): void }).destroy();
    },
  };
}
