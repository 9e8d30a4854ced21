// Delegation in the browser: Alice offers a delegation on "My delegations" and reads its
// one-time code; Bob, signed in as himself, accepts it, chooses "Act for Alice", sees the banner
// in English and French, and updates her address (form → preview → confirm); Alice sees the act
// on her activity page and ends the delegation; Bob's next page is refused. axe-core runs on
// every page.
//
// args: {base, alice, bob, label}
//   base   the broker's URL
//   alice  the `tuo_session` cookie of the delegator
//   bob    the `tuo_session` cookie of the delegate
//   label  the name Alice gives herself in the delegation
// Returns {pages: [{label, url, lang, h1, violations}], texts, delegationId}.
export default async ({ page, context, args, axe }) => {
  const { base, alice, bob, label } = args;
  const as = async (cookie) => {
    await context.clearCookies();
    await context.addCookies([{
      name: 'tuo_session', value: cookie, url: base, httpOnly: true, sameSite: 'Lax',
    }]);
  };
  const pages = [];
  const texts = {};
  const check = async (name) => {
    const violations = await axe();
    const lang = await page.evaluate(() => document.documentElement.lang);
    const h1 = (await page.getByRole('heading', { level: 1 }).textContent()).trim();
    pages.push({
      label: name,
      url: page.url().replace(base, ''),
      lang,
      h1,
      violations: violations.map((v) => ({ id: v.id, nodes: v.nodes.map((n) => n.target.join(' ')) })),
    });
  };
  const banner = async () => {
    const b = page.locator('.acting-banner strong');
    return (await b.count()) ? (await b.textContent()).trim() : null;
  };

  // Alice offers: she may be seen and her address changed, for 30 days.
  await as(alice);
  await page.goto(`${base}/me/delegations`);
  await check('delegations (alice)');
  await page.getByLabel('Your name as they will see it').fill(label);
  await page.getByLabel('Change information').check();
  await page.locator('#attribute-address').check();
  await page.locator('#purpose-benefit-eligibility').check();
  await page.getByLabel(/For how many days/).fill('30');
  await page.getByRole('button', { name: 'Create the invitation' }).click();
  const code = (await page.locator('#invitation-code').textContent()).trim();
  await check('invitation (alice)');
  texts.aliceBannerBefore = await banner();

  // Bob accepts it, signed in as himself, and acts for her.
  await as(bob);
  await page.goto(`${base}/me/delegations/accept`);
  await check('accept (bob)');
  await page.getByLabel('Invitation code').fill(code);
  await page.getByRole('button', { name: 'Accept' }).click();
  await page.waitForURL(/\/me\/acting-for$/);
  await check('acting for (bob)');
  await page.getByRole('button', { name: `Act for ${label}` }).click();
  await page.waitForURL(/\/me\/information$/);
  texts.bannerEn = await banner();
  await check('her information (bob, en)');
  await page.getByRole('link', { name: 'Français' }).click();
  await page.waitForURL(/\/me\/information$/);
  texts.bannerFr = await banner();
  await check('her information (bob, fr)');
  await page.getByRole('link', { name: 'English' }).click();
  await page.waitForURL(/\/me\/information$/);

  // Her new address, entered once by Bob.
  await page.goto(`${base}/me/update`);
  texts.bannerUpdate = await banner();
  await check('update (bob)');
  await page.locator('#street_address').fill('77 Elm Street');
  await page.locator('#locality').fill('Ottawa');
  await page.locator('#region').fill('ON');
  await page.locator('#postal_code').fill('K1A 0B1');
  await page.locator('#country').fill('CA');
  await page.locator('#street_address').press('Enter');
  await page.waitForURL(/\/me\/update\/preview$/);
  await check('preview (bob)');
  await page.getByRole('button', { name: 'Confirm and send' }).click();
  await page.waitForURL(/\/me\/updates\//);
  await check('status (bob)');

  // Alice sees the act in her activity, done by a representative, and ends the delegation.
  await as(alice);
  // Records reach the log within seconds (docs/audit.md): look until the change is there.
  for (let i = 0; i < 40; i += 1) {
    await page.goto(`${base}/me/activity`);
    texts.activity = (await page.locator('main').textContent()).replace(/\s+/g, ' ');
    if (texts.activity.includes('Life event reported')) break;
    await page.waitForTimeout(250);
  }
  await check('activity (alice)');
  await page.goto(`${base}/me/delegations`);
  const row = page.locator('tr[data-delegation]').first();
  const delegationId = await row.getAttribute('data-delegation');
  await row.getByRole('button', { name: 'End' }).click();
  await page.waitForURL(/\/me\/delegations$/);
  texts.stateAfterEnd = (await page.locator('tr[data-delegation] td').nth(1).textContent()).trim();

  // Bob's next request under it is refused at once.
  await as(bob);
  const refused = await page.goto(`${base}/me/information`);
  texts.refusedStatus = refused.status();
  texts.refused = (await page.locator('main').textContent()).replace(/\s+/g, ' ').trim();
  return { pages, texts, delegationId };
};
