/**
 * Model families and the small student of each. A teacher's synthetic samples teach a student of its own
 * family far better than one of another: on the converged Fashion-MNIST cell a ResNet-8 teacher gave 74.85%
 * with LeNet-5-half and 87.04% with ResNet-8-half, a ResNet of about the same size (issue 18, session 24), and a
 * VGG-5 teacher 80.53% with LeNet-5-half and 85.69% with VGG-5-small (session 25; two seeds each).
 */

/** The family of a zoo architecture: its name up to the first digit or dash ('resnet8-half' -> 'resnet'). */
export function modelFamily(arch: string): string {
  return arch.replace(/[-\d].*$/, '');
}

/** The zoo's small student of each family that has one (about 16-20k parameters). */
const FAMILY_STUDENTS: Readonly<Record<string, string>> = { lenet: 'lenet5-half', resnet: 'resnet8-half', vgg: 'vgg5-small' };

/** The student of a teacher whose family has none in the zoo (WideResNets, imported ONNX graphs). */
export const FALLBACK_STUDENT = 'lenet5-half';

/** The default student of a teacher: the small student of its family, else FALLBACK_STUDENT. */
export function defaultStudentFor(teacherArch: string): string {
  return FAMILY_STUDENTS[modelFamily(teacherArch)] ?? FALLBACK_STUDENT;
}

/**
 * The student of the teacher's family to suggest when `studentArch` is of another family, else undefined
 * (same family, or no small student of the teacher's family in the zoo).
 */
export function familyStudentFor(teacherArch: string, studentArch: string): string | undefined {
  const family = modelFamily(teacherArch);
  if (family === modelFamily(studentArch)) return undefined;
  return FAMILY_STUDENTS[family];
}
