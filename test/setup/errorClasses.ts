/**
 * In every spec, `toEqual` and marble expectations compare errors by class as well. Jest compares
 * two `Error` objects by message only, so a test expecting `new TimeoutError(...)` passed when the
 * code failed with another class carrying the same message; rxllm's users branch on `instanceof`,
 * so the class is what a test of an error must hold.
 */
function sameErrorClass(a: unknown, b: unknown): boolean | undefined {
  if (a instanceof Error && b instanceof Error && Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) {
    return false;
  }
  // Anything else (and errors of one class): Jest's own comparison.
  return undefined;
}

// In Jest since 29.4; @types/jest does not declare it yet.
(expect as unknown as { addEqualityTesters(testers: (typeof sameErrorClass)[]): void }).addEqualityTesters([
  sameErrorClass,
]);
