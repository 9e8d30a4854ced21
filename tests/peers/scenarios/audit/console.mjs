// A privacy officer uses the console, then a citizen looks at their activity:
// /officer → filter by department and action → results → CSV download → a bad date (error
// summary) → unusual access → the language toggle (French console and unusual access); then the
// citizen's /me/activity → a record's proof page → the proof download → French. axe-core runs on
// every page.
//
// args: {base, officerCookie, citizenCookie, screenshots}
// Returns {pages: [{label, url, lang, h1, violations}], filteredRows, csv, errorSummary,
//          activityRows, proofJson}.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export default async ({ page, context, args, axe }) => {
  const { base, officerCookie, citizenCookie, screenshots } = args;
  const asWho = async (cookie) => {
    await context.clearCookies();
    await context.addCookies([{ name: 'tuo_session', value: cookie, url: base, httpOnly: true, sameSite: 'Lax' }]);
  };
  const pages = [];
  const out = {};
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
  };
  const download = async (link) => {
    const [file] = await Promise.all([page.waitForEvent('download'), link.click()]);
    return readFile(await file.path(), 'utf8');
  };

  // The officer.
  await asWho(officerCookie);
  await page.goto(`${base}/officer`);
  await check('console');
  await page.getByLabel('Department').selectOption('revenue-agency');
  await page.getByLabel('What happened').selectOption('release');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(/\/officer\?.*department=revenue-agency/);
  await check('console filtered');
  out.filteredRows = await page.locator('table tbody tr').count();
  out.csv = await download(page.getByRole('link', { name: 'CSV', exact: true }));

  await page.getByLabel('From (inclusive)').fill('last tuesday');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(/from=last/);
  out.errorSummary = (await page.locator('.alert-error').textContent()).trim();
  await check('console error');

  await page.getByRole('link', { name: 'Unusual access' }).first().click();
  await page.waitForURL(/\/officer\/unusual$/);
  await check('unusual');
  await page.getByRole('link', { name: 'Français' }).click();
  await page.waitForSelector('html[lang="fr"]');
  await page.waitForURL(/\/officer\/unusual$/);
  await check('unusual (fr)');
  await page.goto(`${base}/officer`);
  await check('console (fr)');
  await page.getByRole('link', { name: 'English' }).click();
  await page.waitForSelector('html[lang="en"]');

  // The citizen.
  await asWho(citizenCookie);
  await page.goto(`${base}/me/activity`);
  await check('activity');
  out.activityRows = await page.locator('table tbody tr').count();
  await page.getByRole('link', { name: /^Proof #/ }).first().click();
  await page.waitForURL(/\/me\/activity\/[0-9a-f-]+$/);
  await check('proof');
  out.proofJson = await download(page.getByRole('link', { name: /Download the record and its proof/ }));
  await page.getByRole('link', { name: 'Français' }).click();
  await page.waitForSelector('html[lang="fr"]');
  await check('proof (fr)');
  await page.goto(`${base}/me/activity`);
  await check('activity (fr)');
  return { pages, ...out };
};
