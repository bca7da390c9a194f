/**
 * The seeded generator behind batch-order shuffling (and the example's data split): `ifngd`'s mulberry32.
 * @internal
 * @module
 */
export { mulberry32 } from 'ifngd/internal';
