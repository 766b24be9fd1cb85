import { test, expect } from '@playwright/test';
import { ADMIN, login, post } from './helpers';

test('the dashboard follows the session live: QR, scan, drop, disconnect', async ({ page, request }) => {
  const created = await request.post('/admin/users', {
    headers: ADMIN,
    data: { username: 'e2euser', password: 'e2e-pass' },
  });
  expect(created.status(), await created.text()).toBe(200);

  await login(page, 'e2euser', 'e2e-pass');
  await expect(page).toHaveURL(/\/dashboard$/);
  const badge = page.getByTestId('status');
  await expect(badge).toHaveText('Disconnected');
  await page.evaluate(() => ((window as any).__noReload = true));

  await page.getByRole('button', { name: 'Connect Session' }).click();
  await expect(page.getByTestId('qr')).toHaveAttribute('src', /^data:image\/png;base64,/);
  await expect(badge).toHaveText('Scan the QR code');

  // The phone scans: the page learns it over the websocket, without polling or reload.
  await post(request, '/sim/sessions/e2euser/scan', ADMIN, { phone: '6281234500000' });
  await expect(badge).toHaveText('Connected');
  await expect(page.getByTestId('qr')).toHaveCount(0);
  await expect(page.getByText('Phone: +6281234500000')).toBeVisible();

  // Callback URL: the server's validation message shows inline.
  await page.fill('#callback', 'ftp://example.com');
  await page.getByRole('button', { name: 'Update Callback URL' }).click();
  await expect(page.getByTestId('callback-message')).toHaveText("Invalid url field 'callback_url' on json");
  await page.fill('#callback', 'http://127.0.0.1:9/hook');
  await page.getByRole('button', { name: 'Update Callback URL' }).click();
  await expect(page.getByTestId('callback-message')).toHaveText('Callback URL updated');

  // A dropped connection shows as connecting, then comes back by itself.
  await post(request, '/sim/sessions/e2euser/drop', ADMIN);
  await expect(badge).toHaveText('Connected', { timeout: 10_000 });
  await expect(page.getByTestId('events')).toContainText('reconnecting');

  // The delivery log lists the session events the gateway tried to deliver.
  await expect(page.getByTestId('deliveries')).toContainText('session');

  await page.getByRole('button', { name: 'Reveal' }).click();
  await expect(page.getByTestId('secret')).toHaveText(/^whsec_[A-Za-z0-9+/=]{40,}$/);

  await page.getByRole('button', { name: 'Disconnect' }).click();
  await expect(badge).toHaveText('Logged out');
  expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
});

test('the dashboard is usable on a phone-sized screen', async ({ page }) => {
  await page.setViewportSize({ width: 375, height: 740 });
  await login(page, 'e2euser', 'e2e-pass');
  await expect(page).toHaveURL(/\/dashboard$/);
  await expect(page.getByRole('button', { name: 'Connect Session' })).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: 'test-results/dashboard-phone.png', fullPage: true });
});
