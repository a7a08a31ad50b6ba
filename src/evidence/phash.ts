import sharp from 'sharp';

// Perceptual fingerprints of photos: two 64-bit hashes of a decoded, greyscale, downscaled image,
// so that the same photo resized, recompressed or slightly cropped gives nearly the same bits.
//  - dHash: 9×8 pixels, one bit per horizontal neighbour pair (is the left one brighter?).
//  - pHash: 32×32 pixels, 2-D DCT, one bit per low-frequency coefficient of the top-left 8×8
//    (above or below their median); it shrugs off small crops better than dHash does.
// Decoding is sharp's (libvips): it reads JPEG, PNG, WebP, TIFF, GIF and AVIF, honours the EXIF
// orientation, and resizes a 12-megapixel photo in a few milliseconds.
// libvips's operation cache is off: every picture is decoded once, so the cache only kept up to
// 50 MB of decoded images alive in a long-running worker (the hostile corpus's peak RSS on Node 22
// went over its bound once replies' files were fingerprinted).
sharp.cache(false);

export interface PhotoHash {
  /** full: the whole picture; tl, tr, bl, br: 95% of it anchored at a corner; c: the middle 90%. */
  variant: string;
  /** 16 hex digits each. */
  dhash: string;
  phash: string;
}

export interface ImageFingerprint {
  width: number;
  height: number;
  /** The whole picture first, then its crops: a photo cropped by a few percent is close to one of them. */
  hashes: PhotoHash[];
}

/** The largest picture decoded for a fingerprint: 64 megapixels (phones' full-resolution modes go to 50). */
export const MAX_PIXELS = 64_000_000;

/** The content types worth decoding (sniffed from the bytes, see storage/sniff.ts). */
export const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/tiff', 'image/gif', 'image/avif', 'image/heic']);

const toHex = (bits: number[]): string => {
  let v = 0n;
  for (const b of bits) v = (v << 1n) | BigInt(b);
  return v.toString(16).padStart(16, '0');
};

// The crops hashed beside the whole picture (fractions of width and height: left, top, width, height).
const VARIANTS: [string, number, number, number, number][] = [
  ['full', 0, 0, 1, 1],
  ['tl', 0, 0, 0.95, 0.95],
  ['tr', 0.05, 0, 0.95, 0.95],
  ['bl', 0, 0.05, 0.95, 0.95],
  ['br', 0.05, 0.05, 0.95, 0.95],
  ['c', 0.05, 0.05, 0.9, 0.9],
];
const WORK = 256; // the decoded picture is brought down to this width once; the crops come from it

async function grey(src: { data: Buffer; width: number; height: number }, crop: readonly number[], w: number, h: number): Promise<Uint8Array> {
  const [l, t, cw, ch] = crop as [number, number, number, number];
  const left = Math.round(l * src.width), top = Math.round(t * src.height);
  return sharp(src.data, { raw: { width: src.width, height: src.height, channels: 1 } })
    .extract({ left, top, width: Math.max(1, Math.min(Math.round(cw * src.width), src.width - left)), height: Math.max(1, Math.min(Math.round(ch * src.height), src.height - top)) })
    .resize(w, h, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
}

// DCT-II basis for 32 points, computed once.
const N = 32;
const COS: Float64Array[] = Array.from({ length: 8 }, (_, u) => Float64Array.from({ length: N }, (_, x) => Math.cos(((2 * x + 1) * u * Math.PI) / (2 * N))));

function phashBits(px: Uint8Array): number[] {
  // Only the 8×8 lowest frequencies are needed: rows first (32×8), then columns (8×8).
  const rows: number[][] = [];
  for (let y = 0; y < N; y++) {
    const r: number[] = [];
    for (let u = 0; u < 8; u++) {
      let s = 0;
      for (let x = 0; x < N; x++) s += px[y * N + x]! * COS[u]![x]!;
      r.push(s);
    }
    rows.push(r);
  }
  const coeffs: number[] = [];
  for (let v = 0; v < 8; v++) {
    for (let u = 0; u < 8; u++) {
      let s = 0;
      for (let y = 0; y < N; y++) s += rows[y]![u]! * COS[v]![y]!;
      coeffs.push(s);
    }
  }
  // The DC term (overall brightness) is left out of the median; every bit compares against it.
  const median = [...coeffs.slice(1)].sort((a, b) => a - b)[31]!;
  return coeffs.map((c) => (c > median ? 1 : 0));
}

function dhashBits(px: Uint8Array): number[] {
  const bits: number[] = [];
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) bits.push(px[y * 9 + x]! > px[y * 9 + x + 1]! ? 1 : 0);
  return bits;
}

/** The fingerprint of an image, or null when the bytes are not an image sharp can decode. */
export async function fingerprintImage(input: Buffer): Promise<ImageFingerprint | null> {
  try {
    const meta = await sharp(input, { failOn: 'none' }).metadata();
    if (!meta.width || !meta.height) return null;
    // A picture larger than any camera's (a "pixel bomb" in a mail attachment) is not decoded: it is
    // still compared by its sha256.
    if (meta.width * meta.height > MAX_PIXELS) return null;
    const { data, info } = await sharp(input, { failOn: 'none', limitInputPixels: MAX_PIXELS })
      .rotate()
      .flatten({ background: '#ffffff' })
      .greyscale()
      .resize({ width: WORK, height: WORK, fit: 'inside', withoutEnlargement: false })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const src = { data, width: info.width, height: info.height };
    const hashes: PhotoHash[] = [];
    for (const [variant, ...crop] of VARIANTS) {
      const [d, p] = await Promise.all([grey(src, crop, 9, 8), grey(src, crop, N, N)]);
      hashes.push({ variant, dhash: toHex(dhashBits(d)), phash: toHex(phashBits(p)) });
    }
    return { width: meta.autoOrient?.width ?? meta.width, height: meta.autoOrient?.height ?? meta.height, hashes };
  } catch {
    return null; // not an image, or a damaged one: it simply has no perceptual fingerprint
  }
}

/** Differing bits between two 16-hex-digit hashes (0–64). */
export function hamming(a: string, b: string): number {
  let x = BigInt('0x' + a) ^ BigInt('0x' + b);
  let n = 0;
  while (x) {
    n += Number(x & 1n);
    x >>= 1n;
  }
  return n;
}

/**
 * How far apart two photos are: the differing bits of both hashes together (0–128); similarity is
 * 1 − distance/128. The sum, rather than either hash alone or the larger of the two, found the most
 * cropped copies at the fewest false matches on bench/evidence.mjs (resized, recompressed and
 * cropped copies against a few hundred different images).
 */
export function hashDistance(a: Pick<PhotoHash, 'dhash' | 'phash'>, b: Pick<PhotoHash, 'dhash' | 'phash'>): number {
  return hamming(a.dhash, b.dhash) + hamming(a.phash, b.phash);
}

/** The closest any crop of one comes to the whole of the other (either way round). */
export function photoDistance(a: ImageFingerprint, b: ImageFingerprint): number {
  let best = 128;
  for (const x of a.hashes) for (const y of b.hashes) if (x.variant === 'full' || y.variant === 'full') best = Math.min(best, hashDistance(x, y));
  return best;
}

export const NEAR_DUPLICATE_MAX_DISTANCE = 16;
export const HASH_BITS = 128;

/** The signed 64-bit integer PostgreSQL stores a hash as (bit_count of an XOR counts the distance there). */
export const hashToInt8 = (hex: string): string => BigInt.asIntN(64, BigInt('0x' + hex)).toString();
