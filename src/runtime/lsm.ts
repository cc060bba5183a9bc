/**
 * The Linux security modules of this host, as runc's go-selinux and apparmor packages detect
 * them. berth-oci applies neither an AppArmor profile nor an SELinux label: these only decide
 * which message refuses a config that asks for one (and what `features` reports).
 */
import { existsSync, readFileSync } from 'node:fs';

export function apparmorEnabled(): boolean {
  try {
    return readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').startsWith('Y');
  } catch {
    return false;
  }
}

export function selinuxEnabled(): boolean {
  return existsSync('/sys/fs/selinux/enforce');
}
