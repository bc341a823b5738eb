/**
 * What nodes say through Redis (src/server/cluster/cluster-protocol.ts):
 * presence values and channel messages are plain text, and what a node does
 * not understand (a newer node's message, a damaged value) is ignored.
 */
import { describe, expect, it } from 'vitest';
import {
  type ClusterMessage,
  decodeMessage,
  decodePresence,
  encodeMessage,
  encodePresence,
  nodeChannel,
  presenceKey,
} from '../../../src/server/cluster/cluster-protocol.js';

describe('cluster protocol', () => {
  it('names the keys and channels after the number and the node', () => {
    expect(presenceKey('1000000000001')).toBe('zapwire:presence:1000000000001');
    expect(nodeChannel('node-a')).toBe('zapwire:node:node-a');
  });

  it('writes presence as `<nodeId> <claim>` and reads it back', () => {
    expect(encodePresence({ nodeId: 'node-a', claim: 42 })).toBe('node-a 42');
    expect(decodePresence('node-a 42')).toEqual({ nodeId: 'node-a', claim: 42 });
    for (const damaged of [null, undefined, '', 'node-a', ' 42', 'node-a x'])
      expect(decodePresence(damaged)).toBeUndefined();
  });

  it.each<ClusterMessage>([
    { t: 'notice', numbers: ['1000000000001', '1000000000002'] },
    { t: 'takeover', number: '1000000000001', claim: 7 },
    { t: 'resync', nodeId: 'node-b' },
  ])('reads back what it writes: %j', (message) => {
    expect(decodeMessage(encodeMessage(message))).toEqual(message);
  });

  it('ignores a message it does not know', () => {
    for (const text of ['hello', 'notice', 'takeover 1000000000001', 'takeover 1 x', 'resync'])
      expect(decodeMessage(text)).toBeUndefined();
  });
});
