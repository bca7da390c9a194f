import { describe, expect, it } from 'vitest';
import { scanArgs } from '../src/scan.js';

const base = ['--lr', '0.01,0.1', '--damping', '10', '--out', '/tmp/never-written.json'];

describe('scanArgs (the sensitivity scan’s command line)', () => {
  it('expands the grid an FNGD scan runs, with defaults for the rest', () => {
    const a = scanArgs([...base, '--mode', 'global,layerwise']);
    expect(a).toEqual({
      task: 'autoencoder',
      batch: 128,
      optimizer: 'fngd-always',
      epochs: 10,
      out: '/tmp/never-written.json',
      lrs: [0.01, 0.1],
      dampings: [10],
      modes: ['global', 'layerwise'],
    });
  });

  it('drops damping for Adam and SGD and mode for every non-FNGD optimizer', () => {
    expect(scanArgs(['--optimizer', 'adam', '--lr', '0.001', '--out', 'o.json'])).toMatchObject({ dampings: [undefined], modes: [undefined] });
    expect(scanArgs(['--optimizer', 'kfac', '--lr', '0.1', '--damping', '1', '--out', 'o.json'])).toMatchObject({ dampings: [1], modes: [undefined] });
  });

  it.each([
    [['--task', 'regression', ...base], /--task must be one of/],
    [['--optimizer', 'lbfgs', ...base], /--optimizer must be one of/],
    [['--batch', '0', ...base], /--batch must be a positive integer/],
    [['--batch', '12.5', ...base], /--batch must be a positive integer/],
    [['--epochs=-1', ...base], /--epochs must be a positive integer/],
    [['--epochs', '0', ...base], /--epochs must be a positive integer/],
    [['--lr', '0.1', '--damping', '10'], /--out is required/],
    [['--damping', '10', '--out', 'o.json'], /--lr is required/],
    [['--lr', '0.1,-1', '--damping', '10', '--out', 'o.json'], /--lr must be positive numbers/],
    [['--lr', '0.1', '--damping', 'x', '--out', 'o.json'], /--damping must be positive numbers/],
    [['--lr', '0.1', '--out', 'o.json'], /--damping is required/],
    [[...base, '--mode', 'global,blockwise'], /--mode must be global and\/or layerwise/],
    [[...base, '--seed', '3'], /Unknown option/],
  ])('refuses %j', (argv, message) => {
    expect(() => scanArgs(argv)).toThrow(message);
  });
});
