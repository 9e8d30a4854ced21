// A scenario that fails on purpose, to show the runner's exit status and screenshot.
export default async ({ page, args }) => {
  await page.goto(args.url);
  await page.getByText('This text is not on the page').click({ timeout: 2000 });
};
