// Loads the realtime app's web console in headless Chromium (Debian's /usr/bin/chromium)
// and waits, bounded, until it shows every expected client and each client's health has
// been updated live at least once on the open page. Prints a JSON summary; a screenshot
// goes to the path given.
//   node console.mjs URL CLIENTS(comma-separated) SCREENSHOT.png
import { chromium } from "playwright-core";

const [url, clientList, shot] = process.argv.slice(2);
const expected = clientList.split(",");
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  await page.goto(url, { timeout: 15000 });
  await page.waitForSelector("#status.up", { timeout: 15000 });
  const rows = () => page.$$eval("tr.client", (trs) =>
    Object.fromEntries(trs.map((r) => [r.dataset.client, { seq: +r.dataset.seq, text: r.innerText }])));
  await page.waitForFunction((want) => want.every((c) =>
    document.querySelector(`tr.client[data-client="${c}"]`)), expected, { timeout: 20000 });
  const first = await rows();
  await page.waitForFunction(({ want, before }) => want.every((c) => {
    const r = document.querySelector(`tr.client[data-client="${c}"]`);
    return r && +r.dataset.seq > before[c].seq;
  }), { want: expected, before: first }, { timeout: 20000 });
  const second = await rows();
  const events = +(await page.textContent("#events"));
  const node = await page.textContent("#node");
  await page.screenshot({ path: shot, fullPage: true });
  console.log(JSON.stringify({ first, second, events, node }));
} finally {
  await browser.close();
}
