import { shellQuote as q } from '../shell/quote.js';

// Which processes run a static pod, read from the host's /proc (a
// container's processes are the host's too) with no crictl, so the same
// facts hold under podman `kube play` as under a kubelet. A pod's processes
// are those with its binary's name whose command line names the file it
// reads: the name alone is not enough where two pods run the same binary
// (the endpoint's haproxy and the local proxy's on a master), nor where a
// systemd service runs it from the same file (the proxy's own unit, left out
// by its cgroup). Nothing here changes the host.

export interface PodProcessSpec {
  /** The word the script's line starts with. */
  key: string;
  /** The binary's process name (/proc/PID/comm). */
  comm: string;
  /** A path its command line names: the configuration the pod runs. */
  names: string;
  /** The pod's manifest: a process started after it was last written runs it. */
  manifest: string;
  /** A systemd unit whose processes are not the pod's, though they run the same file. */
  exceptUnit?: string;
}

/**
 * Shell lines: `kubelet yes|no`, then one line per pod, `KEY running
 * <start> <manifest mtime>` or `KEY absent 0 <manifest mtime>` (seconds
 * since the epoch, to the clock tick and the nanosecond). The start is the
 * oldest matching process's (keepalived's parent, haproxy's and nginx's
 * master): when the pod started. It is computed from /proc/uptime and now,
 * read together: /proc/stat's btime is whole seconds, and a pod that started
 * in the second its manifest was written read as older than it (lab: 0.52 s
 * after the write).
 */
export function podProcessScript(pods: readonly PodProcessSpec[]): string {
  return [
    'LC_ALL=C; export LC_ALL',
    'ticks=$(getconf CLK_TCK 2>/dev/null || echo 100)',
    'read -r up _ </proc/uptime; now=$(date +%s.%N)',
    'kubelet=no',
    'for d in /proc/[0-9]*; do { read -r c <"$d/comm"; } 2>/dev/null || continue; if [ "$c" = kubelet ]; then kubelet=yes; break; fi; done',
    'echo "kubelet $kubelet"',
    'kha_pod() {',
    '  first=',
    '  for d in /proc/[0-9]*; do',
    '    { read -r c <"$d/comm"; } 2>/dev/null || continue',
    '    [ "$c" = "$2" ] || continue',
    "    args=$(tr '\\0' ' ' <\"$d/cmdline\" 2>/dev/null) || continue",
    '    case $args in *"$3"*) ;; *) continue ;; esac',
    '    if [ -n "$5" ] && grep -q "/$5\\$" "$d/cgroup" 2>/dev/null; then continue; fi',
    "    s=$(awk '{print $22}' \"$d/stat\" 2>/dev/null) || continue",
    '    [ -n "$s" ] || continue',
    '    if [ -z "$first" ] || [ "$s" -lt "$first" ]; then first=$s; fi',
    '  done',
    '  m=$(date -r "$4" +%s.%N 2>/dev/null || echo 0)',
    `  if [ -n "$first" ]; then echo "$1 running $(awk -v now="$now" -v up="$up" -v s="$first" -v t="$ticks" 'BEGIN { printf "%.3f", now - up + s / t }') $m"; else echo "$1 absent 0 $m"; fi`,
    '}',
    ...pods.map((p) => `kha_pod ${[p.key, p.comm, p.names, p.manifest, p.exceptUnit ?? ''].map(q).join(' ')}`),
  ].join('\n');
}

export interface PodProcess {
  running: boolean;
  /** A process started after its manifest was last written: the pod runs this manifest. */
  current: boolean;
  /** Seconds from the manifest's last write to the pod's start, when it runs. */
  startedAfterS?: number;
}

/** Pure: the lines podProcessScript printed, by their first word. */
export function podProcessLines(text: string): Map<string, string[]> {
  return new Map(text.split('\n').map((l) => l.trim().split(/\s+/)).map((w) => [w[0] ?? '', w.slice(1)] as const));
}

/** Pure: one pod's line. A process started after its manifest was written runs it (both times to the clock tick, 10 ms). */
export function podProcess(lines: Map<string, string[]>, key: string): PodProcess {
  const [state, started, written] = lines.get(key) ?? [];
  const running = state === 'running';
  const after = Number(started) - Number(written);
  return running ? { running, current: after >= 0, startedAfterS: after } : { running, current: false };
}

/** Pure: whether a process named kubelet runs (the first line). */
export function kubeletRuns(lines: Map<string, string[]>): boolean {
  return lines.get('kubelet')?.[0] === 'yes';
}
