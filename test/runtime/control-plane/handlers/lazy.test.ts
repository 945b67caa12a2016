import { describe, expect, it } from 'vitest';
import { deferred, lazy } from '../../../../runtime/control-plane/handlers/lazy';

class Counter {
  private count = 0;
  async add(n: number): Promise<number> {
    this.count += n;
    return this.count;
  }
  async fail(): Promise<never> {
    throw new Error('refused');
  }
}

describe('lazy', () => {
  it('builds once, on the first call, and again after a failed build', async () => {
    let builds = 0;
    const ready = lazy(async () => {
      builds += 1;
      if (builds === 1) throw new Error('first build fails');
      return builds;
    });
    expect(builds).toBe(0);
    await expect(ready()).rejects.toThrow('first build fails');
    expect(await Promise.all([ready(), ready()])).toEqual([2, 2]);
    expect(builds).toBe(2);
  });
});

describe('deferred', () => {
  it('loads the object on the first method call, once for concurrent calls, and calls it as its own method', async () => {
    let loads = 0;
    const counter = deferred(async () => {
      loads += 1;
      return new Counter();
    }, ['add', 'fail']);
    expect(loads).toBe(0);
    expect(Object.keys(counter).sort()).toEqual(['add', 'fail']);
    expect(await Promise.all([counter.add(1), counter.add(2)])).toEqual([1, 3]);
    await expect(counter.fail()).rejects.toThrow('refused');
    expect(await counter.add(4)).toBe(7);
    expect(loads).toBe(1);
  });

  it('rejects the call whose load fails, and loads again on the next call', async () => {
    let loads = 0;
    const counter = deferred(async () => {
      loads += 1;
      if (loads === 1) throw new Error('the client did not load');
      return new Counter();
    }, ['add']);
    await expect(counter.add(1)).rejects.toThrow('the client did not load');
    expect(await counter.add(1)).toBe(1);
    expect(loads).toBe(2);
  });
});
