import { z } from 'zod';

// The `checklist:` section of a package profile (templates/<recipient>/package.yaml): what a
// recipient requires before its package is complete.
//
//   checklist:
//     documents:
//       - { key: ndfl, title: "Справка 2-НДФЛ", category: income_documents, min: 1, max_age_days: 30, match: "ндфл|ndfl" }
//     fields: [borrower_last_name, loan_amount]
//
// A document counts towards an item when it is in the item's category (or staff or an incoming
// reply said it counts as that category), is not rejected, and — with max_age_days — is dated
// (the date staff gave for it, else when it was attached) within that many days. `match` is a
// case-insensitive regular expression on the file name that lets a file arriving by email
// (category "incoming") tick the item by itself.

export const ChecklistDocument = z.strictObject({
  key: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'lower-case letters, digits, - and _'),
  title: z.string().min(1),
  category: z.string().min(1),
  min: z.number().int().min(1).default(1),
  max_age_days: z.number().int().min(1).optional(),
  match: z
    .string()
    .refine((s) => {
      try {
        new RegExp(s, 'iu');
        return true;
      } catch {
        return false;
      }
    }, 'not a valid regular expression')
    .optional(),
});

export const ChecklistSpec = z.strictObject({
  documents: z.array(ChecklistDocument).default([]),
  fields: z.array(z.string().min(1)).default([]),
});

export type ChecklistDocument = z.infer<typeof ChecklistDocument>;
export type ChecklistSpec = z.infer<typeof ChecklistSpec>;
