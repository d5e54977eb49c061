import { HostError } from '../errors.js';
import {
  combineFirewall,
  parseFirewalldSummary,
  parseInterfaces,
  parseListAll,
  parseRoute,
  parseUfwAdded,
  parseUfwStatus,
} from './parse-network.js';
import { assignContents, parseApiservers, parseDirectory, parseFile, parseListeners, parseService, parseSysctl } from './parse-state.js';
import { parseInit, parseOsRelease, parsePackageManager, parsePackageVersion, parseSelinux, parseUid } from './parse-system.js';
import { SECTION, SectionError, sectionKey, splitSections, type SectionKind } from './sections.js';
import type { HostFacts, ProbeRequest } from './types.js';

// The probe's whole output → HostFacts. Pure. Sections that a distribution
// has no reason to print (no firewalld, no ufw) are optional; a section the
// script always prints is required, so a truncated output cannot pass for
// a host that has nothing.

function failure(host: string, key: string, detail: string): HostError {
  return new HostError(host, 'facts', `cannot read the probe's section "${key}": ${detail}`);
}

function guarded<T>(host: string, key: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SectionError) throw failure(host, key, err.message);
    throw err;
  }
}

class Reader {
  constructor(
    private readonly host: string,
    private readonly sections: Map<string, string[]>,
  ) {}

  read<T>(kind: SectionKind, item: string | undefined, parse: (lines: string[]) => T): T {
    const key = sectionKey(kind, item);
    const lines = this.sections.get(key);
    if (lines === undefined) throw failure(this.host, key, 'missing from the output (truncated, or another version of the probe?)');
    return guarded(this.host, key, () => parse(lines));
  }

  optional<T>(kind: SectionKind, parse: (lines: string[]) => T): T | undefined {
    return this.sections.has(kind) ? this.read(kind, undefined, parse) : undefined;
  }
}

export function parseProbe(host: string, output: string, req: ProbeRequest): HostFacts {
  const s = new Reader(host, guarded(host, '(all)', () => splitSections(output)));
  s.read(SECTION.end, undefined, () => undefined);

  const os = s.read(SECTION.osRelease, undefined, parseOsRelease);
  const links = s.read(SECTION.links, undefined, (l) => l);
  const interfaces = s.read(SECTION.addresses, undefined, (addresses) => parseInterfaces(links, addresses));
  const summary = s.read(SECTION.firewalld, undefined, parseFirewalldSummary);
  const running = summary.running;
  const vip = req.vip;

  return {
    host,
    os,
    uid: s.read(SECTION.uid, undefined, parseUid),
    systemd: s.read(SECTION.init, undefined, parseInit),
    packageManager: s.read(SECTION.packageManagers, undefined, (l) => parsePackageManager(l, os.family)),
    selinux: s.read(SECTION.selinux, undefined, parseSelinux),
    firewall: combineFirewall({
      summary,
      ...(running && {
        runtime: s.read(SECTION.firewalldRuntime, undefined, parseListAll),
        permanent: s.read(SECTION.firewalldPermanent, undefined, parseListAll),
      }),
      ufwActive: s.optional(SECTION.ufwStatus, parseUfwStatus) ?? null,
      ufwRules: s.optional(SECTION.ufwAdded, parseUfwAdded) ?? null,
    }),
    interfaces,
    routeToVip: vip === undefined ? null : s.read(SECTION.route, undefined, (l) => parseRoute(l, vip, interfaces)),
    packages: {
      keepalived: s.read(SECTION.package, 'keepalived', parsePackageVersion),
      haproxy: s.read(SECTION.package, 'haproxy', parsePackageVersion),
    },
    ...(req.ports && { listeners: Object.fromEntries(req.ports.map((p) => [p, s.read(SECTION.listener, String(p), parseListeners)])) }),
    ...(req.packages && { packageVersions: Object.fromEntries(req.packages.map((p) => [p, s.read(SECTION.package, p, parsePackageVersion)])) }),
    files: s.read(SECTION.fileContents, undefined, (l) =>
      assignContents(
        req.files.map((path) => s.read(SECTION.file, path, (lines) => parseFile(path, lines))),
        l,
      ),
    ),
    directories: req.directories.map((path) => s.read(SECTION.directory, path, (l) => parseDirectory(path, l))),
    services: req.services.map((name) => s.read(SECTION.service, name, (l) => parseService(name, l))),
    sysctls: Object.fromEntries(req.sysctls.map((key) => [key, s.read(SECTION.sysctl, key, parseSysctl)])),
    apiserversReachable: s.read(SECTION.apiservers, undefined, parseApiservers),
  };
}
