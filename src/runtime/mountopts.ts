import { MS } from './linux.ts';

/** A config.json mount's options, split the way mount(2) takes them. */
export interface MountOptions {
  flags: number;
  propagation: number;
  data: string[];
  bind: boolean;
  /** a tmpfs that starts with the contents of the directory it covers (runc's extension) */
  tmpcopyup: boolean;
}

const SET: Readonly<Record<string, number>> = {
  ro: MS.RDONLY, nosuid: MS.NOSUID, nodev: MS.NODEV, noexec: MS.NOEXEC, sync: MS.SYNCHRONOUS,
  remount: MS.REMOUNT, mand: MS.MANDLOCK, dirsync: MS.DIRSYNC, nosymfollow: MS.NOSYMFOLLOW,
  noatime: MS.NOATIME, nodiratime: MS.NODIRATIME, bind: MS.BIND, rbind: MS.BIND | MS.REC,
  silent: MS.SILENT, relatime: MS.RELATIME, strictatime: MS.STRICTATIME, lazytime: MS.LAZYTIME,
};

const CLEAR: Readonly<Record<string, number>> = {
  rw: MS.RDONLY, suid: MS.NOSUID, dev: MS.NODEV, exec: MS.NOEXEC, async: MS.SYNCHRONOUS,
  nomand: MS.MANDLOCK, atime: MS.NOATIME, diratime: MS.NODIRATIME, loud: MS.SILENT,
  norelatime: MS.RELATIME, nostrictatime: MS.STRICTATIME, symfollow: MS.NOSYMFOLLOW, defaults: 0,
};

const PROPAGATION: Readonly<Record<string, number>> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED, rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

/** runc extensions that change what a mount is; refusing them beats silently ignoring them. */
const UNSUPPORTED = new Set(['idmap', 'ridmap', 'rro', 'rrw', 'rnosuid', 'rnodev', 'rnoexec', 'rnoatime']);

export function parseMountOptions(options: readonly string[] | undefined, type: string | undefined): MountOptions {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];
  let tmpcopyup = false;
  for (const o of options ?? []) {
    if (o === 'tmpcopyup') tmpcopyup = true;
    else if (Object.hasOwn(SET, o)) flags |= SET[o]!;
    else if (Object.hasOwn(CLEAR, o)) flags &= ~CLEAR[o]!;
    else if (Object.hasOwn(PROPAGATION, o)) propagation = PROPAGATION[o]!;
    else if (UNSUPPORTED.has(o)) throw new Error(`mount option "${o}" is not supported by berth-oci`);
    else data.push(o);
  }
  if (type === 'bind' || type === 'rbind') flags |= MS.BIND;
  if (type === 'rbind') flags |= MS.REC;
  const bind = (flags & MS.BIND) !== 0;
  if (tmpcopyup && (bind || type !== 'tmpfs')) throw new Error('mount option "tmpcopyup" applies to tmpfs mounts only');
  return { flags, propagation, data, bind, tmpcopyup };
}

export function propagationFlags(name: string): number {
  const v = Object.hasOwn(PROPAGATION, name) ? PROPAGATION[name] : undefined;
  if (v === undefined) throw new Error(`unknown propagation "${name}"`);
  return v;
}
