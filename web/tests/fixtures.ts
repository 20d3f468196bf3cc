// What every test gets: its own server, and users, each a browser context
// signed in through the page. A console error or page error in any of them
// fails the test.

import {
  test as base,
  expect,
  type Browser,
  type BrowserContext,
  type Locator,
  type Page,
} from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChatServer } from './server';

export { expect };

/** Screenshots worth keeping, named after the test that took them. */
export const SHOTS = fileURLToPath(new URL('../test-results/screenshots/', import.meta.url));
mkdirSync(SHOTS, { recursive: true });

export const DESKTOP = { width: 1100, height: 720 };
export const PHONE = { width: 390, height: 844 };

export class User {
  constructor(
    readonly name: string,
    readonly page: Page,
    readonly context: BrowserContext,
  ) {}

  id(testId: string): Locator {
    return this.page.getByTestId(testId);
  }

  get conn(): Locator {
    return this.id('conn-state');
  }

  async login(url: string, device: string): Promise<void> {
    await this.page.goto(url + '/');
    await this.id('login-user').fill(this.name);
    await this.id('login-device').fill(device);
    await this.id('login-submit').click();
    await expect(this.conn).toHaveAttribute('data-state', 'online');
  }

  async startDirect(peer: string): Promise<void> {
    await this.id('new-chat').click();
    await this.id('new-chat-members').fill(peer);
    await this.id('new-chat-start').click();
    await expect(this.id('chat-title')).toHaveText(peer);
  }

  async startGroup(title: string, members: string[]): Promise<void> {
    await this.id('new-chat').click();
    await this.id('new-chat-group').check();
    await this.id('new-chat-members').fill(members.join(', '));
    await this.id('new-chat-title').fill(title);
    await this.id('new-chat-start').click();
    await expect(this.id('chat-title')).toHaveText(title);
  }

  conversation(title: string): Locator {
    return this.page.locator(`[data-testid="conversation"][data-title="${title}"]`);
  }

  async open(title: string): Promise<void> {
    await this.conversation(title).click();
    await expect(this.id('chat-title')).toHaveText(title);
  }

  async send(text: string): Promise<void> {
    const input = this.id('composer-input');
    await input.fill(text);
    await input.press('Enter');
    await expect(input).toHaveValue('');
  }

  messages(): Locator {
    return this.id('message');
  }

  message(text: string): Locator {
    return this.messages().filter({
      has: this.page.getByTestId('message-body').getByText(text, { exact: true }),
    });
  }

  /** The seqs on screen, in order. */
  seqs(): Promise<number[]> {
    return this.page
      .locator('[data-testid="message"][data-seq]')
      .evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.seq)));
  }

  async shot(name: string): Promise<void> {
    await this.page.screenshot({ path: join(SHOTS, `${name}.png`) });
  }
}

/** Errors a browser prints by itself while the server is down. */
const OUTAGE_NOISE =
  /net::ERR_CONNECTION_(REFUSED|RESET)|net::ERR_EMPTY_RESPONSE|WebSocket connection to '[^']*' failed/;

export class Users {
  readonly all: User[] = [];
  readonly errors: string[] = [];
  /** Set while a test has the server down on purpose. */
  outage = false;

  constructor(
    private readonly browser: Browser,
    readonly server: ChatServer,
  ) {}

  async open(
    name: string,
    opts: { viewport?: { width: number; height: number }; device?: string } = {},
  ): Promise<User> {
    const context = await this.browser.newContext({ viewport: opts.viewport ?? DESKTOP });
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      if (this.outage && OUTAGE_NOISE.test(m.text())) return;
      this.errors.push(`${name}: console error: ${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => this.errors.push(`${name}: page error: ${e.stack ?? e.message}`));
    const user = new User(name, page, context);
    await user.login(this.server.url, opts.device ?? 'web');
    this.all.push(user);
    return user;
  }

  async close(): Promise<void> {
    for (const u of this.all) await u.context.close().catch(() => {});
  }
}

export const test = base.extend<{ server: ChatServer; users: Users }>({
  server: async ({}, use, info) => {
    const server = await ChatServer.start(info.outputPath('chatctl.log'));
    await use(server);
    await server.stop();
  },
  users: async ({ browser, server }, use) => {
    const users = new Users(browser, server);
    await use(users);
    await users.close();
    expect(users.errors, 'console and page errors').toEqual([]);
  },
});

/** Text that must stay readable: names, previews, times, bubbles, status lines. */
const TEXT =
  '.me-name, .conn-label, .conv-title, .conv-time, .conv-last, .unread-badge, .chat-title, ' +
  '.status span, .day span, .history-status, .sender, .body, .time, .read-count, .file-kind, ' +
  '.file-size, .empty-list, .chat-empty p';

/**
 * The lowest WCAG contrast ratio between the text colour of a visible
 * element above and the first opaque background behind it.
 */
export async function lowestContrast(page: Page): Promise<{ ratio: number; where: string }> {
  return page.evaluate((selector) => {
    type RGBA = [number, number, number, number];
    const parse = (c: string): RGBA => {
      const n = (c.match(/[\d.]+/g) ?? []).map(Number);
      return [n[0] ?? 0, n[1] ?? 0, n[2] ?? 0, n[3] ?? 1];
    };
    const channel = (v: number) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    const lum = (c: RGBA) => 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
    const behind = (el: Element | null): RGBA => {
      for (; el; el = el.parentElement) {
        const c = parse(getComputedStyle(el).backgroundColor);
        if (c[3] >= 0.99) return c;
      }
      return [255, 255, 255, 1];
    };
    let worst = { ratio: 21, where: 'nothing checked' };
    for (const el of Array.from(document.querySelectorAll<HTMLElement>(selector))) {
      if (!el.checkVisibility() || !el.textContent?.trim()) continue;
      const fg = parse(getComputedStyle(el).color);
      const bg = behind(el);
      // A translucent colour is seen mixed with what is behind it.
      const seen: RGBA = [0, 1, 2].map((i) => fg[i] * fg[3] + bg[i] * (1 - fg[3])) as RGBA;
      const [a, b] = [lum(seen), lum(bg)];
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      if (ratio < worst.ratio) {
        worst = { ratio, where: `.${el.className} "${el.textContent.trim().slice(0, 30)}"` };
      }
    }
    return worst;
  }, TEXT);
}
