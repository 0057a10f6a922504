import assert from "node:assert/strict";

/** What the native backend's unit tests share: a seeded generator, so a failure names a reproducible case, and the error measure. */

/** A small deterministic generator (mulberry32) of numbers in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A whole number in [lo, hi] drawn from `r`. */
export const int = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

/** The largest absolute difference over the largest magnitude of `want` (at least 1e-6): the native tests' tolerance measure. */
export function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  assert.equal(got.length, want.length, "lengths differ");
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return diff / Math.max(scale, 1e-6);
}
