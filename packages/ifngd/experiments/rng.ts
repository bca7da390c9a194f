import { mulberry32 } from '../src/internal.js';

/** The repository's generator (`ifngd/internal` mulberry32) with a Gaussian helper and a shuffle. */
export function rng(seed: number): { uniform: () => number; normal: () => number; shuffle: <T>(v: T[]) => T[] } {
  const uniform = mulberry32(seed);
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
