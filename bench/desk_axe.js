// Accessibility check of the desk page with axe-core (WCAG 2 A and AA rules
// and axe's best practices) in Debian's Chromium, at 390 and 1280 px (#19).
// Run by hand against a running daemon:
//   npm install axe-core playwright-core   (in a scratch folder; NODE_PATH to it)
//   node bench/desk_axe.js http://127.0.0.1:8080
// Prints the violations per page; 0 everywhere on 2026-12-05 (the bundled
// example config). Nothing here runs in CI.
const { chromium } = require('playwright-core');
const fs = require('fs');
const axe = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox','--disable-gpu','--disable-quic','--no-first-run','--disable-background-networking','--disable-component-update','--disable-sync'] });
  for (const [w, path] of [[390, '/'], [1280, '/'], [1280, '/?view=running'], [390, '/?q=harbour']]) {
    const page = await browser.newPage({ viewport: { width: w, height: 900 } });
    await page.goto((process.argv[2] || 'http://127.0.0.1:8080') + path);
    // CSP forbids inline script; add axe through the devtools protocol instead.
    await page.evaluate(axe);
    const r = await page.evaluate(async () => await axe.run(document, { runOnly: ['wcag2a','wcag2aa','best-practice'] }));
    console.log(`${w}px ${path}: ${r.violations.length} violations`);
    for (const v of r.violations) console.log(`  ${v.id} (${v.impact}): ${v.help} — ${v.nodes.length} nodes: ${v.nodes.slice(0,2).map(n=>n.target.join(' ')).join(' | ')}`);
  }
  await browser.close();
})().catch(e => { console.error(e); process.exit(1); });
