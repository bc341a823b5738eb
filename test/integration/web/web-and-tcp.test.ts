import { rmSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GroupCreated, Message, Receipt } from '../../../src/client/deliveries.js';
import { ZapwireClient } from '../../../src/client/zapwire-client.js';
import { ZapwireServer } from '../../../src/server/server.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import {
  CHROMIUM_MISSING,
  ChatPage,
  type Credentials,
  findChromium,
  launchChromium,
  SHOWN_MS,
} from '../../helpers/web-chat.js';

/**
 * A person in the browser and people on the SDK over TCP (issue #12): the
 * same store and the same protocol, both ways, in direct messages and in a
 * group; and the browser's session comes back by itself after the server
 * restarts, with an offline banner meanwhile.
 */

const chromiumPath = findChromium();
if (!chromiumPath) console.warn(CHROMIUM_MISSING);

/** An SDK user over TCP, recording what it is told. */
interface TcpUser {
  client: ZapwireClient;
  number: string;
  messages: Message[];
  receipts: Receipt[];
  groups: GroupCreated[];
}

describe.skipIf(!chromiumPath)('the web chat with TCP users', { timeout: 60_000 }, () => {
  let t: TestServer;
  let restarted: ZapwireServer | undefined;
  let browser: Browser;
  let carol: ChatPage;
  let carolId: Credentials;
  let dan: TcpUser;
  let eve: TcpUser;

  async function tcpUser(name: string): Promise<TcpUser> {
    const client = new ZapwireClient({
      host: '127.0.0.1',
      port: t.port,
      reconnect: { initialDelayMs: 50, maxDelayMs: 300 },
    });
    const { number } = await client.register(name);
    const user: TcpUser = { client, number, messages: [], receipts: [], groups: [] };
    client.on('message', (m) => user.messages.push(m));
    client.on('receipt', (r) => user.receipts.push(r));
    client.on('groupCreated', (g) => user.groups.push(g));
    await client.connect();
    return user;
  }

  beforeAll(async () => {
    t = await startTestServer({ httpPort: 0 });
    browser = await launchChromium(chromiumPath!);
    carol = await ChatPage.open(browser, `http://127.0.0.1:${t.server.httpAddress!.port}/`);
    carolId = await carol.register('Carol');
    dan = await tcpUser('Dan');
    eve = await tcpUser('Eve');
    await carol.online();
  }, 60_000);
  afterAll(async () => {
    await Promise.all([dan?.client.close(), eve?.client.close()]);
    await browser?.close();
    if (restarted) {
      await restarted.close();
      rmSync(t.dir, { recursive: true, force: true });
    } else await t?.stop();
  });

  it('a TCP user writes to the browser, and gets ✓✓ and blue from it', async () => {
    const sent = await dan.client.send(carolId.number, 'hi Carol, from the terminal');
    // Carol does not know Dan yet: his number is the name of the new conversation.
    await expect.poll(() => carol.unread(dan.number), { timeout: SHOWN_MS }).toBe(1);
    await expect
      .poll(() => dan.receipts.map((r) => r.kind), { timeout: SHOWN_MS })
      .toEqual(['recebida']);
    await carol.addContact(dan.number, 'Dan');
    await carol.openChat('Dan');
    await carol.shows('hi Carol, from the terminal');
    await expect
      .poll(() => dan.receipts.map((r) => r.kind), { timeout: SHOWN_MS })
      .toEqual(['recebida', 'lida']);
    expect(dan.receipts[1]).toMatchObject({ from: carolId.number, ts: sent.ts });
  });

  it('the browser writes to a TCP user, who marks it read: blue in the browser', async () => {
    await carol.send('hello Dan, from the browser');
    await expect
      .poll(() => dan.messages.map((m) => m.text), { timeout: SHOWN_MS })
      .toContain('hello Dan, from the browser');
    const message = dan.messages.find((m) => m.text === 'hello Dan, from the browser')!;
    expect(message).toMatchObject({
      sender: carolId.number,
      chat: { kind: 'user', number: carolId.number },
      wantsReceipt: true,
    });
    expect(await carol.checks('hello Dan, from the browser', 'delivered')).toBe('✓✓');
    await dan.client.markRead(message);
    expect(await carol.checks('hello Dan, from the browser', 'read')).toBe('✓✓');
  });

  it('a group of the browser user and two TCP users, created in the browser', async () => {
    await carol.addContact(eve.number, 'Eve');
    await carol.createGroup('Team', ['Dan', 'Eve']);
    await carol.openChat('Team');
    await expect.poll(() => dan.groups.length, { timeout: SHOWN_MS }).toBe(1);
    await expect.poll(() => eve.groups.length, { timeout: SHOWN_MS }).toBe(1);
    const group = dan.groups[0]!.group;
    expect(dan.groups[0]).toMatchObject({ creator: carolId.number });
    expect(eve.groups[0]!.group).toBe(group);

    await carol.send('welcome to the team');
    for (const user of [dan, eve])
      await expect
        .poll(() => user.messages.find((m) => m.text === 'welcome to the team')?.chat, {
          timeout: SHOWN_MS,
        })
        .toEqual({ kind: 'group', number: group });

    await dan.client.send(group, 'thanks!');
    const bubble = await carol.shows('thanks!');
    // In a group each message says who wrote it: the nickname Carol gave Dan.
    expect(await bubble.locator('.sender').textContent()).toBe('Dan');
  });

  it('a group a TCP user creates appears in the browser', async () => {
    const group = await eve.client.createGroup([carolId.number, dan.number]);
    await eve.client.send(group, 'a group of my own');
    // No group name crosses the wire: the browser names it by its number's last digits.
    const name = `group …${group.slice(-4)}`;
    await carol.contact(name).waitFor({ timeout: SHOWN_MS });
    await expect.poll(() => carol.unread(name), { timeout: SHOWN_MS }).toBe(1);
  });

  it('shows an offline banner while the server is down, then reconnects and sends what waited', async () => {
    await carol.openChat('Dan');
    const { port, dbPath } = t;
    const httpPort = t.server.httpAddress!.port;
    await t.server.close();
    const banner = carol.page.locator('.banner');
    await expect
      .poll(() => banner.textContent(), { timeout: SHOWN_MS })
      .toMatch(/Offline: reconnecting in [0-9]+ s/);
    await carol.send('written while offline');
    expect(await carol.bubble('written while offline').getAttribute('data-status')).toBe('sending');

    restarted = await ZapwireServer.start({
      host: '127.0.0.1',
      port,
      httpPort,
      dbPath,
      logLevel: 'silent',
    });
    // The next attempt of the backoff (at most a few seconds after so short an outage).
    await carol.online(30_000);
    expect(await carol.checks('written while offline', 'delivered')).toBe('✓✓');
    expect(dan.messages.map((m) => m.text)).toContain('written while offline');
  });
});
