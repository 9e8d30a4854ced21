// A department's web application (rp.mjs, openid-client) signs a citizen in through the broker as
// its OpenID Provider, in the browser: for each flow the application pushes its request, the
// browser follows the authorization URL, signs in at the upstream provider when the broker sends
// it to /signin, reaches the consent screen — in the flow's language, switched with the page's
// language toggle — where axe-core runs, and approves; the application's callback then exchanges
// the code (rp.mjs records what it got; the Rust side reads its status).
//
// args: {broker, rp, providerLink, account, flows: [{label, lang, request}]}
//   broker        the broker's URL
//   rp            rp.mjs's URL
//   providerLink  the sign-in page's link to the upstream provider ("Sign in with bank (EN)")
//   account       the upstream account, typed in its login form if it shows one
//   flows         in order; `request` is rp.mjs's /control/authorize body
// Returns {screens: [{label, lang, h1, text, violations}], flows: [{label, state, landed}], cookies}.
const summary = (violations) => violations.map((v) => ({ id: v.id, nodes: v.nodes.map((n) => n.target.join(' ')) }));

export default async ({ page, context, args, axe }) => {
  const { broker, rp, providerLink, account, flows } = args;
  const screens = [];
  const results = [];
  const approve = page.locator('button[name="decision"][value="approve"]');
  const atCallback = (url) => url.href.startsWith(`${rp}/callback`);

  for (const flow of flows) {
    const pushed = await (await fetch(`${rp}/control/authorize`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(flow.request),
    })).json();
    if (!pushed.url) throw new Error(`${flow.label}: the application could not push its request: ${JSON.stringify(pushed)}`);
    await page.goto(pushed.url);

    // Sign in when the broker asks for it (the first flow of a browser without a session).
    if (new URL(page.url()).pathname === '/signin') {
      await page.getByRole('link', { name: providerLink }).click();
      await page.waitForURL((url) => url.href.startsWith(broker) || url.pathname.includes('interaction'));
      if (!page.url().startsWith(broker)) {
        await page.locator('input[name="login"]').fill(account);
        await page.locator('input[name="password"]').fill('any password');
        await page.getByRole('button', { name: 'Sign-in' }).click();
      }
    }
    await approve.waitFor({ timeout: 30000 });

    // The consent screen in the flow's language, through the page's own toggle.
    const lang = () => page.evaluate(() => document.documentElement.lang);
    if ((await lang()) !== flow.lang) {
      await page.locator('nav.lang-toggle a').click();
      await page.waitForFunction((want) => document.documentElement.lang === want, flow.lang);
      await page.waitForLoadState();
      await approve.waitFor();
    }
    screens.push({
      label: flow.label,
      lang: await lang(),
      url: page.url().replace(broker, ''),
      h1: (await page.getByRole('heading', { level: 1 }).textContent()).trim(),
      text: (await page.locator('main').innerText()).replace(/\s+/g, ' ').trim(),
      approveLabel: (await approve.textContent()).trim(),
      refuseLabel: (await page.locator('button[name="decision"][value="refuse"]').textContent()).trim(),
      violations: summary(await axe()),
    });

    await Promise.all([page.waitForURL(atCallback, { timeout: 30000 }), approve.click()]);
    results.push({
      label: flow.label,
      state: pushed.state,
      landed: (await page.getByRole('heading', { level: 1 }).textContent()).trim(),
    });
  }
  const cookies = (await context.cookies(broker)).map((c) => ({ name: c.name, value: c.value }));
  return { screens, flows: results, cookies };
};
