/**
 * The trainers' call queue: calls run one at a time in call order; an open window lets calls made from user code
 * run at once; closing rejects new and waiting calls with the given error and releases once the running call
 * settled (synchronously when idle).
 */
import { describe, expect, it } from 'vitest';
import { CallQueue } from '../src/internal.js';

const closedError = (what: string, waited: boolean): Error => new Error(`${what}:${waited ? 'waited' : 'new'}`);
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 1));

describe('CallQueue', () => {
  it('runs calls one at a time, in call order; busy while any is queued or running', async () => {
    const q = new CallQueue(closedError);
    const log: string[] = [];
    const job = (name: string) => async () => {
      log.push(`${name}+`);
      await tick();
      log.push(`${name}-`);
      return name;
    };
    const a = q.run(job('a'));
    const b = q.run(job('b'));
    expect(q.busy).toBe(true);
    expect(await Promise.all([a, b])).toEqual(['a', 'b']);
    expect(log).toEqual(['a+', 'a-', 'b+', 'b-']);
    expect(q.busy).toBe(false);
  });

  it('a failing call does not stop the next', async () => {
    const q = new CallQueue(closedError);
    const a = q.run(async () => {
      throw new Error('boom');
    });
    const b = q.run(async () => 2);
    await expect(a).rejects.toThrow('boom');
    expect(await b).toBe(2);
  });

  it('an open window runs calls made inside it at once; the running call goes on after them', async () => {
    const q = new CallQueue(closedError);
    const log: string[] = [];
    const outer = q.run(async () => {
      log.push('outer+');
      await q.open(async () => {
        const inner = q.run(async () => void log.push('inner'));
        await inner;
      });
      log.push('outer-');
    });
    const after = q.run(async () => void log.push('after'));
    await Promise.all([outer, after]);
    expect(log).toEqual(['outer+', 'inner', 'outer-', 'after']);
  });

  it('close: new and waiting calls reject with the given error; release runs after the running call (at once when idle)', async () => {
    const idle = new CallQueue(closedError);
    let released = false;
    void idle.close(() => void (released = true));
    expect(released).toBe(true);
    await expect(idle.run(async () => 1, 'late')).rejects.toThrow('late:new');

    const q = new CallQueue(closedError);
    const log: string[] = [];
    const running = q.run(async () => {
      await tick();
      log.push('ran');
    });
    const waiting = q.run(async () => void log.push('never'), 'queued');
    await Promise.resolve(); // the first call has started
    const closing = q.close(() => void log.push('released'));
    expect(q.closed).toBe(true);
    await running;
    await expect(waiting).rejects.toThrow('queued:waited');
    await closing;
    expect(log).toEqual(['ran', 'released']);
    expect(q.close()).toBe(closing);
  });
});
