/** `dfkd eval` as a library call: any model directory on a real dataset split. */
import { loadModelDir, type ModelRecord } from '../io/model-dir';
import { datasetInfoForModel, loadCheckedSplit, type DatasetInfo } from '../data/registry';
import { toTensors, disposeTensors } from '../data/tensors';
import { resolveDevice } from '../tensor';
import { evaluate, type EvalResult } from './evaluate';

export interface EvalModelOptions {
  /** Teacher, imported teacher or finished distillation run directory. */
  model: string;
  /** Default: the dataset recorded with the model. */
  dataset?: string;
  dataPath?: string;
  split?: 'train' | 'test';
  device?: string;
}

export interface EvalModelResult extends EvalResult {
  record: ModelRecord;
  dataset: string;
  split: 'train' | 'test';
  info: DatasetInfo;
}

/** Loads the model, checks the dataset fits it (shape, classes) and evaluates it. */
export function evaluateModelDir(o: EvalModelOptions): EvalModelResult {
  const device = resolveDevice(o.device);
  const split = o.split ?? 'test';
  const { model, record } = loadModelDir(o.model, device);
  try {
    const dataset = o.dataset ?? record.dataset;
    const info = datasetInfoForModel(dataset, record.inChannels);
    const raw = loadCheckedSplit(dataset, split, record, `model '${o.model}'`, o.dataPath);
    const data = toTensors(raw, info);
    try {
      return { ...evaluate(model, data, record.numClasses), record, dataset, split, info };
    } finally {
      disposeTensors(data);
    }
  } finally {
    model.dispose();
  }
}
