/**
 * The broker's 06 bookkeeping per connection (docs/protocol.md §Sessions: a
 * cumulative `08 count`): what was sent, what a count newly covers, and which
 * of the covered frames were pushes (they return push credit) rather than a
 * poll's answer.
 */
import { describe, expect, it } from 'vitest';
import { Ledger, Ledgers } from '../../../src/server/broker/ledger.js';

const PUSHED = true;
const POLLED = false;

describe('Ledger', () => {
  it('counts every frame recorded as sent, pushed or polled', () => {
    const ledger = new Ledger(1, '1000000000001');
    ledger.record([11, 12], PUSHED);
    ledger.record([13], POLLED);
    ledger.record([], PUSHED);
    expect(ledger.sent).toBe(3);
    expect(ledger.acked).toBe(0);
  });

  it('returns the row ids a cumulative count newly covers, oldest first', () => {
    const ledger = new Ledger(1, '1000000000001');
    ledger.record([11, 12, 13, 14], PUSHED);
    expect(ledger.acknowledge(2)).toEqual({ ids: [11, 12], pushes: 2 });
    expect(ledger.acked).toBe(2);
    // Cumulative: 3 covers one frame more than 2 did.
    expect(ledger.acknowledge(3)).toEqual({ ids: [13], pushes: 1 });
    expect(ledger.acknowledge(4)).toEqual({ ids: [14], pushes: 1 });
    expect(ledger.acked).toBe(4);
  });

  it('covers nothing with a count no greater than one already acknowledged, and is not disturbed by it', () => {
    const ledger = new Ledger(1, '1000000000001');
    ledger.record([21, 22, 23], PUSHED);
    ledger.acknowledge(2);
    expect(ledger.acknowledge(2)).toEqual({ ids: [], pushes: 0 });
    expect(ledger.acknowledge(1)).toEqual({ ids: [], pushes: 0 });
    expect(ledger.acknowledge(0)).toEqual({ ids: [], pushes: 0 });
    expect(ledger.acked).toBe(2);
    expect(ledger.acknowledge(3)).toEqual({ ids: [23], pushes: 1 });
  });

  it('tells pushes from polled frames, and returns every id as the positive row id', () => {
    const ledger = new Ledger(1, '1000000000001');
    ledger.record([5], POLLED);
    ledger.record([6, 7], PUSHED);
    ledger.record([8, 9], POLLED);
    ledger.record([10], PUSHED);
    const { ids, pushes } = ledger.acknowledge(6);
    expect(ids).toEqual([5, 6, 7, 8, 9, 10]);
    expect(pushes).toBe(3);
  });

  it('counts only the pushes among the frames newly covered', () => {
    const ledger = new Ledger(1, '1000000000001');
    ledger.record([1, 2], PUSHED);
    ledger.record([3, 4], POLLED);
    expect(ledger.acknowledge(1)).toEqual({ ids: [1], pushes: 1 });
    expect(ledger.acknowledge(4)).toEqual({ ids: [2, 3, 4], pushes: 1 });
  });

  it('keeps the host and number it was opened for', () => {
    const ledger = new Ledger(3, '1000000000009');
    expect(ledger.hostId).toBe(3);
    expect(ledger.number).toBe('1000000000009');
  });
});

describe('Ledgers', () => {
  it('opens one ledger per connection: a second open keeps what the first counted', () => {
    const ledgers = new Ledgers();
    ledgers.open(100, 1, '1000000000001');
    ledgers.get(100)!.record([1, 2], PUSHED);
    ledgers.open(100, 1, '1000000000001');
    expect(ledgers.get(100)!.sent).toBe(2);
    expect(ledgers.size).toBe(1);
  });

  it('forgets a connection that closed, and only that one', () => {
    const ledgers = new Ledgers();
    ledgers.open(100, 1, '1000000000001');
    ledgers.open(101, 1, '1000000000002');
    ledgers.close(100);
    expect(ledgers.get(100)).toBeUndefined();
    expect(ledgers.get(101)).toBeDefined();
    expect(ledgers.size).toBe(1);
  });

  it("drops every ledger of a host that went away, and only that host's", () => {
    const ledgers = new Ledgers();
    ledgers.open(100, 1, '1000000000001');
    ledgers.open(101, 2, '1000000000002');
    ledgers.open(102, 1, '1000000000003');
    ledgers.open(103, 3, '1000000000004');
    ledgers.dropHost(1);
    expect(ledgers.get(100)).toBeUndefined();
    expect(ledgers.get(102)).toBeUndefined();
    expect(ledgers.get(101)?.hostId).toBe(2);
    expect(ledgers.get(103)?.hostId).toBe(3);
    expect(ledgers.size).toBe(2);
  });
});
