/** A call run through `trackUsage` to its end, for the billing specs. */
import { lastValueFrom, toArray, type Observable } from 'rxjs';
import type { ChatCompletion, Chunk, CostedRequest } from 'rxllm';
import { trackUsage, type UsageReport } from 'rxllm/operators';

/** Runs `calls` through `trackUsage({ request })`; resolves with its one report and what the call gave (its values, or its error). */
export async function trackedCall<T extends Chunk | ChatCompletion>(
  calls: Observable<T>,
  request: CostedRequest,
): Promise<{ report: UsageReport; out: unknown }> {
  const reports: UsageReport[] = [];
  const out = await lastValueFrom(
    calls.pipe(trackUsage<T>({ request, onUsage: (r) => reports.push(r) }), toArray()),
  ).catch((error: unknown) => error);
  expect(reports).toHaveLength(1);
  return { report: reports[0], out };
}
