/** Deterministic PRNG (mulberry32) with a Gaussian helper and a shuffle. */
export function rng(seed: number): { uniform: () => number; normal: () => number; shuffle: <T>(v: T[]) => T[] } {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  const shuffle = <T>(v: T[]): T[] => {
    for (let i = v.length - 1; i > 0; i--) {
      const j = Math.floor(uniform() * (i + 1));
      [v[i], v[j]] = [v[j]!, v[i]!];
    }
    return v;
  };
  return { uniform, normal, shuffle };
}
