/**
 * The plan berth-init executes: an ordered list of records, each an op name and its arguments.
 * On the wire: "<byte length>\n" then, per record, `op \0 nargs \0 arg1 \0 … argN \0`.
 * Numbers are decimal; flags are already numeric (MS_*, CLONE_*, capability masks), so the
 * helper interprets nothing. Records before `clone` run in stage 0 (the helper as spawned);
 * the rest run in the container's init, in order.
 */
export type Arg = string | number | bigint;

export interface PlanRecord {
  op: string;
  args: string[];
}

export class Plan {
  readonly records: PlanRecord[] = [];

  add(op: string, ...args: Arg[]): this {
    this.records.push({ op, args: args.map(String) });
    return this;
  }

  encode(): Buffer {
    const parts: string[] = [];
    for (const r of this.records) {
      for (const a of r.args) {
        if (a.includes('\0')) throw new Error(`plan: argument of ${r.op} contains a NUL byte`);
      }
      parts.push(r.op, String(r.args.length), ...r.args);
    }
    const body = Buffer.from(parts.join('\0') + '\0');
    return Buffer.concat([Buffer.from(`${body.length}\n`), body]);
  }
}
