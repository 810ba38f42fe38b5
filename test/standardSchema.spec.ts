import { from, lastValueFrom, toArray } from 'rxjs';
import { z } from 'zod';
import * as zm from 'zod/mini';
import { z as z3 } from 'zod/v3';
import { StructuredOutputError } from '../src/errors';
import { isStandardSchema, validateSync, type StandardSchemaV1 } from '../src/standardSchema';
import { arrayElements } from '../operators/arrayElements';
import { partialObject } from '../operators/partialObject';
import { partialToolCallGuard, type InvalidToolCall } from '../operators/partialToolCallGuard';
import { tool } from '../operators/tool';
import { call, finish, text, tools } from './quirks/toolCallQuirks';

/** A Standard Schema written by hand, as a library other than zod gives one: `{ city }`, upper-cased. */
const City: StandardSchemaV1<unknown, { city: string }> = {
  '~standard': {
    version: 1,
    vendor: 'hand',
    validate: (value) => {
      const city = (value as { city?: unknown } | null)?.city;
      return typeof city === 'string'
        ? { value: { city: city.toUpperCase() } }
        : { issues: [{ message: 'city must be a string', path: [{ key: 'city' }], code: 'type' } as never] };
    },
  },
};

/** One that only answers asynchronously. */
const AsyncCity: StandardSchemaV1<unknown, { city: string }> = {
  '~standard': { version: 1, vendor: 'async', validate: async () => ({ issues: [{ message: 'later' }] }) },
};

const weatherCall = (args: string, id = 'call_1') => [
  tools(call(0, id, 'get_weather', args)),
  finish('tool_calls'),
];

describe('Standard Schema', () => {
  it('recognises zod 4, zod 3 classic, zod/mini and other libraries, and nothing else', () => {
    for (const schema of [z.string(), z3.string(), zm.string(), City])
      expect(isStandardSchema(schema)).toBe(true);
    for (const value of [null, undefined, {}, { safeParse: () => ({}) }, { '~standard': {} }]) {
      expect(isStandardSchema(value)).toBe(false);
    }
  });

  it('validateSync gives the value or the issues, path segments as keys, the code when there is one', () => {
    expect(validateSync(City, { city: 'lisbon' }, 'test')).toEqual({ ok: true, value: { city: 'LISBON' } });
    expect(validateSync(City, { city: 1 }, 'test')).toEqual({
      ok: false,
      issues: [{ path: ['city'], message: 'city must be a string', code: 'type' }],
    });
    const z3Result = validateSync(z3.object({ n: z3.number() }), { n: 'x' }, 'test');
    expect(z3Result).toEqual({
      ok: false,
      issues: [expect.objectContaining({ path: ['n'], code: 'invalid_type' })],
    });
  });

  it("runs a zod schema with its own safeParse, so a throwing transform throws what it threw (zod's ~standard would turn it into a rejected Promise)", () => {
    const boom = new Error('boom');
    const throwing = z.string().transform(() => {
      throw boom;
    });
    expect(() => validateSync(throwing, 'x', 'test')).toThrow(boom);
    expect(() =>
      validateSync(
        z3.string().transform(() => {
          throw boom;
        }),
        'x',
        'test',
      ),
    ).toThrow(boom);
  });

  it('refuses an answer that is a Promise with a TypeError naming the caller, leaving no unhandled rejection', async () => {
    // Jest fails the test on an unhandled rejection (its sandboxed `process` never emits
    // 'unhandledRejection' to a listener here): the wait below gives one the time to surface.
    const rejecting: StandardSchemaV1 = {
      '~standard': { version: 1, vendor: 'async', validate: () => Promise.reject(new Error('late')) },
    };
    expect(() => validateSync(rejecting, 1, 'partialObject')).toThrow(
      /^partialObject: the schema checked the value asynchronously/,
    );
    await new Promise((resolve) => setImmediate(resolve));
  });

  it('partialToolCallGuard validates with any Standard Schema and types input by its output', async () => {
    const out = await lastValueFrom(
      from([...weatherCall('{"city":"lisbon"}'), ...weatherCall('{"city":7}', 'call_2')]).pipe(
        partialToolCallGuard({ schemas: { get_weather: City } }),
        toArray(),
      ),
    );
    const valid = out.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []));
    const city: string = valid[0].input.city;
    // @ts-expect-error city is a string (fails to compile if input degrades to any)
    const wrong: number = valid[0].input.city;
    expect([city, wrong]).toEqual(['LISBON', 'LISBON']);
    const invalid: InvalidToolCall[] = out.flatMap((c) =>
      c.choices.flatMap((ch) => ch.delta.invalid_tool_calls ?? []),
    );
    expect(invalid.map((i) => [i.reason, i.issues])).toEqual([
      ['schema-mismatch', [{ path: ['city'], message: 'city must be a string', code: 'type' }]],
    ]);
  });

  it('partialToolCallGuard fails the stream with a TypeError for a schema that answers asynchronously', async () => {
    const run = lastValueFrom(
      from(weatherCall('{"city":"x"}')).pipe(partialToolCallGuard({ schemas: { get_weather: AsyncCity } })),
    );
    await expect(run).rejects.toThrow(
      /partialToolCallGuard: tool "get_weather": the schema checked the value asynchronously/,
    );
  });

  it('partialToolCallGuard takes zod 3 classic and zod/mini schemas', async () => {
    const out = await lastValueFrom(
      from([...weatherCall('{"city":"Lisbon"}')]).pipe(
        partialToolCallGuard({
          schemas: { get_weather: z3.object({ city: z3.string() }), mini: zm.object({ a: zm.string() }) },
        }),
        toArray(),
      ),
    );
    const valid = out.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []));
    expect(valid.map((c) => c.input)).toEqual([{ city: 'Lisbon' }]);
  });

  it('partialToolCallGuard refuses a schema that is not a Standard Schema, naming it', () => {
    expect(() =>
      partialToolCallGuard({ schemas: { get_weather: { safeParse: () => ({}) } as never } }),
    ).toThrow(
      new TypeError(
        'partialToolCallGuard: schemas.get_weather is not a Standard Schema (a zod 3.25+ or 4 schema, Valibot, ArkType).',
      ),
    );
  });

  it('partialObject and arrayElements check with any Standard Schema (output, issues with their path)', async () => {
    const final = await lastValueFrom(
      from([text('{"city":'), text('"lisbon"}'), finish('stop')]).pipe(partialObject(City)),
    );
    expect(final).toEqual({ done: true, value: { city: 'LISBON' } });
    if (final.done) {
      const city: string = final.value.city;
      // @ts-expect-error city is a string
      const wrong: number = final.value.city;
      expect([city, wrong]).toEqual(['LISBON', 'LISBON']);
    }
    const elements = lastValueFrom(
      from([text('[{"city":"a"},{"city":2}]'), finish('stop')]).pipe(
        arrayElements({ schema: City }),
        toArray(),
      ),
    );
    const error = await elements.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StructuredOutputError);
    expect((error as StructuredOutputError).issues).toEqual([
      { path: [1, 'city'], message: 'city must be a string', code: 'type' },
    ]);
    const z3Final = await lastValueFrom(
      from([text('{"n":1}'), finish('stop')]).pipe(
        partialObject(z3.object({ n: z3.number().transform((n) => n + 1) })),
      ),
    );
    expect(z3Final).toEqual({ done: true, value: { n: 2 } });
  });

  it('partialObject tells a schema from a config object by ~standard, and refuses a schema that is not one', () => {
    expect(() => partialObject({ schema: { safeParse: () => ({}) } as never })).toThrow(
      new TypeError(
        'partialObject: schema must be a Standard Schema (a zod 3.25+ or 4 schema, Valibot, ArkType).',
      ),
    );
  });

  it("tool() infers execute's input from a zod 3 classic or any Standard Schema", () => {
    const classic = tool({
      schema: z3.object({ city: z3.string(), days: z3.number().optional() }),
      parameters: { type: 'object' },
      execute: (input) => {
        const days: number | undefined = input.days;
        // @ts-expect-error city is a string
        const wrong: number = input.city;
        return [input.city, days, wrong];
      },
    });
    const hand = tool({
      schema: City,
      parameters: { type: 'object' },
      execute: (input) => {
        // @ts-expect-error city is a string
        const wrong: number = input.city;
        return [input.city, wrong];
      },
    });
    const context = {} as never;
    expect(classic.execute({ city: 'a', days: 2 }, context)).toEqual(['a', 2, 'a']);
    expect(hand.execute({ city: 'b' }, context)).toEqual(['b', 'b']);
  });
});
