/**
 * Argument checks shared by every entry point. They run before anything is enqueued, so a rejected call
 * leaves the device untouched.
 * @internal
 * @module
 */
import type { Matrix } from '@ifngd/linalg-gpu';
import { FisherArgumentError, InvalidDampingError, ShapeMismatchError } from './errors.js';

/** `[2,3]` style text for messages. */
export const fmt = (m: Matrix): string => `[${m.shape.join(',')}]`;

/** Throws unless `m` looks like a linalg-gpu matrix handle (duck-typed so dual package copies still work). */
export function requireMatrix(m: unknown, name: string, what: string): asserts m is Matrix {
  const s = (m as { shape?: unknown } | null | undefined)?.shape;
  if (typeof m !== 'object' || m === null || !Array.isArray(s) || (s.length !== 2 && s.length !== 3)) {
    throw new FisherArgumentError(`${what}: ${name} must be a linalg-gpu Matrix, got ${describe(m)}`);
  }
}

/** Throws unless `m` is 2-D (`[r,c]`) or 3-D (`[b,r,c]`) of the given rank when `rank` is set. */
export function requireRank(m: Matrix, rank: 2 | 3, name: string, what: string): void {
  if (m.shape.length !== rank) {
    const want = rank === 2 ? '[rows, cols]' : '[batch, rows, cols]';
    throw new ShapeMismatchError(`${what}: ${name} must be ${want}, got ${fmt(m)}`);
  }
}

/** Throws unless every batch entry of `g` is square. */
export function requireSquare(g: Matrix, name: string, what: string): void {
  if (g.rows !== g.cols) throw new ShapeMismatchError(`${what}: ${name} must be square per batch entry, got ${fmt(g)}`);
}

/** Throws unless λ is a finite number > 0 and the diagonal shift n·λ is finite. Returns n·λ. */
export function dampingShift(damping: unknown, n: number, what: string): number {
  if (typeof damping !== 'number' || !Number.isFinite(damping) || damping <= 0) {
    throw new InvalidDampingError(`${what}: damping must be a finite number > 0, got ${String(damping)}`, damping);
  }
  const shift = n * damping;
  if (!Number.isFinite(shift)) {
    throw new InvalidDampingError(`${what}: damping ${damping} times n = ${n} overflows`, damping);
  }
  return shift;
}

/** Reads an optional boolean flag, rejecting anything else. */
export function flag(value: unknown, fallback: boolean, name: string, what: string): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new FisherArgumentError(`${what}: ${name} must be a boolean, got ${describe(value)}`);
  return value;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? (x.constructor?.name ?? 'object') : `${typeof x} ${String(x)}`;
}
