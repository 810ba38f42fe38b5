/**
 * One `JSON.stringify` per chunk on the way out of a resumable stream: the store writes the chunk's
 * JSON text, and `sendSse`, which sends the same chunk object right after it in the same turn, takes
 * that text instead of serializing the chunk a second time (serializing is most of a relay's
 * per-chunk work). Only the last serialized chunk is remembered, and only until it is taken: a chunk
 * changed in place later (rxllm's operators never do; a user's might) is serialized afresh.
 */
import type { Chunk } from '../chunk';

let lastChunk: Chunk | undefined;
let lastText = '';

/** `JSON.stringify(chunk)`, remembered for the next {@link takeChunkJson} of the same object. */
export function chunkJson(chunk: Chunk): string {
  lastText = JSON.stringify(chunk);
  lastChunk = chunk;
  return lastText;
}

/** The JSON text of `chunk`: the one {@link chunkJson} just made for this object, else a new one. */
export function takeChunkJson(chunk: Chunk): string {
  if (chunk !== lastChunk) return JSON.stringify(chunk);
  lastChunk = undefined;
  return lastText;
}
