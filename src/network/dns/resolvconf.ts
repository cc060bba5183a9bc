/**
 * The host's /etc/resolv.conf as glibc reads it: every `nameserver`, the last `search` or `domain`
 * line (each replaces the one before), and every `options` token. Unknown lines are ignored, as
 * glibc does.
 */
export interface HostResolvers {
  nameservers: string[];
  search: string[];
  options: string[];
}

export function hostResolvers(resolvConfText: string): HostResolvers {
  const out: HostResolvers = { nameservers: [], search: [], options: [] };
  for (const raw of resolvConfText.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const [key, ...args] = line.split(/[ \t]+/);
    // a comment may follow the values
    const end = args.findIndex((a) => a.startsWith('#') || a.startsWith(';'));
    const values = end < 0 ? args : args.slice(0, end);
    switch (key) {
      case 'nameserver':
        if (values[0]) out.nameservers.push(values[0]);
        break;
      case 'search':
        out.search = values;
        break;
      case 'domain':
        out.search = values.slice(0, 1);
        break;
      case 'options':
        out.options.push(...values);
        break;
    }
  }
  return out;
}
