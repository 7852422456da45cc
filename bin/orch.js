#!/usr/bin/env node
// The `orch` command: runs the compiled CLI from build/ (made by `npm run build`, and by `npm ci`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../build/src/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  console.error(`orch: ${main} is missing; run "npm run build" (or "npm ci") in the orch checkout first`);
  process.exit(1);
}
const { run } = await import(main);
process.exitCode = await run(process.argv);
