#!/usr/bin/env node
// Lists the longest functions (and methods, arrow functions) of the given source folders, in lines.
// usage: node scripts/function-lengths.js [--max N] [DIR...]   (default: src/distill src/study src/cli)
// Exits 1 when --max is given and a function is longer.
'use strict';
const fs = require('fs');
const path = require('path');
const ts = require('typescript');

const args = process.argv.slice(2);
const mi = args.indexOf('--max');
const max = mi >= 0 ? Number(args.splice(mi, 2)[1]) : undefined;
const dirs = args.length ? args : ['src/distill', 'src/study', 'src/cli'];
const files = dirs.flatMap(function walk(d) {
  return fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : e.name.endsWith('.ts') ? [path.join(d, e.name)] : []));
});
const out = [];
for (const f of files) {
  const src = ts.createSourceFile(f, fs.readFileSync(f, 'utf8'), ts.ScriptTarget.ES2022, true);
  const visit = (n) => {
    if (ts.isFunctionLike(n) && n.body) {
      const a = src.getLineAndCharacterOfPosition(n.getStart()).line;
      const b = src.getLineAndCharacterOfPosition(n.end).line;
      const name = n.name ? n.name.getText() : ts.isVariableDeclaration(n.parent) ? n.parent.name.getText() : '(anonymous)';
      out.push({ lines: b - a + 1, where: `${f}:${a + 1}`, name });
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
}
out.sort((x, y) => y.lines - x.lines);
for (const o of out.slice(0, 15)) console.log(`${String(o.lines).padStart(4)}  ${o.name}  ${o.where}`);
if (max !== undefined && out.some((o) => o.lines > max)) process.exitCode = 1;
