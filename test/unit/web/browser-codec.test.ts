import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import * as node from '../../../src/protocol/index.js';
import { Code, type FrameInit } from '../../../src/protocol/index.js';

/**
 * The web chat runs the server's codec (src/protocol/), bundled for the
 * browser with web/src/buffer-shim.ts standing in for Node's Buffer (the
 * bundle package.json's build:web makes). Built here the same way, it must
 * make and read the very bytes Node's codec does, and refuse what it refuses.
 */

type Codec = typeof node;
let browser: Codec;

const root = fileURLToPath(new URL('../../../', import.meta.url));

beforeAll(async () => {
  const bundle = await build({
    entryPoints: [`${root}src/protocol/index.ts`],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    inject: [`${root}web/src/buffer-shim.ts`],
    logLevel: 'silent',
  });
  const code = bundle.outputFiles[0]!.text;
  // The bundle must not reach for Node's Buffer: every use is the shim's.
  expect(code).not.toMatch(/require\(|from ['"]node:/);
  browser = await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
});

const FRAMES: FrameInit[] = [
  { code: Code.Register, data: 'Zoë' },
  { code: Code.OpenSession, src: '1234567890123', flag: true, data: 'a-token_42' },
  {
    code: Code.Send,
    src: '1234567890123',
    dst: '9876543210987',
    ts: 1_700_000_000,
    flag: true,
    data: 'olá 🎉 <img src=x onerror=alert(1)> \uFEFF',
  },
  {
    code: Code.Send,
    src: '1234567890123',
    dst: '9876543210987',
    ts: 9_999_999_999,
    data: 'é'.repeat(108),
  },
  { code: Code.Ack, src: '1234567890123', data: '17' },
  { code: Code.CreateGroup, src: '1234567890123', data: '1111111111111'.repeat(3) },
];

describe('the codec bundled for the browser', () => {
  it.each(FRAMES.map((f) => [f.code, f] as const))('encodes a %s as Node does', (_code, init) => {
    const bytes = browser.encodeFrame(init);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(bytes)).toEqual(node.encodeFrame(init));
  });

  it.each(FRAMES.map((f) => [f.code, f] as const))('decodes a %s as Node does', (_code, init) => {
    const bytes = new Uint8Array(node.encodeFrame(init));
    expect(browser.decodeFrame(bytes)).toEqual(node.decodeFrame(bytes));
  });

  it('refuses the frames Node refuses, naming the same field', () => {
    const refusals: Array<() => void> = [];
    const nul = new Uint8Array(node.encodeFrame({ code: Code.Send, data: 'ab' }));
    nul[39] = 0;
    const badUtf8 = new Uint8Array(node.encodeFrame({ code: Code.Send, data: 'ab' }));
    badUtf8[39] = 0xff;
    const short = new Uint8Array(255);
    for (const bytes of [nul, badUtf8, short]) {
      refusals.push(
        () => node.decodeFrame(bytes),
        () => browser.decodeFrame(bytes),
      );
    }
    for (const init of [
      { code: Code.Send, data: 'x'.repeat(218) },
      { code: Code.Send, data: '\uD800' },
      { code: Code.Send, src: '123' },
    ]) {
      refusals.push(
        () => node.encodeFrame(init),
        () => browser.encodeFrame(init),
      );
    }
    for (let i = 0; i < refusals.length; i += 2) {
      const field = (run: () => void) => {
        try {
          run();
        } catch (err) {
          return (err as { field?: string }).field;
        }
        return 'accepted';
      };
      expect(field(refusals[i + 1]!)).toBe(field(refusals[i]!));
      expect(field(refusals[i]!)).not.toBe('accepted');
    }
  });

  it('splits long text where Node does', () => {
    const text = `${'ab🎉'.repeat(40)}${'ç'.repeat(150)}`;
    expect(browser.splitText(text)).toEqual(node.splitText(text));
  });
});
