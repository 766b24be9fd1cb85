import { test, expect } from '@playwright/test';
import { ADMIN, basicAuth, login, post } from './helpers';

test('the admin panel manages users, shows server errors inline and status live', async ({ page, request }) => {
  page.on('dialog', (d) => d.accept());
  await login(page, 'admin', 'admin');
  await expect(page).toHaveURL(/\/admin$/);
  const users = page.getByTestId('users');
  await expect(users.locator('tr[data-user="admin"]')).toBeVisible();
  const notice = page.getByTestId('notice');

  await page.fill('#new-username', 'paneluser');
  await page.fill('#new-password', 'short');
  await page.getByRole('button', { name: 'Create user' }).click();
  await expect(notice).toHaveText(/^Invalid password field 'password' on json/);
  await page.fill('#new-password', 'panel-pass');
  await page.fill('#new-callback', 'ftp://example.com');
  await page.getByRole('button', { name: 'Create user' }).click();
  await expect(notice).toHaveText("Invalid url field 'callback_url' on json");
  await page.fill('#new-callback', '');
  await page.getByRole('button', { name: 'Create user' }).click();
  await expect(notice).toHaveText(/^Created paneluser \(id \d+\)$/);
  const row = users.locator('tr[data-user="paneluser"]');
  await expect(row).toContainText('paneluser');

  await row.getByRole('button', { name: 'Edit' }).click();
  await page.fill('#edit-session', 'panel-wa');
  await page.fill('#edit-callback', 'https://api.example.com/webhook');
  await page.getByRole('button', { name: 'Save session config' }).click();
  await expect(row).toContainText('panel-wa');
  await expect(row).toContainText('https://api.example.com/webhook');

  // The user's session changes show in the table live.
  await post(request, '/dashboard/start-session', basicAuth('paneluser', 'panel-pass'));
  await expect(row.getByTestId('user-status')).toHaveText('qr');
  await post(request, '/sim/sessions/panel-wa/scan', ADMIN);
  await expect(row.getByTestId('user-status')).toHaveText('connected');

  await row.getByRole('button', { name: 'Edit' }).click();
  await page.fill('#edit-session', 'renamed');
  await page.getByRole('button', { name: 'Save session config' }).click();
  await expect(notice).toHaveText("Session 'panel-wa' is running; disconnect it before renaming");
  await page.getByRole('button', { name: 'Cancel' }).click();

  await row.getByRole('button', { name: 'Delete' }).click();
  await expect(notice).toHaveText('Deleted paneluser');
  await expect(users.locator('tr[data-user="paneluser"]')).toHaveCount(0);
});

test('a user who opens the admin panel is sent to the dashboard', async ({ page, request }) => {
  await request.post('/admin/users', { headers: ADMIN, data: { username: 'plainuser', password: 'plain-pass' } });
  await login(page, 'plainuser', 'plain-pass');
  await expect(page).toHaveURL(/\/dashboard$/);
  await page.goto('/admin');
  await expect(page).toHaveURL(/\/dashboard$/);
});
