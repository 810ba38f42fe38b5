/**
 * The wire formats the mock server speaks, each from its provider's folder; a request's path picks
 * one (each format knows its own route).
 */
import { anthropicMockWire } from '../providers/anthropic/mockWire';
import { geminiMockWire } from '../providers/gemini/mockWire';
import { ollamaMockWire } from '../providers/ollama/mockWire';
import { openAIMockWire } from '../providers/openai/mockWire';
import { responsesMockWire } from '../providers/openai-responses/mockWire';
import type { MockRouteMatch, MockWireFormat } from '../providers/mockWire';

const FORMATS: readonly MockWireFormat[] = [
  openAIMockWire,
  responsesMockWire,
  anthropicMockWire,
  geminiMockWire,
  ollamaMockWire,
];

/** A request matched to the wire format that serves its path. */
export interface WireRoute extends MockRouteMatch {
  wire: MockWireFormat;
}

/** The route for a POST to `path` (query already removed), or `undefined` for no known route. */
export function wireRoute(path: string, body: unknown): WireRoute | undefined {
  for (const wire of FORMATS) {
    const match = wire.route(path, body);
    if (match) return { ...match, wire };
  }
  return undefined;
}
