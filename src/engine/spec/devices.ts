/**
 * Host devices for `--device` and `--privileged` (moby oci/devices_linux.go and runc's
 * libcontainer/devices): each becomes a linux.devices node the runtime creates, and a cgroup
 * rule allowing it.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Device, DeviceCgroupRule } from '../../runtime/spec/types.ts';
import { InvalidParameterError } from '../errors.ts';

export interface DeviceEntry {
  device: Device;
  rule: DeviceCgroupRule;
}

const S_IFMT = 0o170000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

// glibc's gnu_dev_major/minor
const major = (rdev: number): number => Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
const minor = (rdev: number): number => Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));

async function deviceFromPath(hostPath: string, permissions: string): Promise<Device | undefined> {
  const st = await fs.lstat(hostPath);
  const fmt = st.mode & S_IFMT;
  let type: Device['type'];
  if (fmt === S_IFCHR) type = 'c';
  else if (fmt === S_IFBLK) type = 'b';
  else if (fmt === S_IFIFO) type = 'p';
  else return undefined;
  void permissions;
  return { type, path: hostPath, major: major(st.rdev), minor: minor(st.rdev), fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

function entry(d: Device, inContainer: string, permissions: string): DeviceEntry {
  const rule: DeviceCgroupRule = { allow: true, type: d.type === 'b' ? 'b' : 'c', major: d.major, minor: d.minor, access: permissions };
  return { device: { ...d, path: inContainer }, rule };
}

/**
 * `--device HOST[:CONTAINER][:PERMS]` as HostConfig.Devices carries it: the node, or every node
 * under a directory; a symlink is followed. docker's message for a path that does not exist.
 */
export async function devicesFromPath(pathOnHost: string, pathInContainer: string, permissions: string): Promise<DeviceEntry[]> {
  if (!/^[rwm]{1,3}$/.test(permissions) || new Set(permissions).size !== permissions.length) {
    throw new InvalidParameterError(`invalid device mode: ${permissions}`);
  }
  let resolved = pathOnHost;
  try {
    resolved = await fs.realpath(pathOnHost);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new InvalidParameterError(`error gathering device information while adding custom device "${pathOnHost}": no such file or directory`);
    }
    throw e;
  }
  const d = await deviceFromPath(resolved, permissions);
  if (d) return [entry(d, pathInContainer || pathOnHost, permissions)];
  const st = await fs.stat(resolved);
  if (!st.isDirectory()) throw new InvalidParameterError(`error gathering device information while adding custom device "${pathOnHost}": not a device node`);
  const out: DeviceEntry[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const name of await fs.readdir(dir)) {
      const p = path.join(dir, name);
      const s = await fs.lstat(p).catch(() => undefined);
      if (!s) continue;
      if (s.isDirectory()) await walk(p);
      else {
        const child = await deviceFromPath(p, permissions).catch(() => undefined);
        if (child) out.push(entry(child, path.join(pathInContainer || pathOnHost, path.relative(resolved, p)), permissions));
      }
    }
  };
  await walk(resolved);
  return out;
}

// runc's HostDevices skips these under /dev
const SKIP_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Every device node of the host's /dev (what `--privileged` gives), but /dev/console. */
export async function hostDevices(root = '/dev'): Promise<Device[]> {
  const out: Device[] = [];
  const walk = async (dir: string): Promise<void> => {
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const p = path.join(dir, name);
      const s = await fs.lstat(p).catch(() => undefined);
      if (!s) continue;
      if (s.isDirectory()) {
        if (!SKIP_DIRS.has(name)) await walk(p);
        continue;
      }
      if (p === '/dev/console') continue;
      const d = await deviceFromPath(p, 'rwm').catch(() => undefined);
      if (d && d.type !== 'p') out.push(d);
    }
  };
  await walk(root);
  return out;
}
