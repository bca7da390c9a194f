/**
 * The seeded generator of batch partitions and orders: `ifngd`'s (one RNG for the whole repository).
 * @module
 */
export { mixSeed, mulberry32, permutation } from 'ifngd';
