import { chunkJson, takeChunkJson } from '../../src/resume/chunkJson';
import { text as chunk } from '../quirks/toolCallQuirks';

describe('chunkJson / takeChunkJson (one serialization per chunk for the store and the wire)', () => {
  it('hands the text just made for a chunk to the next take of the same object, once', () => {
    const a = chunk('Hi');
    const text = chunkJson(a);
    expect(text).toBe(JSON.stringify(a));
    // Changed in place after it was serialized: the remembered text is taken once, then it is fresh.
    a.choices[0].delta.content = 'changed';
    expect(takeChunkJson(a)).toBe(text);
    expect(takeChunkJson(a)).toBe(JSON.stringify(a));
    expect(takeChunkJson(a)).toContain('changed');
  });

  it('serializes another object afresh, and chunkJson always serializes', () => {
    const a = chunk('one');
    const b = chunk('one');
    chunkJson(a);
    expect(takeChunkJson(b)).toBe(JSON.stringify(b));
    a.choices[0].delta.content = 'two';
    expect(chunkJson(a)).toContain('two');
    expect(takeChunkJson(a)).toContain('two');
  });
});
