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
  /** Uncaught errors and console errors of the page so far. */
  errors: string[];
  close(): Promise<void>;
}

/** A fresh browser context (its own cookies) signed in with `token` through the sign-in form. */
export async function signIn(browser: Browser, url: string, token: string): Promise<SignedIn> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    // The 401 of the first look for a session, a refusal the test asks for and the 404 of a route the page falls back
    // from log a network line: those are the browser's, not the page's.
    if (
      message.type() === 'error' &&
      !/^Failed to load resource: the server responded with a status of 40[134]/.test(message.text())
    )
      errors.push(message.text());
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
  return { page, errors, close: () => context.close() };
}

export function shot(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });
}
