// The shape of a field schema version once loaded (the YAML format is in field-schemas/README.md).

export const FIELD_TYPES = ['text', 'number', 'money', 'date', 'boolean', 'enum', 'table', 'email', 'phone'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export interface Label { ru: string; en: string }

export interface Validation {
  pattern?: string;
  min?: number | string; // ISO date string for date fields
  max?: number | string;
  minLength?: number;
  maxLength?: number;
  integer?: boolean;
  maxRows?: number;
}

export interface FormatHints {
  case?: 'upper' | 'lower';
  currency?: string;
  digits?: number;
  mask?: string;
  placeholder?: string;
}

export interface EnumOption { value: string; label: Label }

/** A column of a table field: any type but table. */
export interface ColumnDef {
  id: string;
  type: Exclude<FieldType, 'table'>;
  label: Label;
  required?: boolean;
  validation?: Validation;
  options?: EnumOption[];
  format?: FormatHints;
}

export interface FieldDef {
  id: string;
  type: FieldType;
  label: Label;
  required: boolean;
  scope: 'base' | 'recipient';
  overridable: boolean;
  retired: boolean;
  validation?: Validation;
  format?: FormatHints;
  options?: EnumOption[];
  columns?: ColumnDef[];
  hint?: Label;
  /** Section id, and for recipient-kind fields the party kind that carries them. */
  section: string;
  recipientKind?: string;
  /** 1-based line of the field in its file, for error messages. */
  line: number;
}

export interface SectionDef {
  id: string;
  label: Label;
  recipientKind?: string;
  fields: FieldDef[];
}

export interface SchemaVersion {
  type: string;
  version: number;
  title: Label;
  notes?: string;
  sections: SectionDef[];
  /** Every field of the version, base and recipient-kind, by id. */
  fields: Map<string, FieldDef>;
  file: string;
  sha256: string;
}

/** A stored value: text, number, exact decimal string for money, ISO date, boolean, enum value, rows. */
export type FieldValue = string | number | boolean | TableRow[] | null;
export type TableRow = Record<string, string | number | boolean | null>;
