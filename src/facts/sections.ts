// The probe's output is a run of sections, each opened by a header line
// `@@kha:<kind>@@` or `@@kha:<kind> <item>@@` (item: a requested path, unit
// or sysctl, printed verbatim). The script and the parser share these names
// so that they cannot drift apart.

export const SECTION = {
  osRelease: 'os-release',
  uid: 'uid',
  init: 'init',
  packageManagers: 'package-managers',
  selinux: 'selinux',
  firewalld: 'firewalld',
  firewalldRuntime: 'firewalld-runtime',
  firewalldPermanent: 'firewalld-permanent',
  ufwStatus: 'ufw-status',
  ufwAdded: 'ufw-added',
  links: 'links',
  addresses: 'addresses',
  route: 'route',
  package: 'package',
  file: 'file',
  fileContents: 'file-contents',
  directory: 'directory',
  service: 'service',
  sysctl: 'sysctl',
  apiservers: 'apiservers',
  listener: 'listener',
  end: 'end',
} as const;

export type SectionKind = (typeof SECTION)[keyof typeof SECTION];

const HEADER = /^@@kha:([a-z0-9-]+)(?: (.*))?@@$/;
const KINDS = new Set<string>(Object.values(SECTION));

export function sectionKey(kind: string, item?: string): string {
  return item === undefined ? kind : `${kind} ${item}`;
}

/** Thrown by the section parsers; parseProbe adds the host and section. */
export class SectionError extends Error {}

/**
 * Splits the probe's stdout into sections keyed by `kind` or `kind item`.
 * Anything before the first header is dropped: a login shell's rc files may
 * print there, and it is not the probe's output.
 */
export function splitSections(output: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of output.split('\n')) {
    const header = HEADER.exec(line);
    if (header) {
      const [, kind = '', item] = header;
      if (!KINDS.has(kind)) throw new SectionError(`unknown section header "${line}"`);
      const key = sectionKey(kind, item);
      if (sections.has(key)) throw new SectionError(`section "${key}" appears twice`);
      current = [];
      sections.set(key, current);
    } else if (current && line.trim() !== '') {
      current.push(line);
    }
  }
  return sections;
}
