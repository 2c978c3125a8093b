// Builds the web app into dist/: one JS bundle and one stylesheet, named by
// their content hash (so the gateway and CloudFront may cache them for
// ever), and index.html pointing at them. Prints each file's gzipped size
// against the first page's budget (100 KB of JavaScript, gzipped).
import { build, context } from "esbuild";
import { gzipSync } from "node:zlib";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename } from "node:path";

const BUDGET_GZIP_BYTES = 100 * 1024;
const watch = process.argv.includes("--watch");

const options = {
  entryPoints: { app: "src/main.tsx" },
  bundle: true,
  minify: !watch,
  sourcemap: watch ? "inline" : false,
  format: "esm",
  target: ["chrome110", "firefox115", "safari16"],
  jsx: "automatic",
  jsxImportSource: "preact",
  entryNames: "assets/[name]-[hash]",
  outdir: "dist",
  metafile: true,
  logLevel: "warning",
  plugins: [{ name: "index-html", setup: (b) => b.onEnd(writeIndex) }],
};

function writeIndex(result) {
  if (result.errors.length) return;
  const outputs = Object.keys(result.metafile.outputs);
  const js = outputs.find((f) => f.endsWith(".js"));
  const css = outputs.find((f) => f.endsWith(".css"));
  const page = readFileSync("src/index.html", "utf8")
    .replace("%APP_JS%", "/" + js.replace(/^dist\//, ""))
    .replace("%APP_CSS%", "/" + css.replace(/^dist\//, ""));
  writeFileSync("dist/index.html", page);
  for (const file of [js, css]) {
    const gz = gzipSync(readFileSync(file)).length;
    const note = file === js ? ` (budget ${BUDGET_GZIP_BYTES / 1024} KB)` : "";
    console.log(`  ${basename(file)}: ${(gz / 1024).toFixed(1)} KB gzipped${note}`);
    if (file === js && gz > BUDGET_GZIP_BYTES && !watch) {
      console.error("the first page's JavaScript is over its budget");
      process.exitCode = 1;
    }
  }
}

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist", { recursive: true });
if (watch) {
  const ctx = await context(options);
  await ctx.watch();
  console.log("watching web/src; the gateway serves web/dist on :3000");
} else {
  await build(options);
}
