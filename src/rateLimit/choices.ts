/**
 * The number of choices a request asks for, which multiplies what its output may cost: internal to
 * the estimates (not exported by the package).
 */

/** How many choices a request asks for (`n`): 1 when it does not say, or says something invalid. */
export function choicesOf(request: object): number {
  const { n } = request as { n?: unknown };
  return typeof n === 'number' && Number.isInteger(n) && n > 1 ? n : 1;
}
