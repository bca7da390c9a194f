/**
 * WebGPU enum values, spelled out so the backend does not depend on `GPUBufferUsage`/`GPUMapMode` globals
 * (Node's `webgpu` package does not install them unless asked to).
 * @internal
 * @module
 */
export const BufferUsage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;

export const MapMode = { READ: 0x0001 } as const;

/** Bytes of the uniform block every kernel gets (WGSL structs of ≤ 64 scalars). */
export const UNIFORM_BYTES = 256;
