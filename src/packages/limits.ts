import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { App } from '../app.js';
import { isDossierError } from '../errors.js';
import { recordParties } from '../records/parties.js';
import type { RecordRow } from '../records/records.js';
import { PACKAGE_ROLES, zipLimit } from './build.js';
import { loadProfile, profileFor, type PackageProfile } from './profile.js';

// How big a scan may be to go out in a package: each package email has a largest size (the
// profile's max_email_bytes), and a file must fit in one email whole (base64 and the message around
// it take their share). Checked when a scan is attached, so that a mistake is caught then and not
// when every later `pack build --all` fails.

export interface PackageLimit { recipient: string; maxEmailBytes: number; limit: number }

/**
 * The limits for scans of `category` on this record: the profiles of the recipients linked for
 * packages that take the category; with none linked yet, every profile of the record's type that does.
 */
export async function packageLimits(app: App, record: RecordRow, category: string): Promise<PackageLimit[]> {
  const linked = (await recordParties(app.db, record.id)).filter((p) => PACKAGE_ROLES.includes(p.role));
  const profiles: { who: string; profile: PackageProfile }[] = [];
  if (linked.length) {
    for (const p of linked) {
      try {
        profiles.push({ who: p.key, profile: profileFor(app.templatesDir, p, record.type) });
      } catch (err) {
        if (!isDossierError(err)) throw err; // no (valid) profile: `pack build` reports that itself
      }
    }
  } else {
    for (const dir of readdirSync(app.templatesDir, { withFileTypes: true })) {
      if (!dir.isDirectory()) continue;
      try {
        const profile = loadProfile(path.join(app.templatesDir, dir.name, 'package.yaml'));
        if (profile.type === record.type) profiles.push({ who: dir.name, profile });
      } catch {
        // not a profile folder
      }
    }
  }
  return profiles
    .filter(({ profile }) => profile.attachments.some((a) => a.category === category))
    .map(({ who, profile }) => ({ recipient: who, maxEmailBytes: profile.max_email_bytes, limit: zipLimit(profile.max_email_bytes) }))
    .sort((a, b) => a.limit - b.limit || a.recipient.localeCompare(b.recipient));
}
