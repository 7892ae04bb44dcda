import { describe, expect, it } from 'vitest';
import { ShownPositions } from '../../service/shownPositions.js';

describe('ShownPositions: queries waiting for their own writes', () => {
  it('resolves once every job waited for shows every stream position, and not before', async () => {
    const shown = new ShownPositions();
    let done = false;
    const waiting = shown.wait(['a', 'b'], { p0: 5, p1: 2 }, 60_000).then((ok) => (done = ok));
    shown.mark('a', { p0: 5, p1: 2 });
    shown.mark('b', { p0: 5, p1: 1 });
    await Promise.resolve();
    expect(done).toBe(false);
    expect(shown.lagging(['a', 'b'], { p0: 5, p1: 2 })).toEqual(['b']);
    shown.mark('b', { p0: 4, p1: 3 }); // p0 stays at 5: positions only move forward
    expect(await waiting).toBe(true);
    expect(shown.lagging(['a', 'b'], { p0: 5, p1: 3 })).toEqual(['a']);
  });

  it('answers at once for positions already shown, and names the lagging jobs once the time is up', async () => {
    const shown = new ShownPositions();
    shown.mark('a', { p0: 9 });
    expect(await shown.wait(['a'], { p0: 9 }, 60_000)).toBe(true);
    expect(await shown.wait(['a', 'c'], { p0: 3 }, 10)).toBe(false);
    expect(shown.lagging(['a', 'c'], { p0: 3 })).toEqual(['c']);
    // A waiter that timed out is gone: marking later resolves nothing twice and throws nothing.
    shown.mark('c', { p0: 3 });
  });
});
