// `broker demo`'s sample department application in headless Chromium (issue 14, "Done when"):
// open the pension form, sign in with Tell Us Once, pick the development bank provider and
// Alice there, agree on the broker's consent screen, and read the filled form; then the form in
// French, and sign out. axe-core checks the sample's pages. Args: {app, broker}.
const summary = (violations) => violations.map((v) => ({ id: v.id, targets: v.nodes.map((n) => n.target) }));

const form = async (page, labels) => {
  const out = {};
  for (const [claim, label] of Object.entries(labels)) {
    out[claim] = await page.getByLabel(label, { exact: true }).inputValue();
  }
  return out;
};

const LABELS = { given_name: 'Given name', family_name: 'Family name', birthdate: 'Date of birth', address: 'Address' };

export default async ({ page, args, axe }) => {
  const result = {};
  await page.goto(`${args.app}/`);
  result.banner = await page.getByRole('note').innerText();
  result.before = await form(page, LABELS);
  result.formViolations = summary(await axe());

  await page.getByRole('button', { name: 'Sign in with Tell Us Once' }).click();
  await page.waitForURL((url) => !url.href.startsWith(args.app));
  result.pages = [page.url()];
  // The broker asks the citizen to sign in: its provider list, unless it goes straight on.
  if (page.url().startsWith(`${args.broker}/signin`)) {
    await Promise.all([
      page.waitForURL((url) => !url.href.startsWith(args.broker)),
      page.getByRole('link', { name: 'Sign in with Bank sign-in partner (development)' }).click(),
    ]);
    result.pages.push(page.url());
  }
  await page.getByLabel(/Alice Tremblay/).check();
  await Promise.all([
    page.waitForURL((url) => url.href.startsWith(`${args.broker}/oauth2/interaction/`)),
    page.getByRole('button', { name: /^Sign in/ }).click(),
  ]);
  result.pages.push(page.url());
  result.consentHeading = await page.getByRole('heading', { level: 1 }).innerText();
  await Promise.all([
    page.waitForURL((url) => url.href === `${args.app}/`),
    page.locator('button[name=decision][value=approve]').click(),
  ]);
  result.after = await form(page, LABELS);
  result.sources = {};
  for (const claim of Object.keys(LABELS)) {
    result.sources[claim] = await page.locator(`#${claim}-source`).innerText();
  }
  result.filledViolations = summary(await axe());

  await page.getByRole('link', { name: 'Français' }).click();
  await page.waitForURL((url) => url.href === `${args.app}/?lang=fr`);
  result.frenchHeading = await page.getByRole('heading', { level: 1 }).innerText();
  result.french = await form(page, { given_name: 'Prénom', family_name: 'Nom de famille' });
  result.frenchViolations = summary(await axe());
  await page.getByRole('link', { name: 'English' }).click();
  await page.waitForURL((url) => url.href === `${args.app}/?lang=en`);

  // RP-initiated logout: through the broker's end-session endpoint and back, the form emptied.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((url) => url.href === `${args.app}/`);
  result.signedOut = await page.getByRole('status').innerText();
  result.afterLogout = await form(page, LABELS);
  return result;
};
