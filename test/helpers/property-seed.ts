/**
 * The seed of a property test: its fixed one, so every run of the suite checks the same cases, or, with
 * SLUICE_TEST_SEED set (as scripts/race-hunt.mjs does), that plus the fixed one, to look at other cases.
 */
export function propertySeed(fixed: number): number {
  const extra = Number(process.env.SLUICE_TEST_SEED);
  return Number.isInteger(extra) ? fixed + extra : fixed;
}
