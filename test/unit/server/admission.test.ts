import { describe, expect, it } from 'vitest';
import { Admission } from '../../../src/server/main-thread/admission.js';
import { captureLogs, LEVEL } from '../../helpers/log-capture.js';

describe('Admission: the connection caps every listener shares (docs/protocol.md §Limits)', () => {
  it('keeps a sixteenth of the total (at most 64) for HTTP, so idle protocol sockets cannot lock out /healthz', () => {
    const admission = new Admission(32, 0, captureLogs('warn').logger);
    expect(admission.httpReserve).toBe(2);
    for (let i = 0; i < 30; i++) expect(admission.admit(`10.0.0.${i}`, 'v1')).toBeUndefined();
    expect(admission.admit('10.0.1.1', 'v1')).toBe('total');
    expect(admission.admit('10.0.1.1', 'legacy')).toBe('total');
    expect(admission.admit('10.0.1.1', 'http')).toBeUndefined();
    expect(admission.admit('10.0.1.2', 'http')).toBeUndefined();
    expect(admission.admit('10.0.1.3', 'http')).toBe('total');
    expect(new Admission(18_000, 0, captureLogs('warn').logger).httpReserve).toBe(64);
    expect(new Admission(6, 0, captureLogs('warn').logger).httpReserve).toBe(0);
  });

  it('an HTTP connection upgraded to a WebSocket stays counted once, but must fit under the v1 cap (not the HTTP reserve)', () => {
    const admission = new Admission(32, 0, captureLogs('warn').logger);
    for (let i = 0; i < 29; i++) admission.admit(`10.0.0.${i}`, 'v1');
    expect(admission.admit('10.0.1.1', 'http')).toBeUndefined();
    expect(admission.upgrade('10.0.1.1'), 'the 30th: within v1 cap').toBeUndefined();
    expect(admission.size).toBe(30);
    expect(admission.admit('10.0.1.2', 'http')).toBeUndefined();
    expect(admission.upgrade('10.0.1.2'), 'the 31st: only HTTP may use the reserve').toBe('total');
    expect(admission.size).toBe(31);
    admission.release('10.0.1.2');
    expect(admission.size).toBe(30);
  });

  it('counts per address across listeners and admits again once a connection of that address is released', () => {
    const admission = new Admission(0, 2, captureLogs('warn').logger);
    expect(admission.admit('a', 'v1')).toBeUndefined();
    expect(admission.admit('a', 'http')).toBeUndefined();
    expect(admission.admit('a', 'legacy')).toBe('address');
    expect(admission.admit('b', 'v1')).toBeUndefined();
    admission.release('a');
    expect(admission.admit('a', 'legacy')).toBeUndefined();
    expect(admission.size).toBe(3);
  });

  it('logs refusals at warn at most once a second, with the count since the last line', () => {
    let t = 0;
    const logs = captureLogs('warn');
    const admission = new Admission(1, 0, logs.logger, () => t);
    admission.admit('a', 'v1');
    for (let i = 0; i < 5; i++) admission.admit('b', 'v1');
    t = 1_500;
    admission.admit('c', 'v1');
    const warnings = logs.lines().filter((l) => l.level === LEVEL.warn);
    expect(warnings.map((l) => l.refused)).toEqual([1, 5]);
    expect(warnings[0]).toMatchObject({
      address: 'b',
      listener: 'v1',
      msg: 'connection refused: too many connections (maxConnections)',
    });
  });
});
