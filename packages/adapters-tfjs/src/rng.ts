/**
 * The seeded generator of batch partitions and orders: `ifngd`'s (one RNG for the whole repository).
 * @module
 */
export { permutation } from 'ifngd';
export { mixSeed, mulberry32 } from 'ifngd/internal';
