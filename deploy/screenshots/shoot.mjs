// Screenshots of the Temporal Web UI for docs/operators.md, taken with playwright-core and
// Debian's chromium. Run by regenerate.sh against a stack it staged; reads:
//   UI_URL       Temporal Web UI, e.g. http://127.0.0.1:8233
//   STORE_API_URL, STORE_API_TOKEN   for the fault injection before the "retry now" shot
//   CALLS_JSON   ids of the staged calls (stage_calls.py --out)
//   CHROMIUM     the browser binary (default /usr/bin/chromium)
//   PROFILE_DIR  a fresh --user-data-dir
//   OUT_DIR      where the PNG files go
//   WORKER_PID   the stack's worker, paused for the "no worker" shot
//   CODEC_URL    the stack's codec server (the UI's --ui-codec-endpoint)
//   DENY_CODEC_URL  a codec server that allows no one: its answers stand in for the stack's
//                in the "not allowed" shot, as a browser the codec server refuses gets them
// The detail pages refresh themselves, so every shot waits for what it must show instead of
// for the network to go idle (and plain `chromium --screenshot` never returns on them).
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`shoot: ${name} is not set`);
  return value;
};
const UI = env('UI_URL');
const STORE_API = env('STORE_API_URL');
const TOKEN = env('STORE_API_TOKEN', 'voiceorder-dev-token');
const calls = JSON.parse(fs.readFileSync(env('CALLS_JSON'), 'utf8'));
const OUT = env('OUT_DIR');
const CODEC = env('CODEC_URL');
const DENY_CODEC = env('DENY_CODEC_URL');
const STUCK_QUERY = 'ExecutionStatus="Running" AND Attention!=""';
const OPERATOR = '{"operator": "Ирина"}';
const TIMEOUT = 30_000;
const CALL_COLUMNS = ['CallStage', 'Attention', 'OrderNumber', 'CallerPhone', 'CallOutcome'];
const WIDE = { width: 2000, height: 900 }; // the list with the call columns
const NARROW = { width: 1440, height: 900 }; // a call's page

fs.mkdirSync(OUT, { recursive: true });
const context = await chromium.launchPersistentContext(env('PROFILE_DIR'), {
  executablePath: env('CHROMIUM', '/usr/bin/chromium'),
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
  viewport: NARROW,
  locale: 'en-US',
  timezoneId: 'Europe/Moscow',
});
context.setDefaultTimeout(TIMEOUT);
const page = context.pages()[0] ?? (await context.newPage());

const visible = (locator) => locator.filter({ visible: true }).first();
const shot = async (name, what) => {
  const file = path.join(OUT, `${name}.png`);
  await page.waitForTimeout(400); // let transitions and fonts settle
  await page.screenshot({ path: file, ...what });
  console.log(`shoot: ${name}.png`);
};
const workflows = (query) =>
  `${UI}/namespaces/default/workflows${query ? `?query=${encodeURIComponent(query)}` : ''}`;
const callPage = (id) => `${UI}/namespaces/default/workflows/${id}`;
const rows = () => page.locator('table tbody tr').filter({ visible: true });

async function waitForRows(count) {
  await page.waitForFunction(
    (n) => [...document.querySelectorAll('table tbody tr')].filter((r) => r.offsetParent).length === n,
    count,
    { timeout: TIMEOUT },
  );
}

async function openTab(name) {
  await visible(page.getByTestId(`${name}-tab`)).click();
  await page.waitForURL(new RegExp(`/${name}`));
}

async function openUpdateDialog(name, data) {
  await visible(page.getByRole('button', { name: 'More Actions' })).click();
  await visible(page.getByTestId('update-button')).click();
  const modal = visible(page.getByTestId('update-confirmation-modal'));
  // The names come from the worker (a query): the dropdown exists only while one runs.
  await modal.getByTestId('update-select-button').click();
  await modal.getByRole('option', { name, exact: true }).click();
  await modal.locator('.cm-content').click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.insertText(data);
  return modal;
}

async function storeFaults(body) {
  const response = await fetch(`${STORE_API}/admin/faults`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`shoot: PUT /admin/faults answered ${response.status}`);
}

// 1. Configure Columns, once per browser: the call's search attributes as columns, right
// after the workflow id (a removed column comes back at the end when added again).
await page.setViewportSize(WIDE);
await page.goto(workflows(''), { waitUntil: 'domcontentloaded' });
await waitForRows(4);
await visible(page.getByTestId('workflows-summary-table-configuration-button')).click();
for (const column of ['Run ID', 'Type', 'Start', 'End']) {
  await visible(page.getByTestId(`orderable-list-item-${column}-remove-button`)).click();
}
for (const column of [...CALL_COLUMNS, 'Start']) {
  await visible(page.getByTestId(`orderable-list-item-${column}-add-button`)).click();
}
const drawerTitle = visible(page.getByText('Configure Workflows Table'));
await drawerTitle.scrollIntoViewIfNeeded();
await shot('configure-columns');
await page.keyboard.press('Escape');
await page.goto(workflows(''), { waitUntil: 'domcontentloaded' });
await waitForRows(4);
await visible(page.getByRole('columnheader', { name: 'CallOutcome' })).waitFor();
await shot('calls-list');

// 2. The stuck-call query, typed into the raw query box (the chips do not show `!= ""`).
await visible(page.getByTestId('toggle-manual-query')).click();
const queryBox = visible(page.locator('input#query, input[name="query"]'));
await queryBox.fill(STUCK_QUERY);
await queryBox.press('Enter');
await page.waitForURL(/query=/);
await waitForRows(1);
await visible(rows().getByText(calls.stuck.call_id)).waitFor();
await shot('stuck-calls');

// 3. The stuck call: User Metadata (summary and current details) and the Timeline.
// Both texts are Markdown, rendered by the UI into iframes.
await page.setViewportSize(NARROW);
await page.goto(callPage(calls.stuck.call_id), { waitUntil: 'domcontentloaded' });
await openTab('user-metadata');
await visible(page.frameLocator('#user-metadata-summary').getByText('Call from')).waitFor();
await page.waitForFunction(
  (order) => [...document.querySelectorAll('iframe')].some((f) => f.src.includes(`order%20${order}`)),
  calls.stuck.order,
);
await page.waitForTimeout(1000); // the iframes size themselves to their content
await shot('call-user-metadata');

await openTab('timeline');
await visible(page.getByText(`confirm order ${calls.stuck.order} (round 2)`, { exact: false })).waitFor();
await visible(page.getByRole('heading', { name: 'Timeline' })).evaluate((heading) => {
  heading.scrollIntoView({ block: 'start' });
  window.scrollBy(0, -24);
});
await shot('call-timeline');

// 4. An update that does not apply is refused with a message (no history event).
await openUpdateDialog('operator_resend_sms', OPERATOR).then((modal) =>
  modal.getByTestId('confirm-modal-button').click(),
);
await visible(page.getByText('never confirmed', { exact: false })).waitFor();
await shot('update-refused');
await page.keyboard.press('Escape');
await page.reload({ waitUntil: 'domcontentloaded' });

// 5. Send an Update → operator_retry_now. Make the Store API hang first, so the round the
// update starts is still in flight on the Pending Activities tab a moment later.
const modal = await openUpdateDialog('operator_retry_now', OPERATOR);
await shot('send-update');
await storeFaults({ latency_ms: 60000, error_rate: 1.0, path_glob: '/orders/*/confirm' });
await modal.getByTestId('confirm-modal-button').click();
await visible(page.getByText('Update successful')).waitFor();
await openTab('pending-activities');
await visible(page.getByText('confirm_order').or(page.getByText('No Pending Activities'))).waitFor();
await page.reload({ waitUntil: 'domcontentloaded' });
await visible(page.getByText('confirm_order')).waitFor();
await shot('pending-activities');

// 6. No worker: the worker is paused (SIGSTOP) for one shot. The summary is stored with the
// workflow; the current details come from the worker and go blank, with no error.
const worker = Number(env('WORKER_PID'));
process.kill(worker, 'SIGSTOP');
try {
  await openTab('user-metadata');
  await page.reload({ waitUntil: 'domcontentloaded' });
  await visible(page.frameLocator('#user-metadata-summary').getByText('Call from')).waitFor();
  await page.waitForTimeout(8000); // the UI gives up on the worker's answer quietly
  await shot('no-worker-user-metadata');
} finally {
  process.kill(worker, 'SIGCONT');
}

// 7. Encrypted call data: the stuck call's start input, decrypted by the codec server for an
// allowed operator, and as stored (ciphertext) for anyone the codec server refuses.
await openTab('timeline');
await page.reload({ waitUntil: 'domcontentloaded' });
await visible(page.getByText('"caller_number"')).waitFor();
await page.evaluate(() => window.scrollTo(0, 0));
await shot('call-decrypted');

await page.route(`${CODEC}/**`, (route) =>
  route.continue({ url: route.request().url().replace(CODEC, DENY_CODEC) }),
);
await page.reload({ waitUntil: 'domcontentloaded' });
await visible(page.getByText('Codec Server could not connect')).waitFor();
await page.waitForTimeout(2000); // every panel has had its refusal
await page.evaluate(() => window.scrollTo(0, 0));
await shot('call-encrypted');
await page.unroute(`${CODEC}/**`);

await context.close();
