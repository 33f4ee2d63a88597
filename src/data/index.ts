/** Datasets: readers (IDX, CIFAR binary, image folders) by name, normalisation, batches. */
export { DatasetName, DatasetInfo, LoadDatasetOptions, listDatasets, getDatasetInfo, loadDataset, loadCheckedSplit, checkClassCount } from './registry';
export { RawImages, subset, padTo } from './raw';
export { AugmentOptions, FloatBatch, normalizeBatch } from './batches';
export { DatasetTensors, toTensors, augmentedBatch, forEachBatch, disposeTensors } from './tensors';
