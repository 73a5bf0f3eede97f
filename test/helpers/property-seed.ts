/**
 * The seed of a property test: its fixed one, so every run of the suite checks the same cases, or, with
 * SLUICE_TEST_SEED set (as scripts/race-hunt.mjs does), that plus the fixed one, to look at other cases.
 */
export function propertySeed(fixed: number): number {
  const extra = Number(process.env.SLUICE_TEST_SEED);
  return Number.isInteger(extra) ? fixed + extra : fixed;
}

/**
 * Options of the property tests that run the storage engine on a simulated disk: a failure is reported at once,
 * with the assertion that failed and the seed and path that find the case again. Shrinking one took minutes
 * there, and the runner's timeout then cancelled the test with neither message nor case (seen in CI as a hang).
 */
export function diskPropertyOptions(fixedSeed: number, numRuns: number): { numRuns: number; seed: number; endOnFailure: true; includeErrorInReport: true } {
  return { numRuns, seed: propertySeed(fixedSeed), endOnFailure: true, includeErrorInReport: true };
}
