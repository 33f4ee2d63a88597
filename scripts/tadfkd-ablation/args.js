/**
 * The one option form of the diagnostic scripts (class-probe.js, synthetic-classes.js): `--name VALUE`
 * with a number. `takeNumber` removes the pair from `args` (so what is left are the positional
 * arguments) and returns its value, or `dflt` when the option is absent.
 */
function takeNumber(args, name, dflt) {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  args.splice(i, 2);
  return v;
}

module.exports = { takeNumber };
