import sharp from 'sharp';

// Synthetic "photos" for the tests, the benchmark and the demo: each seed gives a different picture
// (a gradient sky, random shapes, sensor-like noise), and the edits a reused photo goes through on
// its way into another claim (resized, recompressed, cropped). Deterministic per seed.

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

const colour = (r: () => number) => `rgb(${Math.floor(r() * 256)},${Math.floor(r() * 256)},${Math.floor(r() * 256)})`;

/** A 640×480 JPEG, different for every seed. */
export async function samplePhoto(seed: number, width = 640, height = 480): Promise<Buffer> {
  const r = rng(seed * 7919 + 17);
  const shapes: string[] = [];
  const count = 4 + Math.floor(r() * 8);
  for (let i = 0; i < count; i++) {
    const kind = Math.floor(r() * 3);
    const x = r() * width, y = r() * height, s = 30 + r() * 250;
    if (kind === 0) shapes.push(`<rect x="${x - s / 2}" y="${y - s / 3}" width="${s}" height="${s * (0.3 + r())}" fill="${colour(r)}" transform="rotate(${r() * 90} ${x} ${y})"/>`);
    else if (kind === 1) shapes.push(`<ellipse cx="${x}" cy="${y}" rx="${s / 2}" ry="${s * (0.2 + r() / 2)}" fill="${colour(r)}"/>`);
    else shapes.push(`<polygon points="${x},${y} ${x + s},${y + r() * s} ${x + r() * s},${y - s}" fill="${colour(r)}"/>`);
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><linearGradient id="g" x1="0" y1="0" x2="${r().toFixed(2)}" y2="1"><stop offset="0" stop-color="${colour(r)}"/><stop offset="1" stop-color="${colour(r)}"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#g)"/>${shapes.join('')}</svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  for (let i = 0; i < data.length; i++) data[i] = Math.max(0, Math.min(255, data[i]! + Math.round((r() - 0.5) * 24)));
  return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } }).jpeg({ quality: 90 }).toBuffer();
}

export type PhotoEdit = 'resized' | 'recompressed' | 'cropped' | 'all';
export const PHOTO_EDITS: PhotoEdit[] = ['resized', 'recompressed', 'cropped', 'all'];

/**
 * The photo as it comes back from someone who reused it: half the size, JPEG quality 35, up to 5% cut
 * off each edge (how much, per edge, drawn from the seed), or all three.
 */
export async function editPhoto(photo: Buffer, edit: PhotoEdit, seed = 1): Promise<Buffer> {
  const meta = await sharp(photo).metadata();
  const w = meta.width!, h = meta.height!;
  let img = sharp(photo);
  if (edit === 'cropped' || edit === 'all') {
    const r = rng(seed * 104729 + 3);
    const [l, t, rt, b] = [r(), r(), r(), r()].map((x) => x * 0.05) as [number, number, number, number];
    const left = Math.round(w * l), top = Math.round(h * t);
    img = img.extract({ left, top, width: Math.min(Math.round(w * (1 - l - rt)), w - left), height: Math.min(Math.round(h * (1 - t - b)), h - top) });
  }
  if (edit === 'resized' || edit === 'all') img = img.resize(Math.round(w / 2));
  return img.jpeg({ quality: edit === 'recompressed' || edit === 'all' ? 35 : 90 }).toBuffer();
}
