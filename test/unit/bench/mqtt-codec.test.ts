import { describe, expect, it } from 'vitest';
import {
  CONNACK,
  encodeConnect,
  encodePuback,
  encodeSubscribe,
  MqttSplitter,
  PUBACK,
  PUBLISH,
  publishParts,
  publishTemplate,
  SUBACK,
} from '../../../bench/mqtt-codec.js';

// The MQTT peer driver's codec (bench/mqtt-codec.ts): the bytes MQTT 3.1.1 prescribes,
// and a splitter that finds the same packets however the stream is cut.
describe('MQTT 3.1.1 codec of the peer load generator', () => {
  it('encodes CONNECT with protocol level 4, clean session and keep alive 0 [MQTT-3.1.2]', () => {
    const b = encodeConnect('p1');
    expect([...b]).toEqual([
      0x10, 14, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 0, 0, 2, 0x70, 0x31,
    ]);
  });

  it('encodes SUBSCRIBE with flags 0010 and QoS 1 [MQTT-3.8.1-1]', () => {
    expect([...encodeSubscribe(7, 'a/b')]).toEqual([0x82, 8, 0, 7, 0, 3, 0x61, 0x2f, 0x62, 1]);
  });

  it('builds a QoS 1 PUBLISH whose packet id and payload are where publishParts finds them', () => {
    const t = publishTemplate('chat/42', 256);
    const packet = Buffer.from(t.packet);
    packet.writeUInt16BE(513, t.idOffset);
    packet.write('1 2.5', t.payloadOffset, 'latin1');
    expect(packet[0]).toBe(0x32); // PUBLISH, QoS 1
    // remaining length 2 + 7 + 2 + 256 = 267: two bytes of variable length
    expect([packet[1], packet[2]]).toEqual([(267 % 128) | 0x80, Math.floor(267 / 128)]);
    const body = packet.subarray(3);
    const { packetId, payloadOffset } = publishParts(body);
    expect(packetId).toBe(513);
    expect(body.length - payloadOffset).toBe(256);
    expect(body.toString('latin1', payloadOffset, payloadOffset + 5)).toBe('1 2.5');
  });

  it('splits a stream into the same packets at every cut', () => {
    const publish = Buffer.from(publishTemplate('t', 300).packet);
    const stream = Buffer.concat([
      Buffer.from([0x20, 2, 0, 0]),
      Buffer.from([0x90, 3, 0, 1, 1]),
      publish,
      encodePuback(9),
    ]);
    const expected = [
      `${CONNACK}:2`,
      `${SUBACK}:3`,
      `${PUBLISH}:${publish.length - 3}`,
      `${PUBACK}:2`,
    ];
    for (let cut = 0; cut <= stream.length; cut++) {
      const got: string[] = [];
      const s = new MqttSplitter();
      for (const part of [stream.subarray(0, cut), stream.subarray(cut)])
        s.push(part, (type, _flags, body) => got.push(`${type}:${body.length}`));
      expect(got, `cut at ${cut}`).toEqual(expected);
    }
  });
});
