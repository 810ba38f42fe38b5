/** The demo's wire-format section: the same merged result over every wire format, and the right one. */
import { demoWireFormats, WIRE_PROVIDERS } from '../../examples/sections/wireFormats';

it('gives the same merged result over every wire format', async () => {
  const results = await demoWireFormats(false);
  expect(Object.keys(results)).toEqual([...WIRE_PROVIDERS]);
  expect(new Set(Object.values(results)).size).toBe(1);
  expect(JSON.parse(results.ollama)).toEqual({
    content: 'Checking Lisbon ☀️',
    reasoning: 'Lisbon → one weather call.',
    tool_calls: [['call_lisbon', 'get_weather', '{"city":"Lisbon"}']],
    finish_reason: 'tool_calls',
    usage: [14, 21],
  });
});
