// Image/volume I/O and dataset discovery: the public surface of src/data (transforms live in ./transforms).
export { DataError, type DataErrorCode } from './errors.ts';
export {
  type RawImage, type ImageInfo, type ChannelMode, IMAGE_EXTENSIONS, LOSSLESS_EXTENSIONS,
  readImage, readImageInfo, writeImage, writeMask, imageToTensor, tensorToImage, rawToTensor, uint16Tensor,
} from './image.ts';
export { decodeBmp, encodeBmp, type BmpImage } from './bmp.ts';
export { readNifti, readNiftiInfo, writeNifti, niftiAffine, makeGeometry, isNiftiPath, type NiftiVolume, type WriteNiftiOptions } from './nifti.ts';
export { readDicomSeries, type DicomVolume } from './dicom.ts';
export {
  type Mat4, type VolumeGeometry, type NiftiHeaderInfo, type DicomSeriesInfo,
  quaternToAffine, affineToQuatern, affineZooms, orientationCodes, affineDistance,
} from './geometry.ts';
export { type MaskEncoding, type EncodingSpec, MASK_ENCODINGS, decodeMask } from './encoding.ts';
export { DEFAULT_MASK_SUFFIXES, splitName, pairByStem, naturalCompare } from './stems.ts';
export type { SampleRecord, SampleMeta, DatasetIndex, DiscoverOptions, Layout } from './dataset.ts';
export { discoverDataset, checkDataset } from './discover.ts';
export { readDatasetMeta, type DatasetMeta } from './metaJson.ts';
export { loadSample, readVolume, disposeSample, type LoadedSample, type LoadOptions, type ImageGeometry } from './loader.ts';
export {
  type Split, type SplitOptions, makeSplit, labeledSplit, saveSplit, loadSplit, validateSplit, splitOrCreate, mulberry32, seededShuffle,
} from './split.ts';
export * as transforms from './transforms/index.ts';
export { readNpy, writeNpy, readNpz, encodeNpy, parseNpyHeader, npyHeader, type NpyHeader } from './npy.ts';
