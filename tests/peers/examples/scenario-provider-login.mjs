// Signs in at provider.mjs through its login form, as a citizen would (no
// login_hint): open args.authUrl, type args.account, submit, and wait for the
// redirect to args.redirectPrefix. Returns the callback's query parameters.
export default async ({ page, args }) => {
  await page.goto(args.authUrl);
  await page.locator('input[name="login"]').fill(args.account);
  await page.locator('input[name="password"]').fill('any password');
  await Promise.all([
    page.waitForURL((url) => url.href.startsWith(args.redirectPrefix)),
    page.getByRole('button', { name: 'Sign-in' }).click(),
  ]);
  return Object.fromEntries(new URL(page.url()).searchParams);
};
