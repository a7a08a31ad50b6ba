// Reused-evidence matching (issue 17): how many edited copies of a photo are found again, and how
// many different photos are wrongly taken for the same one. The photos are generated here (each seed
// a different gradient, shapes and noise; src/evidence/sample-images.ts), the copies are made here
// too: half size, JPEG quality 35, up to 5% off each edge, and all three at once. The matching rule
// is the one `flagReusedEvidence` applies in SQL (photoDistance ≤ NEAR_DUPLICATE_MAX_DISTANCE).
// Baseline: the exact-file check (sha256) alone, which finds none of the edited copies.
import { createHash } from 'node:crypto';
import { dist, ms, result, verdict } from './lib.mjs';

const { fingerprintImage, photoDistance, NEAR_DUPLICATE_MAX_DISTANCE } = await import(dist('evidence/phash.js'));
const { samplePhoto, editPhoto, PHOTO_EDITS } = await import(dist('evidence/sample-images.js'));

const ORIGINALS = Number(process.env.EVIDENCE_ORIGINALS ?? 60);
const DIFFERENT = Number(process.env.EVIDENCE_DIFFERENT ?? 300);
const sha = (b) => createHash('sha256').update(b).digest('hex');

const times = [];
async function fp(buf) {
  const t0 = performance.now();
  const f = await fingerprintImage(buf);
  times.push(performance.now() - t0);
  return f;
}

// Hit rate: each original against each of its edited copies.
const hits = Object.fromEntries(PHOTO_EDITS.map((e) => [e, 0]));
let exactHits = 0;
for (let seed = 1; seed <= ORIGINALS; seed++) {
  const photo = await samplePhoto(seed);
  const f = await fp(photo);
  for (const edit of PHOTO_EDITS) {
    const copy = await editPhoto(photo, edit, seed);
    if (photoDistance(f, await fp(copy)) <= NEAR_DUPLICATE_MAX_DISTANCE) hits[edit]++;
    if (sha(copy) === sha(photo)) exactHits++;
  }
}
const copies = ORIGINALS * PHOTO_EDITS.length;
const hitTotal = Object.values(hits).reduce((a, b) => a + b, 0);

// False positives: every pair among DIFFERENT distinct photos (seeds apart from the originals').
const fps = [];
for (let i = 0; i < DIFFERENT; i++) fps.push(await fp(await samplePhoto(10_000 + i)));
let pairs = 0;
let falsePositives = 0;
for (let i = 0; i < fps.length; i++) {
  for (let j = i + 1; j < fps.length; j++) {
    pairs++;
    if (photoDistance(fps[i], fps[j]) <= NEAR_DUPLICATE_MAX_DISTANCE) falsePositives++;
  }
}

const pct = (n, d) => `${((100 * n) / d).toFixed(n && n < d / 100 ? 2 : 1)}%`;
const sorted = [...times].sort((a, b) => a - b);
const medianMs = sorted[Math.floor(sorted.length / 2)];
const hitRate = hitTotal / copies;
const fpRate = falsePositives / pairs;
for (const e of PHOTO_EDITS) console.log(`${e.padEnd(13)} found again: ${hits[e]}/${ORIGINALS} (${pct(hits[e], ORIGINALS)})`);
console.log(`all edits     found again: ${hitTotal}/${copies} (${pct(hitTotal, copies)}); sha256 alone: ${exactHits}/${copies}`);
console.log(`different photos taken for the same: ${falsePositives} of ${pairs} pairs (${pct(falsePositives, pairs)})`);
console.log(`fingerprint (decode + 6 crops × dHash/pHash): median ${ms(medianMs)} a photo`);
result(
  'evidence',
  `Reused photos: ${ORIGINALS} photos × ${PHOTO_EDITS.length} edits, ${DIFFERENT} different photos`,
  [
    ...PHOTO_EDITS.map((e) => ({ measure: `hit rate, ${e} copies`, value: pct(hits[e], ORIGINALS), baselineName: 'sha256 alone', baseline: '0.0%', ratio: '—', target: null, pass: null })),
    { measure: 'hit rate, all edited copies', value: pct(hitTotal, copies), baselineName: 'sha256 alone', baseline: pct(exactHits, copies), ratio: '—', target: '≥ 90%', pass: hitRate >= 0.9 },
    { measure: 'false-positive rate, pairs of different photos', value: pct(falsePositives, pairs), baselineName: 'sha256 alone', baseline: '0.0%', ratio: '—', target: '≤ 0.1%', pass: fpRate <= 0.001 },
    { measure: 'fingerprint time, median', value: ms(medianMs), baselineName: '—', baseline: '—', ratio: '—', target: null, pass: null },
  ],
  [`threshold: distance ≤ ${NEAR_DUPLICATE_MAX_DISTANCE} of 128 bits (dHash + pHash, best crop against the whole); verdicts: hit rate ${verdict(hitRate >= 0.9)}, false positives ${verdict(fpRate <= 0.001)}`],
);
