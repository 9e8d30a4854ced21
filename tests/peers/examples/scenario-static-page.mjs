// A trivial browser scenario (for run-browser-script.mjs): open a page, fill
// a labelled field, submit, and report the heading, the landing URL and the
// WCAG 2.1 A/AA violations axe found on the form page.
export default async ({ page, args, axe }) => {
  await page.goto(args.url);
  const heading = await page.getByRole('heading', { level: 1 }).textContent();
  const violations = await axe();
  await page.getByLabel('Given name').fill(args.name ?? 'Alice');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(/\/thanks/);
  return {
    heading,
    landed: page.url(),
    greeting: await page.getByRole('heading', { level: 1 }).textContent(),
    violations: violations.map((v) => v.id),
  };
};
