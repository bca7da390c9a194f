/**
 * The seeded generators of the repository (`ifngd`'s): the per-epoch batch order of `fit` (`permutation` with
 * `mixSeed(seed, epoch)`, as the tfjs trainer) and mulberry32 (the example's data split).
 * @internal
 * @module
 */
export { permutation } from 'ifngd';
export { mixSeed, mulberry32 } from 'ifngd/internal';
