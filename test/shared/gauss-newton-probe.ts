/**
 * A test-only optimizer both adapters' `test/gauss-newton.test.ts` register: each step it takes the mean-loss
 * gradient, asks the capture for the Gauss–Newton products along two seeded vectors shaped as the parameters, records
 * what it saw, and commits the parameters unchanged (a new tree, so a BatchNormalization's moving statistics commit
 * too). Set `malformed` to have it first ask with a vector that lacks a parameter's leaf or holds one more (the
 * refusals). Not a test file itself (vitest includes `*.test.ts` only); type-checked with the repo's tools
 * (`tsconfig.tools.json`).
 */
import { registerOptimizer, type HostTree, type OptimizerEnv, type StepCapture } from 'ifngd';

/** What the probe saw on its last step, and how it asks on the next. */
export interface ProbeRecord {
  /** The environment's `gaussNewton` flag when the trainer created the probe. */
  env: boolean | undefined;
  /** The two vectors the last step asked along. */
  vectors: HostTree[];
  /** The products `[v₀ᵀCv₀, v₀ᵀCv₁, v₁ᵀCv₀, v₁ᵀCv₁]` the capture answered, row-major; null before a step. */
  products: number[] | null;
  /** Ask first with a vector missing a leaf (`'missing'`) or with an extra one (`'extra'`); null: ask correctly. */
  malformed: 'missing' | 'extra' | null;
}

/** `k` host vectors shaped as `params`, entries in [−1, 1] from a seeded Lehmer generator. */
export function vectorsLike(params: HostTree, k: number, seed: number): HostTree[] {
  let s = seed;
  const r = (): number => ((s = (s * 48271) % 2147483647) / 2147483647) * 2 - 1;
  return Array.from({ length: k }, () => Object.fromEntries(Object.entries(params).map(([name, v]) => [name, Float32Array.from(v as Float32Array, r)])));
}

/** Registers the probe as optimizer `kind` (its vectors drawn with `seed`) and returns the record it fills. */
export function registerGaussNewtonProbe(kind: string, seed: number): ProbeRecord {
  const seen: ProbeRecord = { env: undefined, vectors: [], products: null, malformed: null };
  registerOptimizer({
    kind,
    checkpointFormat: `test-${kind}`,
    trees: 'host',
    create: (_o: unknown, env: OptimizerEnv<HostTree>) => {
      seen.env = env.gaussNewton;
      return {
        kind,
        inner: null,
        state: null,
        stats: {},
        init: async () => {},
        step: async (cap: StepCapture<HostTree>) => {
          const g = await cap.gradients({ weights: new Float32Array(cap.n).fill(1 / cap.n), plainWeight: 1 / cap.n, penalties: 0 });
          const { loss } = await cap.read([]);
          seen.vectors = vectorsLike(g.params, 2, seed);
          if (seen.malformed === 'missing') {
            const { [Object.keys(g.params)[0]!]: _dropped, ...rest } = seen.vectors[0]!;
            await cap.gaussNewton!([rest]);
          }
          if (seen.malformed === 'extra') await cap.gaussNewton!([{ ...seen.vectors[0]!, notAParameter: new Float32Array(2) }]);
          seen.products = await cap.gaussNewton!(seen.vectors);
          return { params: { ...g.params }, loss, fresh: false };
        },
        serialize: () => new Uint8Array(0),
        restore: () => {},
        dispose: () => {},
      };
    },
  });
  return seen;
}
