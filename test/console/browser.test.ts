/// <reference lib="dom" />
/**
 * The built console in a real headless Chromium (Debian's `chromium`, driven by playwright-core; never a
 * downloaded browser), served by local mode (issue 11) at its root with its strict CSP: the local issuer's
 * sign-in page (authorization code + PKCE), the real API and relay, a real supervisor per agent with the
 * stand-in provider CLI. Screenshots of the main pages go to $TMPDIR/cubicle-console-screenshots.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalConsole, type LocalConsole } from './support/local';
import { exampleConfig } from '../support/example-config';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.join(tmpdir(), 'cubicle-console-screenshots');
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

// CI installs Chromium (.ci/run); elsewhere a machine without it skips these tests and says so.
const runBrowser = existsSync(CHROMIUM) || process.env.CI === 'true';
if (!runBrowser) console.warn(`browser tests skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);

let local: LocalConsole;
let browser: Browser;
/** The agents' first start in local mode spawns a supervisor: replies take seconds, not milliseconds. */
const AGENT_MS = 45_000;

beforeAll(async () => {
  if (!runBrowser) return;
  local = await startLocalConsole();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  mkdirSync(SHOTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await local?.close();
});

interface Watched {
  readonly page: Page;
  readonly context: BrowserContext;
  readonly console: string[];
  readonly errors: string[];
  readonly violations: () => Promise<Array<{ directive: string; blocked: string }>>;
}

/** A fresh tab that records console messages, page errors and CSP violation events. */
async function open(): Promise<Watched> {
  // Notifications allowed, as after the employee turned them on under Approvals.
  const context = await browser.newContext({ viewport: { width: 1280, height: 820 }, permissions: ['notifications'] });
  const page = await context.newPage();
  const consoleLines: string[] = [];
  const errors: string[] = [];
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.addInitScript(() => {
    const w = window as unknown as { __violations: Array<{ directive: string; blocked: string }> };
    w.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      w.__violations.push({ directive: e.effectiveDirective, blocked: e.blockedURI }),
    );
    // Headless Chromium shows no notification: record what the page asks to show.
    const Real = window.Notification;
    const shown: Array<{ title: string; body?: string }> = [];
    (window as unknown as { __notifications: typeof shown }).__notifications = shown;
    window.Notification = class extends Real {
      constructor(title: string, options?: NotificationOptions) {
        super(title, options);
        shown.push({ title, body: options?.body });
      }
    } as typeof Notification;
  });
  return {
    page,
    context,
    console: consoleLines,
    errors,
    violations: () =>
      page.evaluate(
        () => (window as unknown as { __violations: Array<{ directive: string; blocked: string }> }).__violations,
      ),
  };
}

/** Through the console's Sign in button and the local issuer's page (authorization code + PKCE). */
async function signIn(w: Watched, user: string, origin = local.origin): Promise<void> {
  await w.page.goto(origin);
  await w.page.getByRole('button', { name: 'Sign in' }).click();
  await w.page.getByRole('heading', { name: 'Sign in to Cubicle (local)' }).waitFor();
  await w.page.getByRole('button', { name: new RegExp(`^Sign in as ${user} \\(`) }).click();
  await w.page.getByRole('heading', { name: 'Your agents' }).waitFor();
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

/** The console's page as an attacker who got markup into it would have it served: same headers, an inline script and style added. */
async function injectMarkup(page: Page): Promise<void> {
  await page.route(`${local.origin}/`, async (route) => {
    const response = await route.fetch();
    const html = (await response.text()).replace(
      '</head>',
      '<script>window.__injected = true</script><style>body { background: red }</style></head>',
    );
    await route.fulfill({ response, body: html });
  });
}

describe.skipIf(!runBrowser)('the console in Chromium, on local mode', () => {
  it('loads under the strict CSP with no violation and no error; an injected inline script and style are blocked', async () => {
    const w = await open();
    const response = await w.page.goto(local.origin);
    expect(response?.headers()['content-security-policy']).toBe(local.csp);
    expect(response?.headers()).toMatchObject({
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    });
    await w.page.getByRole('button', { name: 'Sign in' }).waitFor();
    await shot(w.page, '0-sign-in');
    // Only the console's files are served at the root, as the edge's viewer function allows.
    for (const probe of ['/.env', '/assets/', '/wp-admin/index.html', '/console/index.html'])
      expect((await fetch(`${local.origin}${probe}`)).status, probe).toBe(404);
    expect(await (await fetch(`${local.origin}/config.json`)).json()).toMatchObject({
      apiUrl: '',
      relayUrl: '',
      auth: { issuer: `${local.origin}/local`, clientId: 'cubicle-local' },
    });
    expect(await w.violations()).toEqual([]);
    expect(w.errors).toEqual([]);
    expect(w.console.filter((l) => l.startsWith('error'))).toEqual([]);

    // Markup injected into the page: its inline script and style never run.
    const injected = await open();
    await injectMarkup(injected.page);
    await injected.page.goto(local.origin);
    await injected.page.getByRole('button', { name: 'Sign in' }).waitFor(); // the console itself still runs
    expect(
      await injected.page.evaluate(() => (window as unknown as { __injected?: boolean }).__injected),
    ).toBeUndefined();
    expect(await injected.page.evaluate(() => getComputedStyle(document.body).backgroundColor)).not.toBe(
      'rgb(255, 0, 0)',
    );
    expect((await injected.violations()).map((v) => v.directive).sort()).toEqual(['script-src-elem', 'style-src-elem']);
    expect(
      injected.console.filter((l) =>
        /^error: Executing inline script violates the following Content Security Policy directive 'script-src 'self''.*The action has been blocked\.$/.test(
          l,
        ),
      ),
    ).toHaveLength(1);
    await injected.context.close();

    // Script and style added through the DOM at run time: Trusted Types and style-src block them.
    const outcome = await w.page.evaluate(() => {
      const result: Record<string, string> = {};
      const script = document.createElement('script');
      try {
        script.textContent = 'window.__injected = true';
        document.body.appendChild(script);
        result.script = 'appended';
      } catch (error) {
        result.script = (error as Error).name;
      }
      const div = document.createElement('div');
      div.setAttribute('style', 'color: red');
      document.body.appendChild(div);
      result.style = getComputedStyle(div).color;
      return result;
    });
    expect(outcome.script).toBe('TypeError'); // "This document requires 'TrustedScript' assignment"
    expect(outcome.style).not.toBe('rgb(255, 0, 0)');
    expect(await w.page.evaluate(() => (window as unknown as { __injected?: boolean }).__injected)).toBeUndefined();
    expect((await w.violations()).map((v) => v.directive)).toEqual(
      expect.arrayContaining(['require-trusted-types-for', 'style-src-attr']),
    );
    expect(w.console.some((l) => /requires 'TrustedScript' assignment/.test(l))).toBe(true);
    await w.context.close();
  });

  it('alice signs in, stores her credentials, sends a message and sees the reply live, approves an outbound fetch and sees its result', async () => {
    const w = await open();
    await signIn(w, 'alice');
    expect(w.page.url()).toBe(`${local.origin}/#/`); // the code is gone from the address bar
    for (const id of ['sales', 'finance']) await w.page.getByRole('link', { name: id, exact: true }).waitFor();
    await shot(w.page, '1-agents');

    // The agent's provider and connection credentials, as an employee stores them before the first message.
    await w.page.getByRole('link', { name: 'Credentials' }).click();
    const anthropic = w.page.getByRole('form', { name: /anthropic/ });
    await anthropic.getByLabel('Kind').selectOption('oauth-token');
    const field = anthropic.getByLabel(/for anthropic/);
    expect(await field.getAttribute('type')).toBe('password');
    await field.fill('sk-ant-oat01-test-value');
    await anthropic.getByRole('button', { name: 'Save' }).click();
    await anthropic.getByRole('status').getByText(/Saved/).waitFor();
    expect(await field.inputValue()).toBe('');
    expect(local.secret('cubicle/acme/alice/provider/anthropic')).toBe(
      JSON.stringify({ kind: 'oauth-token', value: 'sk-ant-oat01-test-value' }),
    );
    const crm = w.page.getByRole('form', { name: /crm/ });
    await crm.getByLabel(/Token for crm/).fill('crm-token-from-the-console');
    await crm.getByRole('button', { name: 'Save' }).click();
    await crm.getByRole('status').getByText(/Saved/).waitFor();
    expect(local.secret('cubicle/acme/alice/connection/crm')).toBe('crm-token-from-the-console');
    expect(await w.page.content()).not.toContain('sk-ant-oat01-test-value');
    await shot(w.page, '5-credentials');

    await w.page.getByRole('link', { name: 'Agents' }).click();
    await w.page.getByRole('link', { name: 'sales', exact: true }).click();
    await w.page.getByRole('heading', { name: 'sales' }).waitFor();
    await w.page.getByText('Live', { exact: true }).waitFor();
    await w.page.getByRole('textbox', { name: 'Message' }).fill('hello there');
    await w.page.getByRole('button', { name: 'Send' }).click();
    await w.page.getByText('echo: hello there', { exact: true }).waitFor({ timeout: AGENT_MS });

    await w.page.getByRole('textbox', { name: 'Message' }).fill('fetch https://acme.my.salesforce.com/x');
    await w.page.getByRole('textbox', { name: 'Message' }).press('Enter');
    const region = w.page.getByRole('region', { name: 'Pending approvals' });
    await region.getByText('acme.my.salesforce.com', { exact: true }).waitFor({ timeout: AGENT_MS });
    await region.getByText(/\d:\d\d left/).waitFor();
    await w.page
      .getByRole('link', { name: /Approvals/ })
      .getByText('1')
      .waitFor(); // the badge
    expect(await w.page.title()).toBe('(1) Cubicle');
    await w.page.waitForFunction(
      () => (window as unknown as { __notifications: unknown[] }).__notifications.length > 0,
    );
    expect(await w.page.evaluate(() => (window as unknown as { __notifications: unknown[] }).__notifications)).toEqual([
      { title: 'sales asks to use WebFetch', body: 'acme.my.salesforce.com' },
    ]);
    await shot(w.page, '2-conversation-approval');
    await region.getByRole('button', { name: 'Approve' }).click();
    await w.page.getByText('fetched acme.my.salesforce.com', { exact: true }).waitFor({ timeout: AGENT_MS });
    await shot(w.page, '3-conversation-done');
    expect(await w.page.getByText('echo: hello there', { exact: true }).count()).toBe(1);

    // Tokens only in memory.
    const stored = await w.page.evaluate(
      () => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }),
    );
    expect(stored).toBe('{}{}');
    expect(await w.violations()).toEqual([]);
    expect(w.errors).toEqual([]);
    await w.context.close();
  });

  it('reconnects after the relay drops and shows what happened meanwhile once, without a reload', async () => {
    const w = await open();
    await signIn(w, 'alice');
    await w.page.goto(`${local.origin}/#/agents/sales`);
    await w.page.getByText('Live', { exact: true }).waitFor();
    expect(local.platform.dropDevices()).toBeGreaterThan(0);
    await w.page.getByRole('textbox', { name: 'Message' }).fill('after the drop');
    await w.page.getByRole('button', { name: 'Send' }).click();
    await w.page.getByText('echo: after the drop', { exact: true }).waitFor({ timeout: AGENT_MS });
    await w.page.getByText('Live', { exact: true }).waitFor();
    await w.page.waitForTimeout(300);
    expect(await w.page.getByText('echo: after the drop', { exact: true }).count()).toBe(1);
    // The history before the drop is there once too.
    expect(await w.page.getByText('echo: hello there', { exact: true }).count()).toBe(1);
    await w.context.close();
  });

  it('approvals page, a credential refused before it is sent, keyboard reach, sign out', async () => {
    const w = await open();
    await signIn(w, 'alice');
    await w.page.getByRole('link', { name: /Approvals/ }).click();
    await w.page.getByRole('region', { name: 'Pending approvals' }).getByText('Nothing is waiting for you.').waitFor();
    await shot(w.page, '4-approvals-empty');

    await w.page.getByRole('link', { name: 'Credentials' }).click();
    const before = local.secret('cubicle/acme/alice/connection/bank-feed');
    const bank = w.page.getByRole('form', { name: /bank-feed/ });
    await bank.getByLabel(/Token for bank-feed/).fill('   ');
    await bank.getByRole('button', { name: 'Save' }).click();
    await bank.getByRole('alert').getByText('Enter the credential: the field is empty.').waitFor();
    expect(local.secret('cubicle/acme/alice/connection/bank-feed')).toBe(before); // refused before sending

    // Every control is reachable with Tab: walk until Sign out is focused.
    await w.page.goto(`${local.origin}/#/agents/sales`);
    await w.page.getByRole('textbox', { name: 'Message' }).waitFor();
    const reached = new Set<string>();
    for (let i = 0; i < 40 && !reached.has('Sign out'); i++) {
      await w.page.keyboard.press('Tab');
      reached.add(
        await w.page.evaluate(
          () =>
            (document.activeElement as HTMLElement | null)?.textContent?.trim() ||
            (document.activeElement as HTMLElement | null)?.id ||
            '',
        ),
      );
    }
    expect([...reached]).toEqual(expect.arrayContaining(['Agents', 'Approvals', 'Credentials', 'Sign out']));

    await w.page.getByRole('button', { name: 'Sign out' }).click();
    await w.page.getByRole('button', { name: 'Sign in' }).waitFor();
    await w.context.close();
  });

  it('bruno does not see alice\'s agent, and its address shows "not found"', async () => {
    const w = await open();
    await signIn(w, 'bruno');
    await w.page.getByRole('link', { name: 'research', exact: true }).waitFor();
    expect(await w.page.getByRole('link', { name: 'sales', exact: true }).count()).toBe(0);
    await w.page.goto(`${local.origin}/#/agents/sales`);
    await w.page.getByRole('heading', { name: 'Not found' }).waitFor();
    await shot(w.page, '6-not-found');
    await w.context.close();
  });
});

describe.skipIf(!runBrowser)('usage this month in the console', () => {
  it('shows spend against the limit, and an agent over budget clearly; a message sent then is refused with the reason', async () => {
    // The example roster with a fleet budget of 0.50 USD per user; alice's first run costs 0.60 (stand-in `spend`).
    const budgeted = await startLocalConsole({ ...exampleConfig(), budgets: { monthlyUsdPerUser: 0.5 } });
    try {
      const origin = budgeted.origin;
      const api = async (method: string, route: string, token: string, body?: unknown) =>
        fetch(`${origin}${route}`, {
          method,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      const token = (
        (await (
          await fetch(`${origin}/local/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{"user":"alice"}',
          })
        ).json()) as {
          token: string;
        }
      ).token;
      expect((await api('PUT', '/v1/credentials/anthropic', token, { value: 'x' })).status).toBe(204);
      expect((await api('PUT', '/v1/connections/crm/credential', token, { value: 'x' })).status).toBe(204);
      expect((await api('POST', '/v1/agents/sales/messages', token, { text: 'spend 0.60' })).status).toBe(202);
      const until = Date.now() + AGENT_MS;
      while (Date.now() < until) {
        const usage = (await (await api('GET', '/v1/usage', token)).json()) as { user: { state: string } };
        if (usage.user.state === 'exhausted') break;
        await new Promise((r) => setTimeout(r, 200));
      }

      const w = await open();
      await signIn(w, 'alice', origin);
      const summary = w.page.getByRole('region', { name: 'Usage this month' });
      await summary.getByText('$0.60 of $0.50').waitFor();
      await summary.getByText('over budget: new messages are refused').waitFor();
      await summary.getByText(/take no new messages until the budget resets on \d{4}-\d{2}-01/).waitFor();
      const salesRow = w.page.getByRole('row', { name: /^sales/ });
      await salesRow.getByText('over budget: new messages are refused').waitFor();
      await shot(w.page, '7-usage-over-budget');

      await w.page.getByRole('link', { name: 'sales', exact: true }).click();
      await w.page.getByRole('textbox', { name: 'Message' }).fill('one more');
      await w.page.getByRole('button', { name: 'Send' }).click();
      await w.page
        .getByText(/the monthly budget of 0\.5 USD for this user is used up \(0\.6 USD spent\)/)
        .first()
        .waitFor();
      await shot(w.page, '8-usage-refused-message');
      expect(w.errors).toEqual([]);
      expect(await w.violations()).toEqual([]);
      await w.context.close();
    } finally {
      await budgeted.close();
    }
  });
});
