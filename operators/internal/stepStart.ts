/**
 * A `toolLoop` step's start, as the operators placed after a loop read it (`trackUsage`, `usage`):
 * each step is a call of its own, billed for its own usage. A structural check, so that reading it
 * does not load `toolLoop` (and its tool schemas) into an app that only counts usage.
 */
export function isStepStart(value: unknown): boolean {
  return (value as { tool_loop?: { type?: unknown } } | null)?.tool_loop?.type === 'step-start';
}
