// Copies the graph library from node_modules (installed by `npm ci` from
// package-lock.json) into ../static/vendor, where the server serves it.
// `node build.mjs --check` fails if the committed copy differs from the locked
// package, so CI notices a vendor file that is stale or edited by hand.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const vendor = join(here, '..', 'static', 'vendor');
const files = [['node_modules/cytoscape/dist/cytoscape.min.js', 'cytoscape.min.js']];
const check = process.argv.includes('--check');
const sha = (p) => createHash('sha256').update(readFileSync(p)).digest('hex');

let stale = 0;
mkdirSync(vendor, { recursive: true });
for (const [from, to] of files) {
  const src = join(here, from);
  const dst = join(vendor, to);
  if (!existsSync(src)) {
    console.error(`missing ${src}: run "npm ci" in ${here} first`);
    process.exit(1);
  }
  if (check) {
    if (!existsSync(dst) || sha(src) !== sha(dst)) {
      console.error(`stale: static/vendor/${to} differs from ${from}`);
      stale++;
    }
  } else {
    copyFileSync(src, dst);
    console.log(`static/vendor/${to} <- ${from} (sha256 ${sha(dst).slice(0, 16)}…)`);
  }
}
process.exit(stale ? 1 : 0);
