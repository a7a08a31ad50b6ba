import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fieldSchemasDir } from '../../src/paths.js';
import { loadRoles, loadSchemaFile, parseRolesText, roleProblems } from '../../src/schemas/load.js';

// Field roles (field-schemas/roles.yaml): which field is the decision, the client's name… checked
// against every version of the type, as `dossier schema validate` and `dossier doctor` do.

const versions = (type: string, ...v: number[]) => v.map((n) => loadSchemaFile(path.join(fieldSchemasDir, type, `v${n}.yaml`)).schema!);

describe('field roles', () => {
  it('the shipped roles name fields every published version has, of the right type', () => {
    const { roles, problems } = loadRoles(fieldSchemasDir);
    expect(problems).toEqual([]);
    expect(roles.deal).toMatchObject({ decision: 'decision', client_last_name: 'borrower_last_name' });
    expect(roles.claim).toMatchObject({ client_name: 'insured_name', vehicle_plate: 'vehicle_plate' });
    expect(roleProblems(roles, [...versions('deal', 1, 2), ...versions('claim', 1)], 'roles.yaml')).toEqual([]);
  });

  it('reports an unknown role, a field a version lacks, a wrong type and a base field for a decision', () => {
    const text = 'deal:\n  client_shoe_size: borrower_last_name\n  client_name: no_such_field\n  decision_amount: borrower_last_name\n  decision_date: loan_amount\n';
    const { roles, problems } = parseRolesText(text, 'roles.yaml');
    expect(problems.map((p) => `${p.line}: ${p.message}`)).toEqual([expect.stringMatching(/^2: deal: "client_shoe_size" is not a field role/)]);
    const found = roleProblems(roles, versions('deal', 1), 'roles.yaml').map((p) => p.message);
    expect(found).toEqual([
      'deal.client_name: deal v1 has no field "no_such_field"',
      'deal.decision_amount: "borrower_last_name" in deal v1 is text, the role needs money',
      'deal.decision_date: "loan_amount" in deal v1 is money, the role needs date',
    ]);
  });
});
