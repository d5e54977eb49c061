import { spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { outputFor, type CliContext, type CommandRegistrar } from '../cli.js';
import { HostError, InputError } from '../errors.js';
import { FAULT_KINDS, injectFault, isFaultKind, requireLab } from '../lab/faults.js';
import { requireRoot } from '../lab/hosttools.js';
import { isWorker, kubeadmInit, kubeadmJoin, kubeadmJoinWorker, type KubeadmReport } from '../lab/kubeadm.js';
import { labDown, labUp } from '../lab/lifecycle.js';
import { netnsExists } from '../lab/network.js';
import { ON_MASTERS_PORT } from '../lab/hostsfile.js';
import { CONTROLLER_NS, LIMITS } from '../lab/state.js';
import { defaultVip, labStatus, type LabStatus } from '../lab/status.js';

function count(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n > max) throw new InvalidArgumentError(`a whole number from 0 to ${max}`);
    return n;
  };
}

function runInController(ctx: CliContext, argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', CONTROLLER_NS, ...argv], { stdio: ['inherit', 'pipe', 'pipe'] });
    child.stdout.on('data', (b: Buffer) => ctx.streams.stdout(b.toString()));
    child.stderr.on('data', (b: Buffer) => ctx.streams.stderr(b.toString()));
    child.on('error', (e) => reject(new HostError('localhost', 'lab exec', e.message)));
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

export const registerLab: CommandRegistrar = (program: Command, ctx: CliContext) => {
  const lab = program
    .command('lab')
    .description('a lab of real machines on this box (systemd-nspawn, one network namespace each) to try and test kha; needs root')
    .addHelpText(
      'after',
      '\nExample: kha lab up && kha validate /var/lib/kha/lab/hosts.yaml && kha lab fault crash lb1 && kha lab down',
    );

  lab
    .command('up')
    .description('boot the lab machines and write a hosts.yaml for them (builds and caches the Debian root fs the first time)')
    .option('--lbs <n>', `load balancers (max ${LIMITS.lbs})`, count(LIMITS.lbs), 2)
    .option('--masters <n>', `masters with a kube-apiserver stand-in (max ${LIMITS.masters})`, count(LIMITS.masters), 3)
    .option('--workers <n>', `workers (max ${LIMITS.workers})`, count(LIMITS.workers), 0)
    .option('--before-kubeadm', 'masters without an apiserver or its certificate yet, as before kubeadm init (then: kha lab kubeadm)')
    .option('--on-masters', `no load balancers: the masters carry the endpoint too, haproxy on ${ON_MASTERS_PORT} in front of the apiservers on 6443 (source 004)`)
    .option(
      '--static-pods',
      'implies --on-masters: keepalived and haproxy as static pods (source 002); the masters get podman and a kubelet stand-in (podman kube play), and images built from Debian\'s packages',
    )
    .option(
      '--proxy-pods',
      "the workers' local proxy as a static pod (node_proxy.static_pod): they get podman, their kubelet stand-in plays manifests too, and the lab's haproxy image",
    )
    .option('--json', 'print the result as JSON')
    .action(
      async (
        opts: { lbs: number; masters: number; workers: number; beforeKubeadm?: boolean; onMasters?: boolean; staticPods?: boolean; proxyPods?: boolean; json?: boolean },
        command: Command,
      ) => {
      const out = outputFor(ctx, Boolean(opts.json));
      const onMasters = Boolean(opts.onMasters || opts.staticPods);
      // --lbs has a default for the usual lab; on the masters it is 0 unless the user asked for load balancers too.
      const lbs = onMasters && command.getOptionValueSource('lbs') !== 'cli' ? 0 : opts.lbs;
      const report = await labUp({ lbs, masters: opts.masters, workers: opts.workers }, ctx.env, (l) => out.line(l), {
        beforeKubeadm: Boolean(opts.beforeKubeadm),
        endpointOnMasters: onMasters,
        staticPods: Boolean(opts.staticPods),
        proxyPods: Boolean(opts.proxyPods),
      });
      out.line(
        `root fs: ${report.rootfs.built ? `built in ${report.rootfs.seconds.toFixed(1)} s` : 'from cache'}; ` +
          `apt repo: ${report.aptRepo.packages} packages${report.aptRepo.built ? ` downloaded in ${report.aptRepo.seconds.toFixed(1)} s` : ' from cache'}` +
          (report.images
            ? `; images ${report.images.keepalived} ${report.images.haproxy}: ${report.images.built ? `built in ${report.images.seconds.toFixed(1)} s` : 'from cache'}`
            : ''),
      );
      const first = report.machines[0];
      out.line(`lab up in ${report.seconds.toFixed(1)} s`);
      if (first) {
        out.line(
          `log in: kha lab exec -- ssh -i ${dirname(report.hostsYaml)}/id_ed25519 -o UserKnownHostsFile=${dirname(report.hostsYaml)}/known_hosts root@${first.address}`,
        );
      }
      out.line(report.hostsYaml);
      out.result({ ok: true, ...report });
      },
    );

  lab
    .command('down')
    .description('remove every machine, namespace, veth, bridge and mount of the lab, and check nothing is left')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }) => {
      const out = outputFor(ctx, Boolean(opts.json));
      const report = await labDown(ctx.env, (l) => out.line(l));
      out.result({ ok: true, ...report });
    });

  lab
    .command('status')
    .description('each machine: state, link, memory; and who holds the VIP')
    .option('--vip <address>', 'the VIP to look for (default: from the lab hosts.yaml)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { vip?: string; json?: boolean }) => {
      const out = outputFor(ctx, Boolean(opts.json));
      requireRoot();
      const state = await requireLab(ctx.env);
      const vip = opts.vip ?? (await defaultVip(ctx.env, state));
      if (vip !== null && !/^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(vip)) throw new InputError(`--vip '${vip}' is not an IPv4 address`);
      const s = await labStatus(ctx.env, state, vip);
      out.line(`${'machine'.padEnd(8)}${'role'.padEnd(8)}${'address'.padEnd(13)}${'state'.padEnd(9)}${'link'.padEnd(10)}${'memory'.padEnd(11)}${'vip'.padEnd(6)}services`);
      for (const m of s.machines) {
        out.line(
          `${m.name.padEnd(8)}${m.role.padEnd(8)}${m.address.padEnd(13)}${m.state.padEnd(9)}${m.link.padEnd(10)}` +
            `${(m.memoryMiB === null ? '-' : `${m.memoryMiB} MiB`).padEnd(11)}${(m.holdsVip ? 'holds' : '-').padEnd(6)}` +
            [
              ...Object.entries(m.services).map(([unit, state]) => `${unit}:${state}`),
              ...(m.pods ? [`pods:${Object.entries(m.pods).map(([pod, state]) => `${pod}=${state}`).join(',') || 'none'}`] : []),
            ].join(' '),
        );
      }
      out.line(vipLine(s));
      out.result({ ok: true, ...s });
    });

  lab
    .command('fault')
    .description('inject a fault into a lab machine from outside it and print the exact injection time')
    .argument('<kind>', FAULT_KINDS.join(' | '))
    .argument('<host>', 'machine name (lb1, m2, ...) or address')
    .option('--json', 'print the result as JSON')
    .action(async (kind: string, host: string, opts: { json?: boolean }) => {
      const out = outputFor(ctx, Boolean(opts.json));
      if (!isFaultKind(kind)) throw new InputError(`unknown fault '${kind}'; one of: ${FAULT_KINDS.join(', ')}`);
      requireRoot();
      const r = await injectFault(ctx.env, kind, host);
      out.line(`${r.injectedAt} ${r.kind} ${r.host}: ${r.detail}`);
      out.result({ ok: true, ...r });
    });

  const kubeadm = lab
    .command('kubeadm')
    .description("a stand-in for kubeadm on a lab machine: a master's apiserver certificate gets the SANs kubeadm would give it, then the apiserver stand-in starts; a worker gets its kubelet.conf and kubelet")
    .addHelpText('after', '\nExample: kha kubeadm hosts.yaml --out c.yaml && kha lab kubeadm init m1 --config c.yaml && kha lab kubeadm join m2');

  const sayIssued = (out: ReturnType<typeof outputFor>, verb: string, r: KubeadmReport) => {
    out.line(
      `${r.master}: ${verb}; apiserver certificate SANs ${[...r.sans.dns, ...r.sans.ip].join(', ')}; apiserver up` +
        (r.kubelet ? '; kubelet started (it runs the static pods)' : r.kubeletServer ? `; kubelet started, its kubelet.conf says server ${r.kubeletServer}` : ''),
    );
    if (r.adminConf) out.line(`admin kubeconfig (kubeadm's /etc/kubernetes/admin.conf): ${r.adminConf}; kha verify-failover --kubeconfig takes it`);
    out.result({ ok: true, ...r });
  };

  kubeadm
    .command('init')
    .description('kubeadm init --config FILE on a master: its certificate from the file, as kubeadm would issue it')
    .argument('<master>', 'a lab master (m1, ...)')
    .requiredOption('--config <file>', 'a kubeadm configuration (kha kubeadm writes one)')
    .option('--json', 'print the result as JSON')
    .action(async (master: string, opts: { config: string; json?: boolean }) => {
      requireRoot();
      sayIssued(outputFor(ctx, Boolean(opts.json)), 'initialised', await kubeadmInit(ctx.env, master, opts.config));
    });

  kubeadm
    .command('join')
    .description(
      "kubeadm join through the cluster's controlPlaneEndpoint: on a master, --control-plane with the configuration init recorded; on a worker, its kubelet.conf written and its kubelet (the lab's stand-in) started",
    )
    .argument('<host>', 'a lab master (m2, ...) or worker (w1, ...)')
    .option('--json', 'print the result as JSON')
    .action(async (host: string, opts: { json?: boolean }) => {
      requireRoot();
      const out = outputFor(ctx, Boolean(opts.json));
      if (await isWorker(ctx.env, host)) {
        const r = await kubeadmJoinWorker(ctx.env, host);
        out.line(`${r.worker}: joined; /etc/kubernetes/kubelet.conf says server ${r.server}; kubelet started`);
        out.result({ ok: true, ...r });
        return;
      }
      sayIssued(out, 'joined', await kubeadmJoin(ctx.env, host));
    });

  lab
    .command('exec')
    .description('run a command inside the controller network namespace (where the lab addresses are reachable)')
    .argument('<command...>', 'command and its arguments (put -- before them)')
    .action(async (argv: string[]) => {
      requireRoot();
      if (!netnsExists(CONTROLLER_NS)) throw new InputError('no lab is up: run kha lab up first');
      const code = await runInController(ctx, argv);
      if (code !== 0) {
        ctx.streams.stderr(`kha: ${argv[0] ?? 'command'} exited ${code}\n`);
        ctx.exit(1);
      }
    });
};

function vipLine(s: LabStatus): string {
  if (s.vip === null) return "no VIP: the lab's hosts.yaml has none, and each host's local proxy is its endpoint";
  if (s.holders.length === 0) return `VIP ${s.vip}: nobody holds it`;
  return `VIP ${s.vip}: held by ${s.holders.join(', ')}${s.holders.length > 1 ? ' (more than one holder: split brain)' : ''}`;
}
