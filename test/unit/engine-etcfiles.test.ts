// The checks of HostConfig's name resolution (ExtraHosts, Dns, DnsSearch, DnsOptions) and the
// parsing of the host's resolv.conf that the container's is rebuilt from: docker's accepted
// shapes pass, the rest is a 400 naming the entry.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { InvalidParameterError } from '../../src/engine/errors.ts';
import { checkResolution, nameservers } from '../../src/engine/containers/etcfiles.ts';

describe('etc files: checkResolution and resolv.conf parsing', () => {
  it('accepts what docker accepts: IPv6 after the first colon, a trailing dot or "." in a search, options with spaces', () => {
    checkResolution({
      ExtraHosts: ['a:10.0.0.1', 'b:::1', 'c:fd00::1:2', 'd e:10.0.0.2'], Dns: ['10.0.0.1', '2001:db8::1'],
      DnsSearch: ['example.com', 'example.com.', '.', 'a-b.c'], DnsOptions: ['ndots:2 timeout:1', 'rotate'],
    });
    checkResolution({ ExtraHosts: null, Dns: null, DnsSearch: null, DnsOptions: null });
  });

  it('refuses the rest with the entry named', () => {
    const refused = (hc: Parameters<typeof checkResolution>[0], message: string): void => {
      assert.throws(() => checkResolution(hc), (e: unknown) => e instanceof InvalidParameterError && e.message === message);
    };
    refused({ ExtraHosts: ['nocolon'] }, 'bad format for add-host: "nocolon" (HostConfig.ExtraHosts[0]: want NAME:IP)');
    refused({ ExtraHosts: ['h:10.0.0.256'] }, 'invalid IP address in add-host: "10.0.0.256" (HostConfig.ExtraHosts[0])');
    refused({ ExtraHosts: ['h:fe80::1%eth0'] }, 'invalid IP address in add-host: "fe80::1%eth0" (HostConfig.ExtraHosts[0])');
    refused({ Dns: ['8.8.8'] }, 'HostConfig.Dns[0]: "8.8.8" is not an ip address');
    refused({ DnsSearch: ['123'] }, 'HostConfig.DnsSearch[0]: "123" is not a valid domain');
    refused({ DnsSearch: ['a..b'] }, 'HostConfig.DnsSearch[0]: "a..b" is not a valid domain');
    refused({ DnsOptions: ['a\rb'] }, 'HostConfig.DnsOptions[0]: "a\\rb" holds a control character');
  });

  it('nameservers: addresses of nameserver lines, comments and junk skipped', () => {
    assert.deepEqual(nameservers('# generated\nnameserver 10.0.0.1 # main\n  nameserver\t::1\nnameserver bogus\nsearch x\nnameserver fe80::1%eth0\n#nameserver 10.0.0.9\n'),
      ['10.0.0.1', '::1', 'fe80::1%eth0']);
  });
});
