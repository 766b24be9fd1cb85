import { expect, APIRequestContext, Page } from '@playwright/test';

export const ADMIN = { Authorization: 'Basic ' + Buffer.from('admin:admin').toString('base64') };

export function basicAuth(user: string, password: string) {
  return { Authorization: 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64') };
}

/** POSTs to a route with the given credentials and expects 200. */
export async function post(request: APIRequestContext, path: string, headers: object, data: object = {}) {
  const r = await request.post(path, { headers: headers as Record<string, string>, data });
  expect(r.status(), await r.text()).toBe(200);
  return r.json();
}

/** Signs in through the login page, once it is hydrated. */
export async function login(page: Page, username: string, password: string) {
  await page.goto('/login');
  await expect(async () => {
    await page.getByRole('button', { name: 'Show' }).click();
    await expect(page.locator('#password')).toHaveAttribute('type', 'text', { timeout: 500 });
  }).toPass({ timeout: 20_000 });
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}
