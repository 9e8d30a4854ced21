// The citizen's notices and their e-mail digest in the browser.
//   step "choose":  /me/notices/digest → "Every week", French → Save → the saved page.
//   step "notices": /me/notices (a department's use of her data listed, marked new) → its
//                   record page.
// axe-core runs on every page.
//
// args: {base, cookie, step}
// Returns {pages: [{label, url, lang, h1, violations}], texts}.
export default async ({ page, context, args, axe }) => {
  const { base, cookie, step } = args;
  await context.addCookies([{
    name: 'tuo_session', value: cookie, url: base, httpOnly: true, sameSite: 'Lax',
  }]);
  const pages = [];
  const texts = {};
  const check = async (label) => {
    const violations = await axe();
    const lang = await page.evaluate(() => document.documentElement.lang);
    const h1 = (await page.getByRole('heading', { level: 1 }).textContent()).trim();
    pages.push({
      label,
      url: page.url().replace(base, ''),
      lang,
      h1,
      violations: violations.map((v) => ({ id: v.id, nodes: v.nodes.map((n) => n.target.join(' ')) })),
    });
  };

  if (step === 'choose') {
    await page.goto(`${base}/me/notices`);
    await check('notices');
    await page.getByRole('link', { name: 'Get my notices by e-mail' }).click();
    await page.waitForURL(/\/me\/notices\/digest$/);
    await check('digest settings');
    texts.address = (await page.locator('main').textContent()).includes('Summaries go to');
    await page.getByLabel(/Every week/).check();
    await page.getByLabel('Language of the e-mail').selectOption('fr');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(/\/me\/notices\/digest\?saved=true$/);
    texts.saved = (await page.getByRole('status').textContent()).trim();
    texts.weeklyChecked = await page.getByLabel(/Every week/).isChecked();
    texts.lang = await page.getByLabel('Language of the e-mail').inputValue();
    await check('digest saved');
    return { pages, texts };
  }

  if (step === 'notices') {
    await page.goto(`${base}/me`);
    texts.dashboard = (await page.locator('main').textContent()).replace(/\s+/g, ' ');
    await page.goto(`${base}/me/notices`);
    await check('notices');
    texts.notices = (await page.locator('ul.notices').textContent()).replace(/\s+/g, ' ').trim();
    texts.newBadges = await page.locator('.badge-new').count();
    await page.getByRole('link', { name: 'See the record and its proof' }).first().click();
    await page.waitForURL(/\/me\/activity\/[^/]+$/);
    texts.record = page.url().replace(base, '');
    await check('record');
    return { pages, texts };
  }
  throw new Error(`unknown step ${step}`);
};
