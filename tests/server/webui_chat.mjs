// webui_chat.mjs BASE_URL QUESTION - the server's chat page in headless
// Chromium (Debian's, driven by playwright-core; tests/test_server.c): sets
// a system prompt, temperature 0, a token limit, types QUESTION, presses
// Enter and waits for the streamed reply; prints {"answer", "stats",
// "done", "error"}.
import { chromium } from "playwright-core";

const [base, question] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--headless=new"],
});
try {
  const page = await browser.newPage();
  await page.goto(base + "/");
  await page.fill("#system", "You are a helpful assistant.");
  await page.fill("#temperature", "0");
  await page.fill("#max_tokens", "24");
  await page.fill("#input", question);
  await page.press("#input", "Enter");
  const deadline = Date.now() + 20000;
  let done = false;
  while (!done && Date.now() < deadline) {
    done = await page.evaluate(() => {
      const el = document.querySelector(".assistant");
      return el !== null && el.dataset.done === "1";
    });
    if (!done) await page.waitForTimeout(5);
  }
  const answer = await page.textContent(".assistant");
  const stats = await page.textContent("#stats");
  const error = await page.$(".assistant.error");
  console.log(JSON.stringify({ answer, stats, done, error: error !== null }, null, 1));
} finally {
  await browser.close();
}
