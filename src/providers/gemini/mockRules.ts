/**
 * What the Gemini API rejects, as the strict mock server refuses it (rxllm/testing): each rule
 * returns the 400 `{error:{code:400, message, status:'INVALID_ARGUMENT'}}` Google sends, with its own
 * message text (quoted from real responses; the threads are cited per rule).
 */
import { list, record, type MockRejection, type MockRule } from '../mockWire';

const reject = (message: string): MockRejection => ({
  status: 400,
  body: { error: { code: 400, message, status: 'INVALID_ARGUMENT' } },
});

const contentsOf = (body: any) => list(record(body).contents).map(record);
const partsOf = (content: Record<string, any>) => list(content.parts).map(record);
const count = (content: Record<string, any> | undefined, key: string) =>
  content ? partsOf(content).filter((p) => p[key] !== undefined).length : 0;

/**
 * `contents` is required and each `Content` has at least one `Part`, each part with its data set
 * (https://ai.google.dev/api/generate-content#request-body, https://ai.google.dev/api/caching#Content):
 * an empty `text` is proto3's unset default, so the part has no data. Google lists every field
 * problem, one `* ...` line each. Messages as in langchain-ai/langchain-google#1393 (no contents),
 * egoist/chatwise-releases#250 (empty parts) and router-for-me/CLIProxyAPI#1292 (empty text).
 */
export const contentsWellFormed: MockRule = (body) => {
  const contents = contentsOf(body);
  if (contents.length === 0) return reject('* GenerateContentRequest.contents: contents is not specified\n');
  const problems: string[] = [];
  contents.forEach((content, i) => {
    const parts = partsOf(content);
    if (parts.length === 0) {
      problems.push(`* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.\n`);
    }
    parts.forEach((part, j) => {
      const keys = Object.keys(part).filter((k) => k !== 'thought' && k !== 'thoughtSignature');
      const empty = keys.length === 0 || (keys.length === 1 && keys[0] === 'text' && part.text === '');
      if (empty) {
        problems.push(
          `* GenerateContentRequest.contents[${i}].parts[${j}].data: required oneof field 'data' must have one initialized field\n`,
        );
      }
    });
  });
  return problems.length > 0 ? reject(problems.join('')) : undefined;
};

/**
 * A turn of function responses comes right after the model turn holding the calls, one response per
 * call (https://ai.google.dev/gemini-api/docs/function-calling, "multi-turn"). Messages as in
 * GoogleCloudPlatform/generative-ai#368 and google-gemini/gemini-cli#17208.
 */
export const functionResponsesFollowCalls: MockRule = (body) => {
  const contents = contentsOf(body);
  for (let i = 0; i < contents.length; i++) {
    const responses = count(contents[i], 'functionResponse');
    if (responses === 0) continue;
    const previous = contents[i - 1];
    const calls = previous?.role === 'model' ? count(previous, 'functionCall') : 0;
    if (calls === 0) {
      return reject(
        'Please ensure that function response turn comes immediately after a function call turn.',
      );
    }
    if (calls !== responses) {
      return reject(
        'Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.',
      );
    }
  }
  return undefined;
};

/**
 * Gemini 3 models refuse a function call of the current turn (the contents after the last user
 * message that is not only function responses) whose model step does not carry the thought signature
 * it came with: "you must pass back thought signatures during function calling, otherwise you will
 * get a validation error"; of parallel calls only the first part has one
 * (https://ai.google.dev/gemini-api/docs/thought-signatures). Gemini 3 Pro Image does not check. The
 * position is the content's, counted from 1. Message as in chatboxai/chatbox#3308,
 * csells/dartantic#86 and nanbingxyz/5ire#405.
 */
export const gemini3CallsKeepSignatures: MockRule = (body, { path }) => {
  const model = /models\/([^/:]+):/.exec(path)?.[1] ?? '';
  if (!/gemini-3/.test(model) || /image/.test(model)) return;
  const contents = contentsOf(body);
  let start = 0;
  contents.forEach((content, i) => {
    const parts = partsOf(content);
    if (content.role !== 'model' && parts.some((p) => p.functionResponse === undefined)) start = i + 1;
  });
  for (let i = start; i < contents.length; i++) {
    if (contents[i].role !== 'model') continue;
    const first = partsOf(contents[i]).find((p) => p.functionCall !== undefined);
    if (!first || typeof first.thoughtSignature === 'string') continue;
    return reject(
      `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${String(record(first.functionCall).name)}\` , position ${i + 1}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`,
    );
  }
  return undefined;
};

/** Gemini's rules, in the order the mock checks them. */
export const GEMINI_MOCK_RULES: readonly MockRule[] = [
  contentsWellFormed,
  functionResponsesFollowCalls,
  gemini3CallsKeepSignatures,
];
