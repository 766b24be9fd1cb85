import { test, expect, Page } from '@playwright/test';

/** Collects uncaught page errors so a hydration panic fails the test. */
function trackErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  return errors;
}

/** Clicks "Show" until the password field turns visible: proof the page is hydrated. */
async function waitForHydration(page: Page) {
  const password = page.locator('#password');
  await expect(async () => {
    if ((await password.getAttribute('type')) === 'password') {
      await page.getByRole('button', { name: 'Show' }).click();
    }
    await expect(password).toHaveAttribute('type', 'text', { timeout: 500 });
  }).toPass({ timeout: 20_000 });
  await page.getByRole('button', { name: 'Hide' }).click();
  await expect(password).toHaveAttribute('type', 'password');
}

test('the login page is server-rendered, then hydrated', async ({ page }) => {
  const errors = trackErrors(page);
  const response = await page.goto('/login');
  expect(response?.status()).toBe(200);
  expect(response?.headers()['content-type']).toContain('text/html');
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await waitForHydration(page);
  expect(errors).toEqual([]);
});

test('a wrong password shows the server error without a reload; the right one opens the admin panel', async ({ page }) => {
  const errors = trackErrors(page);
  await page.goto('/login');
  await waitForHydration(page);

  // A marker on window survives only if the page is not reloaded.
  await page.evaluate(() => ((window as any).__noReload = true));
  await page.fill('#username', 'admin');
  await page.fill('#password', 'wrong-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('Invalid credentials');
  expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);

  await page.fill('#password', 'admin');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/admin$/);
  await expect(page.getByTestId('whoami')).toHaveText('Signed in as admin');
  await expect(page.getByRole('alert')).toContainText('default password');

  // The session cookie is HttpOnly: page scripts cannot read it.
  expect(await page.evaluate(() => document.cookie)).not.toContain('wa_session');
  const cookie = (await page.context().cookies()).find((c) => c.name === 'wa_session');
  expect(cookie?.httpOnly).toBe(true);
  expect(cookie?.sameSite).toBe('Strict');

  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/admin');
  await expect(page).toHaveURL(/\/login$/);
  expect(errors.filter((e) => !e.includes('401'))).toEqual([]);
});
