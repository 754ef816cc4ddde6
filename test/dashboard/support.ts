/**
 * The dashboard in a real headless Chromium (Debian's, driven by playwright-core): the built
 * web/dist served by a real control plane, signed in with a token as a person would, and the
 * browser's errors collected so a test can say none happened.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

/** Debian's chromium (`.ci/run` installs it when missing). */
export const CHROMIUM = '/usr/bin/chromium';
export const HAS_CHROMIUM = existsSync(CHROMIUM);
/** Screenshots of the dashboard tests (gitignored). */
export const ARTIFACTS = resolve('artifacts/dashboard');

/** web/dist as `npm ci` builds it; built here when a checkout has not built it yet. */
export function ensureDashboardBuilt(): void {
  if (existsSync(resolve('web/dist/index.html'))) return;
  execFileSync(process.execPath, ['scripts/build-web.mjs'], { stdio: 'inherit' });
}

export async function launchBrowser(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

export interface SignedIn {
  page: Page;
  /** Uncaught errors, console errors and failed requests of the page so far. */
  errors: string[];
  /** Set while the test makes the page do what the API refuses (403s then are expected). */
  allowRefusals: { value: boolean };
  close(): Promise<void>;
}

/** A fresh browser context (its own cookies) signed in with `token` through the sign-in form. */
export async function signIn(browser: Browser, url: string, token: string): Promise<SignedIn> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  const allowRefusals = { value: false };
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    // A failed request logs a network line; the response handler below tells those with their URL.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
      errors.push(message.text());
  });
  page.on('response', (response) => {
    const status = response.status();
    if (status < 400) return;
    const path = new URL(response.url()).pathname;
    // The page's first look for a session (none yet) and the refusals a test asks for are expected.
    if (status === 401 && path === '/api/v1/session') return;
    if (status === 403 && allowRefusals.value) return;
    errors.push(`${status} ${response.request().method()} ${path}`);
  });
  // Every request stays on the control plane: nothing from a CDN.
  const origin = new URL(url).origin;
  page.on('request', (request) => {
    const target = new URL(request.url());
    if (target.protocol !== 'data:' && target.protocol !== 'blob:' && target.origin !== origin)
      errors.push(`fetched off the control plane: ${request.url()}`);
  });
  await page.goto(url);
  await page.fill('input[name=token]', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('header .who');
  return { page, errors, allowRefusals, close: () => context.close() };
}

export function shot(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });
}
