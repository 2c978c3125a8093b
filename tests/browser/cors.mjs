// A page on another origin calls the local gateway from Debian's Chromium,
// as a front-end dev server on :3001 would call the API. The gateway must
// apply template.yaml's CorsConfiguration as API Gateway does: the page on
// an allowed origin reads a GET and a JSON POST (which needs a preflight);
// a page on an origin outside AllowedOrigins is refused by the browser.
//
//   node cors.mjs <gateway base URL> <allowed page port> <other page port>
import http from "node:http";
import { chromium } from "playwright-core";

const [gateway, allowedPort, otherPort] = process.argv.slice(2);
const page = `<!doctype html><meta charset="utf-8"><title>cors</title><script type="module">
  const api = ${JSON.stringify(gateway)};
  const outcome = async (request) => { try { return (await request()).status; } catch { return "blocked"; } };
  window.results = {
    get: await outcome(() => fetch(api + "/events")),
    post: await outcome(() => fetch(api + "/auth/login", { method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "nobody@example.test", password: "not-the-password-1" }) })),
  };
</script>`;
const servers = [allowedPort, otherPort].map((port) =>
  http.createServer((_, res) => res.writeHead(200, { "content-type": "text/html" }).end(page)).listen(Number(port), "127.0.0.1"));

let passed = 0, failed = 0;
const check = (name, ok, detail) => {
  if (ok) { passed++; console.log(`  ✓ ${name}`); } else { failed++; console.log(`  ✗ ${name}: ${detail}`); }
};
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const resultsFrom = async (port) => {
    const tab = await browser.newPage();
    await tab.goto(`http://localhost:${port}/`);
    await tab.waitForFunction(() => window.results !== undefined, null, { timeout: 30_000 });
    const results = await tab.evaluate(() => window.results);
    await tab.close();
    return results;
  };
  const allowed = await resultsFrom(allowedPort);
  check("an allowed origin reads GET /events", allowed.get === 200, JSON.stringify(allowed));
  check("an allowed origin's JSON POST passes its preflight (401 for a wrong password)", allowed.post === 401, JSON.stringify(allowed));
  const other = await resultsFrom(otherPort);
  check("another origin's GET is refused by the browser", other.get === "blocked", JSON.stringify(other));
  check("another origin's JSON POST is refused at the preflight", other.post === "blocked", JSON.stringify(other));
} finally {
  await browser.close();
  servers.forEach((server) => server.close());
}
console.log(`browser checks: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
