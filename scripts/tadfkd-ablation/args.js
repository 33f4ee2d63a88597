/**
 * The option form of the diagnostic scripts (class-probe.js, synthetic-classes.js, anchor-student.js):
 * `--name VALUE`. `takeString` removes the pair from `args` (so what is left are the positional
 * arguments) and returns its value, or `dflt` when the option is absent; `takeNumber` does the same for
 * a number.
 */
function takeString(args, name, dflt) {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
}

function takeNumber(args, name, dflt) {
  const v = takeString(args, name, undefined);
  return v === undefined ? dflt : Number(v);
}

module.exports = { takeNumber, takeString };
