import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { fingerprintImage, NEAR_DUPLICATE_MAX_DISTANCE, photoDistance } from '../../src/evidence/phash.js';
import { editPhoto, PHOTO_EDITS, samplePhoto } from '../../src/evidence/sample-images.js';

// The perceptual fingerprint on photos this test makes itself: each resized, recompressed and
// cropped copy stays within the near-duplicate distance of its original; different photos do not.

describe('perceptual photo fingerprints', () => {
  it('finds a photo again after resizing, recompressing and a small crop', async () => {
    for (const seed of [3, 11]) {
      const original = await samplePhoto(seed);
      const fp = (await fingerprintImage(original))!;
      expect(fp.width).toBe(640);
      for (const edit of PHOTO_EDITS) {
        const copy = await editPhoto(original, edit, seed);
        expect(copy.equals(original)).toBe(false);
        const d = photoDistance(fp, (await fingerprintImage(copy))!);
        expect(d, `${edit} copy of photo ${seed}`).toBeLessThanOrEqual(NEAR_DUPLICATE_MAX_DISTANCE);
      }
    }
  });

  it('keeps different photos apart', async () => {
    const fps = await Promise.all([21, 22, 23, 24, 25].map(async (s) => (await fingerprintImage(await samplePhoto(s)))!));
    for (let i = 0; i < fps.length; i++) for (let j = i + 1; j < fps.length; j++) expect(photoDistance(fps[i]!, fps[j]!)).toBeGreaterThan(NEAR_DUPLICATE_MAX_DISTANCE);
  });

  it('gives no fingerprint for a picture larger than MAX_PIXELS (a pixel bomb), which is not decoded', async () => {
    // A 20,000 × 4,000 PNG of one colour: a few kilobytes that would decode to 80 megapixels.
    const bomb = await sharp({ create: { width: 20_000, height: 4_000, channels: 3, background: '#808080' } }).greyscale().png({ compressionLevel: 9 }).toBuffer();
    expect(bomb.length).toBeLessThan(1_000_000);
    expect(await fingerprintImage(bomb)).toBeNull();
  });

  it('gives no fingerprint for bytes that are not an image', async () => {
    expect(await fingerprintImage(Buffer.from('%PDF-1.7\n%…'))).toBeNull();
  });
});
