// A citizen answers a department's request in the browser, then withdraws the consent:
// requests list → the request → "Accept all" → the consent → its receipt (page and .jwt
// download) → "Withdraw this consent" → confirmation → withdrawn; then the language toggle and
// every consent page in French and English. axe-core runs on every page.
//
// args: {base, cookie, requestId, offer}
//   base       the broker's URL
//   cookie     the `tuo_session` cookie value of a signed-in citizen
//   requestId  the pending request to accept
//   offer      a `department:purpose` the citizen may consent to (for the "give" form)
//   screenshots  optional directory: a full-page PNG of every page checked
// Returns {pages: [{url, lang, h1, violations}], receipt, download, states, texts}.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export default async ({ page, context, args, axe }) => {
  const { base, cookie, requestId, offer, screenshots } = args;
  await context.addCookies([{
    name: 'tuo_session', value: cookie, url: base, httpOnly: true, sameSite: 'Lax',
  }]);
  const pages = [];
  const texts = {};
  if (screenshots) await mkdir(screenshots, { recursive: true });
  const check = async (label) => {
    const violations = await axe();
    const lang = await page.evaluate(() => document.documentElement.lang);
    const h1 = (await page.getByRole('heading', { level: 1 }).textContent()).trim();
    if (screenshots) {
      const name = `${String(pages.length).padStart(2, '0')}-${label.replace(/[^a-z0-9]+/gi, '-')}.png`;
      await page.screenshot({ path: join(screenshots, name), fullPage: true });
    }
    pages.push({
      label,
      url: page.url().replace(base, ''),
      lang,
      h1,
      violations: violations.map((v) => ({ id: v.id, nodes: v.nodes.map((n) => n.target.join(' ')) })),
    });
    return h1;
  };

  // The pending request, found from the list.
  await page.goto(`${base}/me/requests`);
  await check('requests');
  await page.getByRole('link', { name: /Answer the request from/ }).first().click();
  await page.waitForURL(new RegExp(`/me/requests/${requestId}$`));
  await check('request');

  // Accept all of it.
  await page.getByRole('button', { name: 'Accept all' }).click();
  await page.waitForURL(new RegExp(`/me/consents/${requestId}\\?done=granted$`));
  texts.granted = (await page.getByRole('status').textContent()).trim();
  await check('consent granted');

  // The receipt: as a page, then as a download.
  await page.getByRole('link', { name: 'View the receipt' }).click();
  await page.waitForURL(new RegExp(`/me/consents/${requestId}/receipt$`));
  await check('receipt');
  texts.receiptId = (await page.locator('dl.facts dd code').first().textContent()).trim();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: /Download the receipt/ }).click(),
  ]);
  const downloadPath = await download.path();
  const jws = (await readFile(downloadPath, 'utf8')).trim();

  // Withdraw, with the confirmation step.
  await page.getByRole('link', { name: 'Back to the consent' }).click();
  await page.getByRole('link', { name: 'Withdraw this consent' }).click();
  await page.waitForURL(new RegExp(`/me/consents/${requestId}/revoke$`));
  await check('revoke confirmation');
  await page.getByRole('button', { name: 'Yes, withdraw my consent' }).click();
  await page.waitForURL(new RegExp(`/me/consents/${requestId}\\?done=revoked$`));
  texts.revoked = (await page.getByRole('status').textContent()).trim();
  texts.stateEn = (await page.locator('dl.facts .badge').textContent()).trim();
  await check('consent revoked');

  // The language toggle: the same page in French.
  await page.getByRole('link', { name: 'Français' }).click();
  await page.waitForURL(new RegExp(`/me/consents/${requestId}\\?done=revoked$`));
  texts.revokedFr = (await page.getByRole('status').textContent()).trim();
  texts.stateFr = (await page.locator('dl.facts .badge').textContent()).trim();
  await check('consent revoked (fr)');

  // Every consent page in French, then back to English.
  const tour = [
    ['list', '/me/consents'],
    ['requests', '/me/requests'],
    ['give: step 1', '/me/consents/new'],
    ['give: step 2', `/me/consents/new?offer=${encodeURIComponent(offer)}`],
    ['receipt', `/me/consents/${requestId}/receipt`],
    ['request answered', `/me/requests/${requestId}`],
    ['revoke (not active)', `/me/consents/${requestId}/revoke`],
  ];
  for (const [label, path] of tour) {
    await page.goto(`${base}${path}`);
    await check(`${label} (fr)`);
  }
  await page.getByRole('link', { name: 'English' }).click();
  await page.waitForURL(new RegExp(`/me/requests/${requestId}/revoke$|/me/consents/${requestId}/revoke$`));
  for (const [label, path] of tour) {
    await page.goto(`${base}${path}`);
    await check(`${label} (en)`);
  }

  // A form error summary is accessible too: submit the "give" form with nothing selected.
  await page.goto(`${base}/me/consents/new?offer=${encodeURIComponent(offer)}`);
  await page.getByRole('button', { name: 'Give my consent' }).click();
  texts.formError = (await page.locator('.error-summary').textContent()).replace(/\s+/g, ' ').trim();
  await check('give: error summary');

  return { pages, jws, texts };
};
