/**
 * The public package: `npm pack`, installed into an empty project, loads with require('dfkd') and with
 * `import { distill } from 'dfkd'`; the README's library example (examples/library.ts) runs.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tmpDir } from './helpers/distill-fixtures';

const ROOT = path.resolve(__dirname, '..', '..');

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, DFKD_QUIET: '1' } });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/**
 * Installs the packed tarball into an empty project without the network: the tarball is unpacked into
 * node_modules/dfkd, its dependencies are linked from this checkout's node_modules, and its native
 * engine (what `npm install` builds with node-gyp) is linked from this checkout's build/.
 */
function installPacked(): string {
  const packDir = tmpDir('pack');
  const out = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', packDir], ROOT)) as { filename: string; files: { path: string }[] }[];
  const files = out[0].files.map((f) => f.path);
  for (const f of ['dist/src/index.js', 'dist/src/index.d.ts', 'bin/dfkd.js', 'package.json']) assert.ok(files.includes(f), `${f} is not in the package`);
  assert.ok(!files.some((f) => f.startsWith('dist/test/')), 'the package ships the tests');
  const project = tmpDir('consumer');
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  const nm = path.join(project, 'node_modules');
  fs.mkdirSync(nm);
  run('tar', ['xzf', path.join(packDir, out[0].filename), '-C', nm], project);
  fs.renameSync(path.join(nm, 'package'), path.join(nm, 'dfkd'));
  fs.symlinkSync(path.join(ROOT, 'build'), path.join(nm, 'dfkd', 'build'));
  const pkg = JSON.parse(fs.readFileSync(path.join(nm, 'dfkd', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  for (const dep of Object.keys(pkg.dependencies)) fs.symlinkSync(path.join(ROOT, 'node_modules', dep), path.join(nm, dep));
  return project;
}

test('npm pack: the installed package loads with require() and with an ESM import', () => {
  const project = installPacked();
  const cjs = run(process.execPath, ['-e', "const d = require('dfkd'); console.log(JSON.stringify({ distill: typeof d.distill, methods: d.methodNames(), tensor: typeof d.tensor.zeros, version: d.DFKD_VERSION }))"], project);
  const c = JSON.parse(cjs) as { distill: string; methods: string[]; tensor: string; version: string };
  assert.equal(c.distill, 'function');
  assert.equal(c.tensor, 'function');
  assert.ok(c.methods.includes('ta-dfkd'), cjs);
  fs.writeFileSync(path.join(project, 'main.mjs'), "import { distill, methodNames, tidy } from 'dfkd';\nimport dfkd from 'dfkd';\nconsole.log(typeof distill, typeof tidy, methodNames().length, typeof dfkd.runStudy);\n");
  assert.equal(run(process.execPath, ['main.mjs'], project).trim(), 'function function 6 function');
});

test("the README's library example compiles and distils for a few iterations", () => {
  const work = tmpDir('example');
  const stdout = run(process.execPath, [path.join(ROOT, 'dist', 'examples', 'library.js'), work, '2'], ROOT);
  assert.match(stdout, /teacher: \d+\.\d+% test accuracy/);
  assert.match(stdout, /student: \d+\.\d+% after 2 iterations/);
  assert.ok(fs.existsSync(path.join(work, 'student', 'summary.json')));
});
