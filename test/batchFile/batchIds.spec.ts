/**
 * The batch-id record beside a results file: an empty one when there is none, refused when it is not
 * ours, written whole; which batches to poll again and which requests to submit.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotABatchRecordError, readBatchIds, resumePlan, saveBatchIds } from '../../src/batchFile/batchIds';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rxllm-batchids-'));
  file = join(dir, 'out.jsonl.batch.json');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('readBatchIds / saveBatchIds', () => {
  it('starts empty, and reads back what was saved, leaving no file aside', () => {
    const record = readBatchIds(file, 'openai');
    expect(record).toEqual({ provider: 'openai', batches: [] });
    record.batches.push({ batchId: 'batch_1', customIds: ['a', 'b'] });
    saveBatchIds(file, record);
    expect(readBatchIds(file, 'openai')).toEqual(record);
    expect(readdirSync(dir)).toEqual(['out.jsonl.batch.json']);
  });

  it.each([
    ['not JSON', '{"provider":'],
    ['JSON of another shape', '{"batches": 3}'],
  ])('refuses a file that is %s, leaving it as it was', (_what, text) => {
    writeFileSync(file, text);
    expect(() => readBatchIds(file, 'openai')).toThrow(NotABatchRecordError);
    expect(() => readBatchIds(file, 'openai')).toThrow(/is not a batch record of rxllm/);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });
});

describe('resumePlan', () => {
  it('polls again the batches that owe one of the jobs left, and submits only what no batch holds', () => {
    const record = {
      provider: 'openai',
      batches: [
        { batchId: 'done', customIds: ['a'] },
        { batchId: 'owes', customIds: ['b', 'c'] },
      ],
    };
    const todo = ['c', 'd'].map((customId) => ({ customId }));
    expect(resumePlan(record, todo)).toEqual({
      toResume: [{ batchId: 'owes', customIds: ['b', 'c'] }],
      toSubmit: [{ customId: 'd' }],
    });
  });
});
