// The holder portal and the officers' console end to end in headless Chromium (Debian's /usr/bin/chromium, driven
// by playwright-core), started by tests/browser_e2e.rs with a JSON config as its one argument:
//   {"base": "http://127.0.0.1:PORT", "screenshots": "DIR", "holder": {...}, "officer": {...}}
// What only the test can know (the codes the server sends, the officer's current TOTP code) the script asks for
// on stdout, one JSON line `{"need": "..."}`, and reads the answer as one JSON line on stdin. Each main page is
// saved as a PNG under `screenshots`, checked with axe-core (no serious or critical violation) and for console
// errors. The last line on stdout is `{"step": "done", "pages": [...]}`; any failure exits 1 with the reason on
// stderr.
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const config = JSON.parse(process.argv[2]);
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
mkdirSync(config.screenshots, { recursive: true });

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function ask(need) {
  process.stdout.write(JSON.stringify({ need }) + '\n');
  const { value, done } = await lines.next();
  if (done) throw new Error(`stdin closed while waiting for ${need}`);
  return JSON.parse(value).value;
}

function fail(message) {
  throw new Error(message);
}

const browser = await chromium.launch({
  executablePath: config.chromium || '/usr/bin/chromium',
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync',
  ],
});
const checked = [];
try {
  const context = await browser.newContext();
  const consoleErrors = [];
  // Every error a page logs (a blocked resource, a script error) fails the run at the next check.
  function watch(p) {
    p.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(`${p.url()}: ${message.text()}`);
    });
    p.on('pageerror', (error) => consoleErrors.push(`${p.url()}: ${error.message}`));
    return p;
  }
  const page = watch(await context.newPage());

  // A main page: its screenshot, no serious or critical axe violation, no console error so far. A page that
  // answers a refusal on purpose (a locked holder's sign-in is 403) names that status: Chromium logs the status
  // of such a document as an error, which is then the page's answer, not a fault of it.
  async function check(p, name, refusalStatus) {
    if (refusalStatus) {
      const expected = `Failed to load resource: the server responded with a status of ${refusalStatus}`;
      const others = consoleErrors.filter((e) => !e.includes(expected));
      consoleErrors.length = 0;
      consoleErrors.push(...others);
    }
    await p.screenshot({ path: `${config.screenshots}/${name}.png`, fullPage: true });
    // Evaluated through the DevTools protocol, so the pages' strict Content-Security-Policy does not stop it.
    await p.evaluate(axeSource);
    const results = await p.evaluate(async () => await globalThis.axe.run(document, { resultTypes: ['violations'] }));
    const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    if (bad.length > 0) {
      const said = bad.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      fail(`${name}: axe found ${bad.length} serious or critical violation(s):\n${said.join('\n')}`);
    }
    if (consoleErrors.length > 0) fail(`${name}: console errors: ${consoleErrors.join('; ')}`);
    const lang = await p.getAttribute('html', 'lang');
    checked.push({ name, url: p.url(), lang, other_violations: results.violations.map((v) => `${v.id} (${v.impact})`) });
  }

  async function expectText(p, text, where) {
    const body = await p.textContent('body');
    if (!body.includes(text)) fail(`${where}: expected "${text}" on ${p.url()}, got: ${body.slice(0, 2000)}`);
  }

  const { holder, officer } = config;

  // Register, activate with the code from the dev inbox.
  await page.goto(`${config.base}/portal`);
  await check(page, '01-welcome');
  // The server's own stylesheet applies (the pages' CSP allows it, and only it).
  const headerColour = await page.evaluate(() => getComputedStyle(document.querySelector('header')).backgroundColor);
  if (headerColour !== 'rgb(11, 83, 148)') fail(`the stylesheet did not apply: the header is ${headerColour}`);
  // The other pages a stranger reaches, and one in English (the switch, remembered, then switched back).
  await page.click('a#lost-phone');
  await check(page, '01b-lost-phone');
  await page.goto(`${config.base}/portal?lang=en`);
  await expectText(page, 'Your e-ID account', 'the English switch');
  await check(page, '01c-welcome-en');
  await page.goto(`${config.base}/portal/register`);
  if ((await page.getAttribute('html', 'lang')) !== 'en') fail('the English choice was not remembered');
  await check(page, '01d-register-en');
  await page.goto(`${config.base}/portal?lang=vi`);
  await page.click('a#register');
  await check(page, '02-register');
  await page.check('#kind-citizen');
  await page.fill('#id-number', holder.id_number);
  await page.fill('#full-name', holder.full_name);
  await page.fill('#date-of-birth', holder.date_of_birth);
  await page.selectOption('#gender', holder.gender);
  await page.fill('#phone', holder.phone);
  await page.fill('#password', holder.password);
  await page.click('button#register');
  await expectText(page, 'Mã kích hoạt đã được gửi', 'registration');
  await check(page, '03-activation');
  await page.fill('#code', await ask('activation_code'));
  await page.click('button#activate');
  await expectText(page, 'Tài khoản đã được kích hoạt', 'activation');
  await check(page, '04-activated');

  // Sign in through the provider's own pages, as every relying party does.
  async function signIn(consent) {
    await page.click('a#sign-in');
    await page.fill('#id-number', holder.id_number);
    await page.fill('#password', holder.password);
    await page.click('button[type=submit]');
    await page.fill('#code', await ask('sign_in_code'));
    await page.click('button[type=submit]');
    if (consent) {
      await check(page, '05-consent');
      await page.click('button[value=allow]');
    }
  }
  await signIn(true);
  await expectText(page, 'Tài khoản của bạn', 'sign-in');
  await expectText(page, 'Đang hoạt động', 'sign-in');
  await check(page, '07-account');

  // Lock my account: one click and a confirmation.
  await page.click('a#lock-my-account');
  await check(page, '08-lock-confirm');
  await page.fill('#reason', 'Mất điện thoại / lost my phone');
  await page.click('button#confirm-lock');
  await expectText(page, 'Tài khoản đã bị khoá', 'lock');
  await check(page, '09-locked');

  // Signing in is refused with the lock's explanation.
  await page.goto(`${config.base}/portal`);
  await page.click('a#sign-in');
  await page.fill('#id-number', holder.id_number);
  await page.fill('#password', holder.password);
  await page.click('button[type=submit]');
  await expectText(page, 'khóa theo yêu cầu của chủ tài khoản', 'a locked sign-in');
  await check(page, '10-sign-in-refused', 403);

  // File an unlock request with a reason (a restore sign-in: the provider refuses locked holders).
  await page.goto(`${config.base}/portal`);
  await page.click('a#restore');
  await check(page, '11-restore');
  await page.fill('#id-number', holder.id_number);
  await page.fill('#password', holder.password);
  await page.click('button#continue');
  await page.fill('#code', await ask('sign_in_code'));
  await page.click('button#confirm');
  await expectText(page, 'Bạn đang đăng nhập để mở khoá', 'restore');
  await check(page, '12-restore-account');
  await page.fill('textarea[name=reason]', 'Đã tìm lại điện thoại / found my phone');
  await page.click('form[action="/portal/unlock"] button[type=submit]');
  await expectText(page, 'Đã gửi yêu cầu mở khoá', 'unlock request');
  await check(page, '13-unlock-filed');
  const tracking = (await page.textContent('#tracking-code')).split(': ').pop().trim();

  // Follow it by tracking code.
  await page.goto(`${config.base}/portal/track`);
  await page.fill('#tracking-code', tracking);
  await page.fill('#id-number', holder.id_number);
  await page.click('button#track');
  await expectText(page, 'đã tiếp nhận', 'tracking');
  await check(page, '14-track');

  // An officer approves it in the console, recording the in-person check.
  if (officer) {
    const desk = watch(await context.newPage());
    await desk.goto(`${config.base}/console`);
    await check(desk, '15-console-sign-in');
    for (const [selector, value] of Object.entries(officer.sign_in_fields)) {
      await desk.fill(selector, value === '$totp' ? await ask('totp') : value);
    }
    await desk.click(officer.sign_in_button);
    await desk.goto(`${config.base}/console/requests`);
    await check(desk, '16-console-queue');
    await desk.click(`text=${tracking}`);
    await check(desk, '17-console-request');
    for (const step of officer.steps) {
      for (const [selector, value] of Object.entries(step.fields || {})) await desk.fill(selector, value);
      await desk.click(step.button);
    }
    await expectText(desk, officer.approved_text, 'console approval');
    await check(desk, '18-console-approved');
    await desk.goto(`${config.base}/console/dashboard`);
    await check(desk, '19-console-dashboard');
    await desk.goto(`${config.base}/console/accounts?id_number=${holder.id_number}`);
    await expectText(desk, holder.full_name, 'console account lookup');
    await check(desk, '19b-console-account');
  }

  // Sign in works again.
  await page.goto(`${config.base}/portal`);
  await signIn(false);
  await expectText(page, 'Đang hoạt động', 'sign-in after the lift');
  await check(page, '20-account-again');

  process.stdout.write(JSON.stringify({ step: 'done', pages: checked }) + '\n');
} catch (error) {
  process.stderr.write(`${error.stack || error}\n`);
  process.stdout.write(JSON.stringify({ step: 'failed', error: String(error.message || error), pages: checked }) + '\n');
  process.exitCode = 1;
} finally {
  await browser.close();
  process.stdin.destroy();
}
