#!/usr/bin/env node
// The d2l-ts command. The TypeScript sources are compiled to dist/ by `npm run build`.
const path = require("path");
const fs = require("fs");
const entry = path.join(__dirname, "..", "dist", "cli", "main.js");
if (!fs.existsSync(entry)) {
  console.error("d2l-ts: not built yet. Run `npm ci && npm run build` in " + path.dirname(__dirname) + " (or `npm run notebook`, which does it).");
  process.exit(1);
}
require(entry).main(process.argv.slice(2));
