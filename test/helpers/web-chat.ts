import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import {
  type Browser,
  type BrowserContext,
  chromium,
  type Locator,
  type Page,
} from 'playwright-core';
import { expect } from 'vitest';

/**
 * Drives the web chat in a real Chromium (Debian's, never a download), as a
 * person uses it: by labels, button names and what is on screen.
 */

export const CHROMIUM_MISSING =
  'Chromium is not installed: skipped; Debian: apt-get install -y chromium';

/** Time for something the page shows to appear: generous, since two cores run everything. */
export const SHOWN_MS = 10_000;

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Debian's /usr/bin/chromium, else a chromium on PATH; undefined when there is none. */
export function findChromium(): string | undefined {
  const candidates = ['/usr/bin/chromium'];
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean))
    candidates.push(join(dir, 'chromium'), join(dir, 'chromium-browser'));
  return candidates.find(executable);
}

/** The browser of a test file; skip the file (with CHROMIUM_MISSING) when findChromium() finds none. */
export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({ executablePath, args: ['--no-sandbox'] });
}

export interface Credentials {
  number: string;
  token: string;
}

/** One person's browser profile (a context: its own localStorage and IndexedDB) with the chat open. */
export class ChatPage {
  /** Script errors and alert()s the page raised: a test expects none. */
  readonly problems: string[] = [];

  private constructor(
    readonly context: BrowserContext,
    public page: Page,
    private readonly url: string,
  ) {
    this.watch(page);
  }

  static async open(
    browser: Browser,
    url: string,
    viewport = { width: 1100, height: 700 },
  ): Promise<ChatPage> {
    const context = await browser.newContext({ viewport });
    // Each step waits at most this long: a failure shows in seconds, not in Playwright's 30.
    context.setDefaultTimeout(SHOWN_MS);
    const chat = new ChatPage(context, await context.newPage(), url);
    await chat.page.goto(url);
    return chat;
  }

  private watch(page: Page): void {
    page.on('pageerror', (err) => this.problems.push(`page error: ${err.message}`));
    page.on('dialog', (dialog) => {
      this.problems.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
  }

  /** Closes the page (its WebSocket goes with it); the profile stays for reopen(). */
  async closePage(): Promise<void> {
    await this.page.close();
  }

  /** A new page of the same profile: what was kept in the browser must bring the chat back. */
  async reopen(): Promise<void> {
    this.page = await this.context.newPage();
    this.watch(this.page);
    await this.page.goto(this.url);
  }

  async register(name: string): Promise<Credentials> {
    await this.page.getByLabel('Your name', { exact: true }).fill(name);
    await this.page.getByRole('button', { name: 'Register' }).click();
    return this.credentials();
  }

  async signIn({ number, token }: Credentials): Promise<void> {
    await this.page.getByLabel('Number', { exact: true }).fill(number);
    await this.page.getByLabel('Token', { exact: true }).fill(token);
    await this.page.getByRole('button', { name: 'Sign in' }).click();
    await this.page.getByTestId('own-number').waitFor({ timeout: SHOWN_MS });
  }

  /** The number and token the page shows its user (top bar). */
  async credentials(): Promise<Credentials> {
    const number = (await this.page.getByTestId('own-number').textContent({ timeout: SHOWN_MS }))!;
    const token = (await this.page.getByTestId('own-token').textContent())!;
    return { number, token };
  }

  /** Waits until the push session is open, and no banner says otherwise. */
  async online(timeout = SHOWN_MS): Promise<void> {
    await this.page.locator('.shell[data-session="open"]').waitFor({ timeout });
    await this.page.locator('.banner').waitFor({ state: 'hidden', timeout });
  }

  async addContact(number: string, nickname: string): Promise<void> {
    await this.page.getByRole('button', { name: 'Add contact' }).click();
    const dialog = this.page.getByRole('dialog', { name: 'Add contact' });
    await dialog.getByLabel('Number', { exact: true }).fill(number);
    await dialog.getByLabel('Nickname', { exact: true }).fill(nickname);
    await dialog.getByRole('button', { name: 'Add' }).click();
    await dialog.waitFor({ state: 'detached', timeout: SHOWN_MS });
  }

  async createGroup(name: string, members: string[]): Promise<void> {
    await this.page.getByRole('button', { name: 'New group' }).click();
    const dialog = this.page.getByRole('dialog', { name: 'New group' });
    await dialog.getByLabel('Group name', { exact: true }).fill(name);
    for (const member of members) await dialog.getByLabel(member, { exact: true }).check();
    await dialog.getByRole('button', { name: 'Create' }).click();
    await dialog.waitFor({ state: 'detached', timeout: SHOWN_MS });
  }

  /** The contact list's row of a contact or group: its name is `name` (a string: exactly). */
  contact(name: string | RegExp): Locator {
    const nickname = this.page.locator('.nickname').getByText(name, { exact: true });
    return this.page.locator('.contact').filter({ has: nickname });
  }

  async openChat(name: string): Promise<void> {
    // At phone width the list is not on screen while a conversation is: back to it first.
    const back = this.page.getByRole('button', { name: '← Chats' });
    if (await back.isVisible()) await back.click();
    await this.contact(name).click({ timeout: SHOWN_MS });
    await expect
      .poll(() => this.page.locator('#conversation-title').textContent(), { timeout: SHOWN_MS })
      .toBe(name);
  }

  /** Types a message in the open conversation and sends it with Enter. */
  async send(text: string): Promise<void> {
    const box = this.page.getByLabel('Message', { exact: true });
    await box.fill(text);
    await box.press('Enter');
  }

  /** The bubbles of the open conversation, in order. */
  bubbles(): Locator {
    return this.page.locator('.messages li.message');
  }

  /** The bubble whose text is exactly `text`. */
  bubble(text: string): Locator {
    return this.bubbles().filter({
      has: this.page.locator('.text').getByText(text, { exact: true }),
    });
  }

  /** Waits for the bubble of `text` to be shown. */
  async shows(text: string): Promise<Locator> {
    const bubble = this.bubble(text);
    await bubble.waitFor({ timeout: SHOWN_MS });
    return bubble;
  }

  /** Waits until an own message's checkmarks are `status` (stored ✓, delivered ✓✓, read blue). */
  async checks(text: string, status: 'stored' | 'delivered' | 'read'): Promise<string> {
    const bubble = this.bubble(text);
    await expect.poll(() => bubble.getAttribute('data-status'), { timeout: SHOWN_MS }).toBe(status);
    return (await bubble.locator('.check').textContent())!;
  }

  /** An element's color as the browser computes it (the blue of read checkmarks). */
  color(locator: Locator): Promise<string> {
    type Window = { getComputedStyle(element: unknown): { color: string } };
    return locator.evaluate(
      (element) => (globalThis as unknown as Window).getComputedStyle(element).color,
    );
  }

  /** The unread count on a contact's row (0 when there is no badge). */
  async unread(name: string | RegExp): Promise<number> {
    const badge = this.contact(name).locator('.unread');
    return (await badge.count()) === 0 ? 0 : Number(await badge.textContent());
  }
}
