/**
 * `-u user[:group]` → the process's uid, gid and supplementary groups, looked up in the
 * container's /etc/passwd and /etc/group as docker does (runc's libcontainer/user
 * GetExecUserPath): a name must exist; a number need not; a user named without a group gets
 * its passwd gid and the groups that list it; additionalGids start with the gid.
 */
import * as fs from 'node:fs/promises';
import type { User } from '../../runtime/spec/types.ts';
import { InvalidParameterError } from '../errors.ts';
import { resolveInRootfs } from './rootfs-path.ts';

const MAX_ID = 2147483647;

interface PasswdEntry { name: string; uid: number; gid: number }
interface GroupEntry { name: string; gid: number; members: string[] }

async function readRootfsFile(rootfs: string, inside: string): Promise<string | undefined> {
  try {
    return await fs.readFile(await resolveInRootfs(rootfs, inside), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function lines(text: string): string[][] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split(':'));
}

function parsePasswd(text: string): PasswdEntry[] {
  return lines(text).map((f) => ({ name: f[0] ?? '', uid: Number.parseInt(f[2] ?? '', 10), gid: Number.parseInt(f[3] ?? '', 10) }))
    .map((e) => ({ ...e, uid: Number.isNaN(e.uid) ? 0 : e.uid, gid: Number.isNaN(e.gid) ? 0 : e.gid }));
}

function parseGroup(text: string): GroupEntry[] {
  return lines(text).map((f) => {
    const gid = Number.parseInt(f[2] ?? '', 10);
    return { name: f[0] ?? '', gid: Number.isNaN(gid) ? 0 : gid, members: (f[3] ?? '').split(',').filter((m) => m !== '') };
  });
}

const asId = (s: string): number | undefined => (/^\d+$/.test(s) ? Number(s) : undefined);

function rangeCheck(id: number): void {
  if (id < 0 || id > MAX_ID) throw new InvalidParameterError(`uids and gids must be in range 0-${MAX_ID}`);
}

/** The process user for `spec` ("" = root) in the rootfs at `rootfs`; `groupAdd` is --group-add. */
export async function resolveUser(rootfs: string, spec: string, groupAdd: readonly string[] = []): Promise<User> {
  const colon = spec.indexOf(':');
  const userArg = colon < 0 ? spec : spec.slice(0, colon);
  const groupArg = colon < 0 ? '' : spec.slice(colon + 1);
  const uidArg = asId(userArg);
  const gidArg = asId(groupArg);

  const passwdText = await readRootfsFile(rootfs, '/etc/passwd');
  const groupText = await readRootfsFile(rootfs, '/etc/group');
  const passwd = passwdText === undefined ? [] : parsePasswd(passwdText);
  const groups = groupText === undefined ? [] : parseGroup(groupText);

  let uid = 0;
  let gid = 0;
  const match = passwd.find((u) => (userArg === '' ? u.uid === 0 : uidArg !== undefined ? u.uid === uidArg : u.name === userArg));
  let matchedName = '';
  if (match) {
    matchedName = match.name;
    uid = match.uid;
    gid = match.gid;
  } else if (userArg !== '') {
    if (uidArg === undefined) throw new InvalidParameterError(`unable to find user ${userArg}: no matching entries in passwd file`);
    uid = uidArg;
    rangeCheck(uid);
  }

  const sgids: number[] = [];
  if (groupArg !== '') {
    const g = groups.find((e) => (gidArg !== undefined ? e.gid === gidArg : e.name === groupArg));
    if (g) gid = g.gid;
    else {
      if (gidArg === undefined) throw new InvalidParameterError(`unable to find group ${groupArg}: no matching entries in group file`);
      gid = gidArg;
      rangeCheck(gid);
    }
  } else if (matchedName !== '') {
    for (const g of groups) if (g.members.includes(matchedName)) sgids.push(g.gid);
  }

  for (const a of groupAdd) {
    const n = asId(a);
    const g = groups.find((e) => (n !== undefined ? e.gid === n : e.name === a));
    if (g) sgids.push(g.gid);
    else if (n !== undefined) sgids.push(n);
    else throw new InvalidParameterError(`Unable to find group ${a}`);
  }

  return { uid, gid, additionalGids: [gid, ...sgids] };
}
