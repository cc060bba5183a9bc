/**
 * A container's privileges: the capability set from --cap-add/--cap-drop/--privileged (moby
 * oci/caps TweakCapabilities) and --security-opt (seccomp=unconfined|<profile JSON>,
 * no-new-privileges[=bool]; label= and apparmor=). label= and apparmor= are kept but enforce
 * nothing, as dockerd 20.10 does on a host without SELinux and AppArmor (this one): its
 * label.InitLabels returns no labels when SELinux is off, and WithApparmor sets no profile unless
 * AppArmor is enabled. berth applies neither even where the host has them.
 */
import { readFileSync } from 'node:fs';
import { CAP_LAST_CAP, capName } from '../../runtime/caps.ts';
import { InvalidParameterError } from '../errors.ts';
import { DOCKER_DEFAULT_CAPS } from './defaults.ts';

/**
 * The capabilities a container can be given: those this kernel knows that the engine itself
 * holds in its bounding set (what moby's caps list does since it runs in containers too); a
 * capability outside it would make the runtime's capset fail.
 */
export function availableCapabilities(): string[] {
  let last = CAP_LAST_CAP;
  let bounding = (1n << BigInt(CAP_LAST_CAP + 1)) - 1n;
  try {
    last = Number.parseInt(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'), 10);
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) bounding = BigInt(`0x${m[1]}`);
  } catch {
    // not Linux /proc: every capability berth knows
  }
  const out: string[] = [];
  for (let i = 0; i <= Math.min(last, CAP_LAST_CAP); i++) if ((bounding >> BigInt(i)) & 1n) out.push(capName(i)!);
  return out;
}

/** Upper-cases, adds CAP_, keeps ALL; docker's `unknown capability: "CAP_X"`. */
function normalize(caps: readonly string[], known: readonly string[]): string[] {
  return caps.map((c) => {
    let u = c.toUpperCase();
    if (u === 'ALL') return u;
    if (!u.startsWith('CAP_')) u = `CAP_${u}`;
    if (!known.includes(u)) throw new InvalidParameterError(`unknown capability: ${JSON.stringify(u)}`);
    return u;
  });
}

/** The container's capabilities (bounding = effective = permitted), as docker computes them. */
export function tweakCapabilities(adds: readonly string[], drops: readonly string[], privileged: boolean, available: readonly string[] = availableCapabilities()): string[] {
  const all = [...available];
  if (privileged) return all;
  if (adds.length === 0 && drops.length === 0) return [...DOCKER_DEFAULT_CAPS];
  const capDrop = normalize(drops, all);
  const capAdd = normalize(adds, all);
  if (capAdd.includes('ALL')) return all.filter((c) => !capDrop.includes(c));
  if (capDrop.includes('ALL')) return [...new Set(capAdd)];
  const out = DOCKER_DEFAULT_CAPS.filter((c) => !capDrop.includes(c));
  for (const c of capAdd) if (!out.includes(c)) out.push(c);
  return out;
}

export interface SecurityOptions {
  /** undefined: the default profile; "unconfined"; or a profile's JSON text */
  seccomp?: string;
  noNewPrivileges: boolean;
  /** the last apparmor=PROFILE (docker's container.AppArmorProfile as create sets it) */
  appArmorProfile?: string;
}

/** HostConfig.SecurityOpt, with docker's `invalid --security-opt` messages. */
export function parseSecurityOpts(opts: readonly string[]): SecurityOptions {
  const out: SecurityOptions = { noNewPrivileges: false };
  for (const opt of opts) {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    if (opt === 'disable') continue; // label=disable's old spelling
    // docker accepts "key=value" and the deprecated "key:value"
    let i = opt.indexOf('=');
    if (i < 0) i = opt.indexOf(':');
    if (i < 0) throw new InvalidParameterError(`invalid --security-opt 1: ${JSON.stringify(opt)}`);
    const key = opt.slice(0, i);
    const value = opt.slice(i + 1);
    switch (key) {
      case 'label':
        break;
      case 'apparmor':
        out.appArmorProfile = value;
        break;
      case 'seccomp':
        out.seccomp = value;
        break;
      case 'no-new-privileges':
        if (!['true', 'false', '1', '0', 't', 'f', 'TRUE', 'FALSE', 'True', 'False', 'T', 'F'].includes(value)) {
          throw new InvalidParameterError(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
        }
        out.noNewPrivileges = ['true', '1', 't', 'TRUE', 'True', 'T'].includes(value);
        break;
      default:
        throw new InvalidParameterError(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
    }
  }
  return out;
}
