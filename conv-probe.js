const p = require.resolve('@tslab/typescript-for-tslab', {paths:[require.resolve('tslab')]});
console.log(p);
const t0=Date.now();
const { createConverter } = require('tslab/dist/converter');
const conv = createConverter();
console.log('create', Date.now()-t0);
const src = `const a: number = 1;
function f(x: number) {
  // comment
  if (x > 2) {
    throw new Error("boom " + x);
  }
  return x * 2;
}
let s = 0;
for (let i = 0; i < 3; i++) {
  s += await Promise.resolve(f(i));
}
f(s)`;
const r = conv.convert('', src);
console.log(r.output); console.log(r.diagnostics, r.hasToplevelAwait, r.lastExpressionVar);
