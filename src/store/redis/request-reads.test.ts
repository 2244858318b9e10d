import { describe, expect, it } from '@jest/globals';
import { currentRequest, dropKept, keepForRequest, requestReadsScope, takeKept } from './request-reads.js';

/** Issue #20: values read along are kept for one request, answer one read, and go with a write. */
describe('request reads', () => {
  const inRequest = <T>(work: () => Promise<T>) => requestReadsScope()(undefined, work) as Promise<T>;

  it('keeps nothing outside a request', () => {
    keepForRequest('Grant:g', { a: 1 });
    expect(currentRequest()).toBeUndefined();
    expect(takeKept('Grant:g')).toBeUndefined();
  });

  it('answers one read, then the next read goes to the store; null means read and missing', async () => {
    await inRequest(async () => {
      keepForRequest('Grant:g', { a: 1 });
      keepForRequest('uid:u', null);
      await Promise.resolve();
      expect(takeKept('Grant:g')).toEqual({ a: 1 });
      expect(takeKept('Grant:g')).toBeUndefined();
      expect(takeKept('uid:u')).toBeNull();
    });
  });

  it('a write drops what was kept; requests do not see each other’s entries', async () => {
    await Promise.all([
      inRequest(async () => {
        keepForRequest('ix:1', 'one');
        dropKept((e) => e === 'ix:1');
        expect(takeKept('ix:1')).toBeUndefined();
      }),
      inRequest(async () => {
        await new Promise((r) => setTimeout(r, 5));
        expect(takeKept('ix:1')).toBeUndefined();
      }),
    ]);
  });
});
