import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
 * Two people chat in two browsers (issue #12): register, add each other,
 * talk; the checkmarks go ✓ (07) -> ✓✓ (recebida) -> blue (lida, once the
 * conversation is on screen); a reload keeps the session and the history;
 * markup someone sends is shown as text. With ZAPWIRE_SCREENSHOT=1 it also
 * takes docs/web-chat.png (README §Web chat).
 */

const chromiumPath = findChromium();
if (!chromiumPath) console.warn(CHROMIUM_MISSING);

const READ_BLUE = 'rgb(29, 143, 224)';

describe.skipIf(!chromiumPath)('the web chat in two browsers', { timeout: 60_000 }, () => {
  let t: TestServer;
  let browser: Browser;
  let alice: ChatPage;
  let bob: ChatPage;
  let aliceId: Credentials;
  let bobId: Credentials;

  beforeAll(async () => {
    t = await startTestServer({ httpPort: 0 });
    browser = await launchChromium(chromiumPath!);
    const url = `http://127.0.0.1:${t.server.httpAddress!.port}/`;
    alice = await ChatPage.open(browser, url);
    bob = await ChatPage.open(browser, url, { width: 390, height: 700 });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('registers two people, who add each other by number', async () => {
    aliceId = await alice.register('Alice');
    bobId = await bob.register('Bob');
    expect(aliceId.number).toMatch(/^[0-9]{13}$/);
    expect(bobId.number).not.toBe(aliceId.number);
    await alice.online();
    await bob.online();
    await alice.addContact(bobId.number, 'Bob');
    await bob.addContact(aliceId.number, 'Alice');
    await expect.poll(() => alice.contact('Bob').count()).toBe(1);
    await expect.poll(() => bob.contact('Alice').count()).toBe(1);
  });

  it('refuses a contact whose number is not registered (19 -> 20 0)', async () => {
    await alice.page.getByRole('button', { name: 'Add contact' }).click();
    const dialog = alice.page.getByRole('dialog', { name: 'Add contact' });
    await dialog.getByLabel('Number', { exact: true }).fill('0000000000042');
    await dialog.getByRole('button', { name: 'Add' }).click();
    await expect
      .poll(() => dialog.getByRole('alert').textContent(), { timeout: SHOWN_MS })
      .toContain('not a zapwire number');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
  });

  it('shows ✓ when stored, ✓✓ when delivered, blue once read', async () => {
    // Bob is away: Alice's message can only be stored.
    await bob.closePage();
    await alice.openChat('Bob');
    await alice.send('are you there?');
    expect(await alice.checks('are you there?', 'stored')).toBe('✓');

    // Bob comes back (his session resumes from the browser's storage) to the list: delivered, unread.
    await bob.reopen();
    await bob.online();
    expect(await alice.checks('are you there?', 'delivered')).toBe('✓✓');
    await expect.poll(() => bob.unread('Alice'), { timeout: SHOWN_MS }).toBe(1);
    const delivered = alice.bubble('are you there?').locator('.check');
    expect(await alice.color(delivered)).not.toBe(READ_BLUE);

    // He opens the conversation: read.
    await bob.openChat('Alice');
    await bob.shows('are you there?');
    expect(await alice.checks('are you there?', 'read')).toBe('✓✓');
    expect(await alice.color(delivered)).toBe(READ_BLUE);
    expect(await bob.unread('Alice')).toBe(0);
  });

  it('shows a message the moment it arrives, in the open conversation, read at once', async () => {
    await bob.send('yes, here');
    await alice.shows('yes, here');
    expect(await bob.checks('yes, here', 'read')).toBe('✓✓');
    const time = await alice.bubble('yes, here').locator('time').textContent();
    expect(time).toMatch(/[0-9]{1,2}.[0-9]{2}/);
  });

  it('shows markup someone sends as text, never as HTML', async () => {
    const markup = '<img src=x onerror=alert(1)> <b>bold</b> <script>alert(2)</script>';
    await alice.send(markup);
    const bubble = await bob.shows(markup);
    expect(await bubble.locator('.text').textContent()).toBe(markup);
    expect(await bob.page.locator('.messages img, .messages b, .messages script').count()).toBe(0);
    expect(await bob.contact('Alice').locator('img, b, script').count()).toBe(0);
    expect(alice.problems).toEqual([]);
    expect(bob.problems).toEqual([]);
  });

  it('keeps the session and the history across a reload', async () => {
    await bob.page.reload();
    await bob.online();
    expect((await bob.credentials()).number).toBe(bobId.number);
    await bob.openChat('Alice');
    await bob.shows('are you there?');
    await bob.shows('yes, here');
    expect(await bob.checks('yes, here', 'read')).toBe('✓✓');
    // And the session is live again: a new message arrives.
    await alice.send('welcome back');
    await bob.shows('welcome back');
  });

  it('works from the keyboard: Escape to the list, Enter opens a chat, Enter sends', async () => {
    await alice.openChat('Bob');
    const keys = alice.page.keyboard;
    await keys.press('Escape');
    expect(await alice.page.evaluate('document.activeElement?.dataset.number')).toBe(bobId.number);
    await keys.press('Enter');
    expect(await alice.page.evaluate('document.activeElement?.getAttribute("aria-label")')).toBe(
      'Message',
    );
    await keys.type('typed, not clicked');
    await keys.press('Enter');
    await bob.shows('typed, not clicked');
  });

  it('signs out (nothing kept), refuses a wrong token, signs in with number and token', async () => {
    await bob.page.getByRole('button', { name: 'Sign out' }).click();
    await bob.page.getByRole('button', { name: 'Register' }).waitFor();
    expect(await bob.page.evaluate('localStorage.length')).toBe(0);

    await bob.page.getByLabel('Number', { exact: true }).fill(bobId.number);
    await bob.page.getByLabel('Token', { exact: true }).fill(`${bobId.token}x`);
    await bob.page.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => bob.page.getByRole('alert').first().textContent(), { timeout: SHOWN_MS })
      .toContain('refused');

    await bob.signIn(bobId);
    await bob.online();
    // The history went with the sign-out; the conversation starts again from what arrives.
    expect(await bob.contact('Alice').count()).toBe(0);
    await alice.send('after you signed in again');
    await bob.openChat(aliceId.number);
    await bob.shows('after you signed in again');
  });

  it('takes the README screenshot when ZAPWIRE_SCREENSHOT=1', async (ctx) => {
    if (process.env.ZAPWIRE_SCREENSHOT !== '1') return ctx.skip();
    // A conversation of its own, as a person would have it (the one above is full of tests).
    const url = `http://127.0.0.1:${t.server.httpAddress!.port}/`;
    const ana = await ChatPage.open(browser, url, { width: 1000, height: 620 });
    const rui = await ChatPage.open(browser, url, { width: 390, height: 620 });
    const anaId = await ana.register('Ana');
    const ruiId = await rui.register('Rui');
    await ana.online();
    await rui.online();
    await ana.addContact(ruiId.number, 'Rui');
    await rui.addContact(anaId.number, 'Ana');
    await ana.createGroup('Lunch crew', ['Rui']);
    await ana.openChat('Lunch crew');
    await ana.send('Who is in for Friday?');
    await ana.openChat('Rui');
    await rui.openChat('Ana');
    const lines: [ChatPage, string][] = [
      [ana, 'Hi Rui! Are we still on for lunch?'],
      [rui, 'Yes! 12:30 at the usual place?'],
      [ana, 'Perfect, I will book a table.'],
      [rui, 'See you there'],
    ];
    for (const [from, text] of lines) {
      await from.send(text);
      await (from === ana ? rui : ana).shows(text);
      await from.checks(text, 'read');
    }
    const shots: Buffer[] = [];
    for (const chat of [ana, rui]) {
      await chat.page.evaluate('document.activeElement?.blur()');
      shots.push(await chat.page.screenshot());
    }
    // Side by side on a page of its own (the chat's CSP rightly forbids framing it).
    const page = await browser.newPage({ viewport: { width: 1000 + 390 + 48, height: 620 + 32 } });
    await page.setContent(
      `<body style="margin:0;padding:16px;display:flex;gap:16px;background:#c9d3cf">${shots
        .map(
          (png) =>
            `<img style="border-radius:8px" src="data:image/png;base64,${png.toString('base64')}">`,
        )
        .join('')}</body>`,
    );
    const docs = fileURLToPath(new URL('../../../docs/', import.meta.url));
    mkdirSync(docs, { recursive: true });
    await page.screenshot({ path: `${docs}web-chat.png` });
    await page.close();
  });
});
