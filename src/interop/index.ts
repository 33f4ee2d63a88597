/** Interoperability: PyTorch weights in (`importTeacher`), ONNX out (`exportModel`). */
export { importTeacher, ImportOptions, ImportResult, ImportRecipe, mapNames, matchStateDict } from './import';
export { exportModel, ExportOptions, ExportResult, classifierToOnnx, EXPORT_FORMATS, ONNX_ARCHS, ONNX_OPSET } from './onnx';
export { loadModelDir, loadStudent, ModelRecord, StudentRecord } from '../io/model-dir';
