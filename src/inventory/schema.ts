import { INTERFACE_NAME, INTERFACE_NAME_RULE } from './interface-name.js';
import * as z from 'zod';
import { IPV4_CIDR_RE, IPV4_RE, ipv4Complaint } from './addresses.js';
import { AUTH_PASS_CHARS_MESSAGE, AUTH_PASS_DESCRIPTION, AUTH_PASS_RE } from './secrets.js';
import { quote } from './show.js';

// The one definition of hosts.yaml. The validator (load.ts) and the JSON
// Schema shipped for editors (schema/hosts.schema.json) both come from here,
// so they cannot disagree. Shape checks live here; checks that relate one
// value to another (subnets, duplicates, VRRP version) live in semantic.ts.
//
// Every string that reaches a template is single-line by construction: a
// newline in a value could otherwise inject configuration.

const ONE_LINE = 'must be a single line: a line break here would change the configuration kha writes; remove it';
const singleLine = z.string().regex(/^[^\n\r\0]*$/, { error: () => ONE_LINE });

// A missing address yields to the generic "is required" (describe.ts), which
// names what the address is for.
const ipv4 = z
  .string({ error: (iss) => (iss.input === undefined ? undefined : ipv4Complaint(iss.input)) })
  .regex(IPV4_RE, { error: (iss) => ipv4Complaint(iss.input) });

const ipv4WithPrefix = z
  .string({ error: (iss) => (iss.input === undefined ? undefined : ipv4Complaint(iss.input, true)) })
  .regex(IPV4_CIDR_RE, { error: (iss) => ipv4Complaint(iss.input, true) });

const port = (description: string) =>
  z.number().int().min(1).max(65535).meta({ description });

const hostName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
    error: (iss) =>
      `${quote(String(iss.input))} is not a usable host name: start with a letter or digit, then letters, digits, '.', '_' or '-', at most 63 characters (it names a directory in kha render's output)`,
  })
  .meta({ description: 'Short name of the host, used in messages and as its directory in `kha render` output' });

const interfaceName = z
  .string()
  .regex(INTERFACE_NAME, {
    error: (iss) => `${quote(String(iss.input))} is not a Linux interface name (${INTERFACE_NAME_RULE})`,
  })
  .meta({ description: 'Network interface that carries this host\'s address and will carry the VIP; discovered from the route to the VIP when left out' });

/**
 * A secret is written either as `env:NAME` (read from the environment when
 * kha runs, the recommended form) or literally. A bare YAML number is refused:
 * YAML reads `auth_pass: 0042` as the number 42, silently changing the password.
 */
const secretString = () =>
  z
    .string({
      error: (iss) =>
        typeof iss.input === 'number'
          ? 'must be a string: YAML reads an unquoted number (and drops its leading zeros), so quote it, or better write env:VARIABLE'
          : 'must be a string: env:VARIABLE or a literal',
    })
    .min(1, { error: () => 'is empty; write env:VARIABLE or leave the key out' });

const secretRef = secretString().regex(/^[^\n\r\0]*$/, { error: () => ONE_LINE });

/** A literal auth_pass must be one word to keepalived; the env: form is checked once the variable is read (semantic.ts). */
const authPassRef = secretString().regex(AUTH_PASS_RE, { error: () => AUTH_PASS_CHARS_MESSAGE });

const sshFields = {
  user: z
    .string()
    // No regex flags here: JSON Schema patterns have none, and the shipped schema must agree.
    .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/, {
      error: (iss) => `${quote(String(iss.input))} is not a valid login name (a letter or '_', then letters, digits, '_', '.', '-')`,
    })
    .meta({ description: 'Login user (default root)' }),
  port: port('SSH port (default 22)'),
  identity_file: singleLine.meta({
    description: 'Private key file; ~ is expanded. Left out: the SSH agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa',
  }),
  known_hosts: singleLine.meta({
    description: 'known_hosts file whose entries the host keys must match (default ~/.ssh/known_hosts); unknown keys are refused',
  }),
  sudo: z.boolean().meta({ description: 'Use sudo for a non-root user: sudo -n, or sudo -S with sudo_password' }),
  sudo_password: secretRef.meta({
    description: 'Password for sudo: env:VARIABLE (recommended) or a literal; never printed',
  }),
  jump: singleLine
    .regex(/^(?:[A-Za-z0-9_.-]+@)?[A-Za-z0-9_.-]+(?::\d{1,5})?$/, {
      error: (iss) => `${quote(String(iss.input))} is not a jump host; write [user@]host[:port]`,
    })
    .meta({ description: 'Jump host to connect through: [user@]host[:port] (like ssh -J)' }),
  connect_timeout: z.number().min(1).max(300).meta({ description: 'Seconds to wait for the SSH handshake (default 10)' }),
};

const sshDefaults = z.strictObject({
  user: sshFields.user.default('root'),
  port: sshFields.port.default(22),
  identity_file: sshFields.identity_file.optional(),
  known_hosts: sshFields.known_hosts.default('~/.ssh/known_hosts'),
  sudo: sshFields.sudo.default(false),
  sudo_password: sshFields.sudo_password.optional(),
  jump: sshFields.jump.optional(),
  connect_timeout: sshFields.connect_timeout.default(10),
});

/** A host may override any SSH default; nothing is required there. */
const sshOverride = z
  .strictObject({
    user: sshFields.user.optional(),
    port: sshFields.port.optional(),
    identity_file: sshFields.identity_file.optional(),
    known_hosts: sshFields.known_hosts.optional(),
    sudo: sshFields.sudo.optional(),
    sudo_password: sshFields.sudo_password.optional(),
    jump: sshFields.jump.optional(),
    connect_timeout: sshFields.connect_timeout.optional(),
  })
  .meta({ description: 'Overrides of the top-level ssh settings for this host' });

const cluster = z
  .strictObject({
    vip: ipv4WithPrefix.optional().meta({
      description:
        'The virtual IP clients use, with the prefix of the load balancers\' subnet (10.77.0.10/24). Without a prefix it is added as /32 and the subnet is checked only on the hosts. Required with lb; left out with lb when the only endpoint is each host\'s local proxy (node_proxy)',
    }),
    port: port('Port clients use on the VIP; haproxy listens on it (default 6443)').default(6443),
    dns_name: z
      .string()
      .regex(/^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/, {
        error: (iss) => `${quote(String(iss.input))} is not a DNS name; write labels of letters, digits and '-' separated by dots, like kubeapi.example.com`,
      })
      .optional()
      .meta({ description: 'DNS name clients use for the VIP; checked against the apiserver certificate\'s SANs' }),
  })
  .meta({ description: 'The endpoint clients see (with lb); without lb only cluster.port may be set, and it means nothing' });

const keepalived = z
  .strictObject({
    virtual_router_id: z
      .number()
      .int()
      .min(1)
      .max(255)
      .default(51)
      .meta({ description: 'VRRP router id, 1-255, unique among keepalived instances on this network segment (default 51)' }),
    advert_int: z
      .number()
      .min(0.01)
      .max(255)
      .optional()
      .meta({
        description:
          'Seconds between VRRP adverts. Below 1 s means VRRPv3. Default 0.1 (VRRPv3), or 1 when auth_pass is set (VRRPv2)',
      }),
    vrrp_version: z
      .union([z.literal(2), z.literal(3)])
      .optional()
      .meta({ description: 'VRRP version; derived: 2 when auth_pass is set, else 3' }),
    auth_pass: authPassRef.optional().meta({ description: AUTH_PASS_DESCRIPTION }),
    unicast: z.boolean().default(true).meta({
      description: 'Send adverts to the peers\' addresses (default true); false uses multicast 224.0.0.18',
    }),
    preempt: z.boolean().default(false).meta({
      description:
        'Let a returning higher-priority host take the VIP back (default false: a returning host stays backup, which costs clients nothing)',
    }),
    preempt_delay: z.number().int().min(0).max(1000).default(10).meta({
      description: 'With preempt: seconds a returning host waits before taking the VIP back, so its haproxy sees healthy backends first (default 10)',
    }),
    garp_master_delay: z.number().int().min(0).max(255).default(1).meta({
      description: 'Seconds after becoming master before the second burst of gratuitous ARPs (default 1)',
    }),
    garp_master_repeat: z.number().int().min(1).max(255).default(3).meta({
      description: 'Gratuitous ARPs per burst (default 3)',
    }),
    garp_master_refresh: z.number().int().min(0).max(3600).default(1).meta({
      description:
        'Seconds between gratuitous ARP refreshes while master, 0 to disable (default 1: after a split brain heals, clients still pointed at the host that stepped down are corrected within a second)',
    }),
    check_interval: z.number().int().min(1).max(60).default(1).meta({
      description: 'Seconds between runs of the haproxy check script (keepalived takes whole seconds; each run keeps asking haproxy until shortly before check_timeout; default 1)',
    }),
    check_timeout: z.number().int().min(1).max(60).default(1).meta({
      description: 'Seconds keepalived lets a check run before it counts as failed; each run keeps asking haproxy until shortly before then (default 1)',
    }),
    check_fall: z.number().int().min(1).max(20).default(1).meta({
      description: 'Failed checks before the host gives up the VIP (default 1)',
    }),
    check_rise: z.number().int().min(1).max(20).default(2).meta({
      description: 'Passed checks before the host may hold the VIP again (default 2)',
    }),
  })
  .meta({ description: 'VRRP settings shared by every load balancer' });

const haproxy = z
  .strictObject({
    balance: z.enum(['leastconn', 'roundrobin']).default('leastconn').meta({
      description: 'How new connections are spread (default leastconn: kubelets hold connections for hours, so count them)',
    }),
    health_path: z
      .string()
      .regex(/^\/[A-Za-z0-9/_.?=&-]*$/, { error: (iss) => `${quote(String(iss.input))} is not a URL path like /readyz` })
      .default('/readyz')
      .meta({ description: 'apiserver path haproxy checks over TLS (default /readyz)' }),
    check_inter_ms: z.number().int().min(100).max(60000).default(500).meta({
      description: 'Milliseconds between health checks of a healthy apiserver (default 500)',
    }),
    // A stopped apiserver leaves rotation within inter + (fall - 1) x fastinter:
    // 0.6 s with these defaults. At 200 ms the drill measured up to 1.03 s.
    check_fastinter_ms: z.number().int().min(50).max(60000).default(100).meta({
      description: 'Milliseconds between checks while a server is changing state (default 100)',
    }),
    check_downinter_ms: z.number().int().min(100).max(60000).default(1000).meta({
      description: 'Milliseconds between checks of a server that is down (default 1000)',
    }),
    check_fall: z.number().int().min(1).max(20).default(2).meta({ description: 'Failed checks before a server is taken out (default 2)' }),
    check_rise: z.number().int().min(1).max(20).default(2).meta({ description: 'Passed checks before a server is put back (default 2)' }),
    timeout_connect_ms: z.number().int().min(100).max(60000).default(1000).meta({
      description: 'Milliseconds to connect to an apiserver before retrying elsewhere (default 1000)',
    }),
    timeout_client_s: z.number().int().min(10).max(86400).default(3600).meta({
      description: 'Seconds a client connection may idle; watches live up to an hour (default 3600)',
    }),
    timeout_server_s: z.number().int().min(10).max(86400).default(3600).meta({
      description: 'Seconds a server connection may idle (default 3600)',
    }),
    retries: z.number().int().min(0).max(10).default(3).meta({ description: 'Connection retries before giving up (default 3)' }),
    maxconn: z.number().int().min(100).max(1000000).default(4000).meta({
      description: 'Global connection limit; needs about 2 file descriptors each, within the host\'s open-files limit (default 4000)',
    }),
    monitor_port: port('Local port (127.0.0.1) of haproxy\'s own health page, which keepalived\'s check script asks (default 8404)').default(8404),
    stats_socket: z
      .string()
      .regex(/^\/[A-Za-z0-9/_.-]+$/, { error: (iss) => `${quote(String(iss.input))} is not an absolute path` })
      .default('/var/lib/haproxy/stats')
      .meta({
        description: 'haproxy admin socket; its directory must exist at start (default /var/lib/haproxy/stats: /run/haproxy is missing on several distributions)',
      }),
    bind: z.enum(['any', 'vip']).default('any').meta({
      description: 'Listen on every address (any, default: backups start without the VIP) or on the VIP only (needs net.ipv4.ip_nonlocal_bind, which kha sets)',
    }),
  })
  .meta({ description: 'haproxy settings shared by every load balancer' });

const security = z
  .strictObject({
    selinux: z.enum(['boolean', 'permissive', 'keep']).default('boolean').meta({
      description: 'On SELinux hosts: set haproxy_connect_any (boolean, default), switch to permissive, or keep as is',
    }),
    firewall: z.enum(['auto', 'firewalld', 'ufw', 'none']).default('auto').meta({
      description: 'Open VRRP (from the peers) and the VIP port: in the firewall found running (auto), a given one, or none',
    }),
  })
  .meta({ description: 'How kha deals with SELinux and the host firewall' });

export const DEFAULT_HAPROXY_IMAGE = 'docker.io/library/haproxy:2.8';
export const DEFAULT_MANIFESTS_DIR = '/etc/kubernetes/manifests';

// An OCI image reference as the container runtimes read it:
// [registry[:port]/]path[:tag][@sha256:digest]. A tag or a digest is
// required: an untagged reference means :latest, which the kubelet pulls
// again on every start (imagePullPolicy Always), and an offline site cannot.
// No spaces or quotes: the reference goes into shell commands and manifests.
const IMAGE_NAME = String.raw`(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*`;
const IMAGE_TAG = '(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})';
const IMAGE_DIGEST = '(?:@sha256:[0-9a-f]{64})';
export const IMAGE_REF_RE = new RegExp(`^${IMAGE_NAME}(?:${IMAGE_TAG}${IMAGE_DIGEST}?|${IMAGE_DIGEST})$`);
const UNTAGGED_RE = new RegExp(`^${IMAGE_NAME}$`);

const imageReference = z.string().regex(IMAGE_REF_RE, {
  error: (iss) =>
    typeof iss.input === 'string' && UNTAGGED_RE.test(iss.input)
      ? `${quote(iss.input)} has no tag: it would mean :latest, which the kubelet pulls again at every start and an offline site cannot; add the tag (name:tag) or a digest (name@sha256:...)`
      : `${quote(String(iss.input))} is not an image reference; write [registry/]name:tag or name@sha256:<64 hex digits> (lowercase name, no spaces or quotes), like ${DEFAULT_HAPROXY_IMAGE}`,
});

const imageRef = (description: string) => imageReference.meta({ description });

/** An image reference as hosts.yaml takes it: true, or what hosts.yaml would say against it (kha setup asks with this). */
export function imageReferenceVerdict(text: string): true | string {
  const r = imageReference.safeParse(text);
  return r.success ? true : (r.error.issues[0]?.message ?? 'not an image reference');
}

/** The kubelet's staticPodPath, as static_pods and node_proxy.static_pod take it. */
const manifestsDir = (description: string) =>
  z
    .string()
    .regex(/^\/[A-Za-z0-9/_.-]+$/, {
      error: (iss) => `${quote(String(iss.input))} is not an absolute path; write the kubelet's staticPodPath from /, like ${DEFAULT_MANIFESTS_DIR}`,
    })
    .default(DEFAULT_MANIFESTS_DIR)
    .meta({ description });

const staticPods = z
  .strictObject({
    keepalived_image: imageRef(
      'keepalived image the pod runs, e.g. registry.example/kha/keepalived:2.2.7. There is no official keepalived image: build one from your distribution\'s package (docs/static-pods.md shows a 3-line Containerfile) and push it to your registry or preload it on each master',
    ),
    haproxy_image: imageRef(
      `haproxy image the pod runs (default ${DEFAULT_HAPROXY_IMAGE}, the official image; a private registry's copy or a preloaded image works offline)`,
    ).default(DEFAULT_HAPROXY_IMAGE),
    manifests_dir: manifestsDir(`The kubelet's staticPodPath, where the two Pod manifests go (default ${DEFAULT_MANIFESTS_DIR}, kubeadm's)`),
  })
  .meta({
    description:
      'Run keepalived and haproxy as static pods of the masters\' kubelets instead of host services (every lb must be a master). kha writes their configuration and the Pod manifests before kubeadm init; no package is installed',
  });

const outageLimit = (drill: string, meaning: string) =>
  z.number().min(0).max(600).optional().meta({ description: `Longest client outage ${drill} may cause, in seconds (default: ${meaning})` });

const drills = z
  .strictObject({
    partition_seconds: z.number().int().min(2).max(120).default(6).meta({
      description: 'How long the partition drill cuts the VIP holder off (default 6)',
    }),
    max_outage: z
      .strictObject({
        'keepalived-stop': outageLimit('stopping keepalived on the holder', 'one advert interval, at least 0.2 s'),
        'keepalived-kill': outageLimit('killing keepalived on the holder', 'four advert intervals + 0.3 s, at least 1 s'),
        'haproxy-down': outageLimit('stopping haproxy on the holder', 'the notice of the check (0.3 s with the defaults) + one advert + 0.3 s, at least 1 s'),
        'backend-down': outageLimit('one master becoming unreachable', '0: retries and redispatch hide it'),
        partition: outageLimit('cutting the holder off the network', 'as keepalived-kill'),
        failback: outageLimit('the old holder returning', '0 without preempt, as keepalived-kill with it'),
        reboot: outageLimit('rebooting the holder (only with --destructive)', 'as keepalived-kill'),
        'node-apiserver-stop': outageLimit("a master's apiserver stopping, through a node's local proxy", '0: retries and redispatch hide it'),
        'node-master-crash': outageLimit(
          "a master falling silent, through a node's local proxy",
          'until its haproxy marks the master down: check_inter_ms + check_fall × min(timeout_connect_ms, check_inter_ms) + (check_fall − 1) × check_fastinter_ms + 0.3 s',
        ),
      })
      .default({})
      .meta({ description: 'Limits the drills of kha verify-failover hold the cluster to; a drill fails beyond its limit' }),
  })
  .meta({ description: 'Settings of kha verify-failover' });

const lbHost = z.strictObject({
  name: hostName,
  address: ipv4.meta({ description: 'IPv4 address kha connects to and keepalived speaks VRRP from' }),
  interface: interfaceName.optional(),
  priority: z.number().int().min(1).max(254).optional().meta({
    description: 'VRRP priority 1-254; the highest is the primary. Default by order: 150, 100, 50 (closer beyond three: after a goodbye the first backup must silence the others before their own timers run out)',
  }),
  ssh: sshOverride.optional(),
});

const masterHost = z.strictObject({
  name: hostName,
  address: ipv4.meta({ description: 'IPv4 address of the kube-apiserver' }),
  apiserver_port: port('Port kube-apiserver listens on (default 6443)').default(6443),
  ssh: sshOverride.optional(),
});

const nodeHost = z.strictObject({
  name: hostName,
  address: ipv4.meta({ description: 'IPv4 address kha connects to; its kubelet reaches the apiservers through the local proxy' }),
  ssh: sshOverride.optional(),
});

export const DEFAULT_NODE_PROXY_PORT = 6443;
export const DEFAULT_NODE_PROXY_HEALTH_PORT = 8405;

// The local proxy of source 001 (docs/node-proxy.md): on each node, a proxy
// on 127.0.0.1 in front of every apiserver, so that its kubelet depends on no
// single address. Its check timings are the haproxy section's (the same
// apiservers, checked the same way); what is its own is what differs on a
// node: where it listens, which software runs it, and how often it checks,
// since every node's proxy checks every apiserver.
const nodeProxy = z
  .strictObject({
    port: port(
      `Port the proxy listens on, on 127.0.0.1 only; the kubelet's kubeconfig then says https://127.0.0.1:<port> (default ${DEFAULT_NODE_PROXY_PORT}, kubeadm's apiserver port, so only the host in the kubeconfig changes)`,
    ).default(DEFAULT_NODE_PROXY_PORT),
    software: z.enum(['haproxy', 'nginx']).default('haproxy').meta({
      description:
        'What runs the proxy: haproxy (default: checks every apiserver\'s /readyz itself, with the haproxy section\'s timings) or nginx (stream module: passive checks only, a dead apiserver is found by the client connections that fail on it)',
    }),
    check_inter_ms: z.number().int().min(100).max(60000).optional().meta({
      description:
        "Milliseconds between the proxy's checks of a healthy apiserver (default: haproxy.check_inter_ms). Each node's proxy checks every apiserver: N nodes make N × 1000 / check_inter_ms TLS handshakes a second on each apiserver, while a crashed master leaves a node's rotation only after about this long. haproxy only: nginx checks passively",
    }),
    health_port: port(
      `Local port (127.0.0.1) of the proxy's own health page, /kha-health; with haproxy it fails while no apiserver passes its check (default ${DEFAULT_NODE_PROXY_HEALTH_PORT}, beside the load balancers' 8404)`,
    ).default(DEFAULT_NODE_PROXY_HEALTH_PORT),
    masters: z.boolean().default(false).meta({
      description:
        'Put the proxy on every master too, so that their kubelets stop depending on the VIP (default false). Its port must then differ from each master\'s apiserver_port',
    }),
    static_pod: z
      .strictObject({
        image: imageRef(
          `Image the pod runs: haproxy's by default ${DEFAULT_HAPROXY_IMAGE}, the one static_pods uses; required with software: nginx (its stream module must be in the image: built in, as in the official docker.io/library/nginx, or the distribution's module package installed in it). Tagged or by digest, so an offline site can preload it`,
        ).optional(),
        manifests_dir: manifestsDir(`The kubelet's staticPodPath, where the proxy's Pod manifest kha-node-proxy.yaml goes (default ${DEFAULT_MANIFESTS_DIR}, kubeadm's); with static_pods and node_proxy.masters, the same as static_pods.manifests_dir`),
      })
      .optional()
      .meta({
        description:
          "Run the proxy as a static pod of each host's kubelet instead of a systemd service: no package is installed and no unit made; kha writes the configuration (checked by the image) and the Pod manifest, and the kubelet runs it. Switching either way stops the other first, so one proxy runs",
      }),
    kubelet: z.boolean().default(false).meta({
      description:
        "Point each proxy host's kubelet at the proxy (default false): apply rewrites the server: of /etc/kubernetes/kubelet.conf (and of /var/lib/kube-proxy/kubeconfig.conf where kube-proxy runs from the host) to https://127.0.0.1:<port>, keeps a backup, restarts the kubelet only when the file changed and confirms it came back through the proxy. The apiservers' certificate must name 127.0.0.1 (kha kubeadm adds it to certSANs)",
    }),
  })
  .meta({
    description:
      'The proxy each node (and, with masters: true, each master) runs on 127.0.0.1 in front of every apiserver. Check timings come from the haproxy section, but for check_inter_ms where set here. Optional: nodes alone get these defaults',
  });

export const DEFAULT_HTTP2_READ_IDLE_S = 5;
export const DEFAULT_HTTP2_PING_TIMEOUT_S = 3;

// client-go's HTTP/2 health check, for the kubelets of the hosts kha manages
// (docs/live-connections.md): a watch whose load balancer vanished hears
// nothing until the check fires, 30 s + 15 s by default. Asked for, never
// set unasked: it takes a kubelet drop-in and a kubelet restart.
const kubelet = z
  .strictObject({
    http2_read_idle_timeout_s: z.number().int().min(1).max(600).default(DEFAULT_HTTP2_READ_IDLE_S).meta({
      description: `Seconds without a frame on a kubelet's connection to the apiserver before client-go sends an HTTP/2 PING (HTTP2_READ_IDLE_TIMEOUT_SECONDS; client-go's own default is 30, kha's ${DEFAULT_HTTP2_READ_IDLE_S}). 0, which turns the check off, is refused`,
    }),
    http2_ping_timeout_s: z.number().int().min(1).max(600).default(DEFAULT_HTTP2_PING_TIMEOUT_S).meta({
      description: `Seconds client-go waits for the PING's answer before it closes the connection and reconnects (HTTP2_PING_TIMEOUT_SECONDS; client-go's default 15, kha's ${DEFAULT_HTTP2_PING_TIMEOUT_S})`,
    }),
  })
  .meta({
    description:
      "Shorten how long a kubelet's watches hang after an unplanned loss of the path to the apiserver (a load balancer powered off, a link cut): kha apply writes these as environment variables in a kubelet drop-in on every host it manages that runs a kubelet (masters that are also load balancers, and every host with the local proxy), restarts each kubelet once, and confirms it runs with them. Leave the section out to change nothing; remove it and the next apply takes the drop-in away again",
  });

/** node_proxy as it is when hosts.yaml lists nodes and leaves the section out. */
export const nodeProxyDefaults = nodeProxy.parse({});

export const MAX_LBS = 10;
export const MAX_MASTERS = 64;
/** A fleet: the issue behind nodes speaks of hundreds. The parser's bounds (yaml.ts) hold a file this large with every key written. */
export const MAX_NODES = 500;

export const hostsFileSchema = z
  .strictObject({
    $schema: z.string().optional().meta({ description: 'JSON Schema reference for editors' }),
    cluster: cluster.default({ port: 6443 }),
    ssh: sshDefaults.default(sshDefaults.parse({})).meta({ description: 'SSH defaults for every host; a host may override any' }),
    keepalived: keepalived.default(keepalived.parse({})),
    haproxy: haproxy.default(haproxy.parse({})),
    security: security.default(security.parse({})),
    drills: drills.default(drills.parse({})),
    static_pods: staticPods.optional(),
    operator: z
      .strictObject({
        netns: z
          .string()
          .regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: (iss) => `${quote(String(iss.input))} is not a network namespace name` })
          .optional()
          .meta({ description: 'Run kha\'s network side inside this network namespace (the built-in lab sets it)' }),
      })
      .optional()
      .meta({ description: 'Where kha itself runs from' }),
    lb: z
      .array(lbHost)
      .min(2, { error: () => 'needs at least 2 load balancers: with one there is nothing to fail over to' })
      .max(MAX_LBS, {
        error: (iss) =>
          `has ${Array.isArray(iss.input) ? iss.input.length : 'too many'} load balancers; kha supports at most ${MAX_LBS} in one VRRP group (every one sends adverts to every other)`,
      })
      .optional()
      .meta({
        description:
          'Load balancers: each runs keepalived and haproxy, and they hold cluster.vip. Leave lb and cluster.vip out for a cluster with no VIP, whose kubelets reach the apiservers only through their local proxy (nodes, node_proxy)',
      }),
    masters: z
      .array(masterHost)
      .min(1, { error: () => 'needs at least 1 master: list the hosts that run kube-apiserver' })
      .max(MAX_MASTERS, {
        error: (iss) => `has ${Array.isArray(iss.input) ? iss.input.length : 'too many'} masters; kha supports at most ${MAX_MASTERS}`,
      })
      .meta({ description: 'Control-plane hosts running kube-apiserver' }),
    nodes: z
      .array(nodeHost)
      .min(1, { error: () => 'is an empty list; list the nodes that get a local proxy, or remove the key' })
      .max(MAX_NODES, {
        error: (iss) => `has ${Array.isArray(iss.input) ? iss.input.length : 'too many'} nodes; kha supports at most ${MAX_NODES}`,
      })
      .optional()
      .meta({ description: 'Worker nodes that get a local proxy to every apiserver (see node_proxy); each takes the top-level ssh settings and may override them' }),
    node_proxy: nodeProxy.optional(),
    kubelet: kubelet.optional(),
  })
  .meta({
    title: 'kha hosts.yaml',
    description: 'Load balancers and masters of a highly available Kubernetes API endpoint, and the nodes that reach it through a local proxy, for kha',
  });

export type HostsFile = z.output<typeof hostsFileSchema>;
export type HostsFileInput = z.input<typeof hostsFileSchema>;

/** Keys whose values are never echoed in any message. */
export const SECRET_KEYS: ReadonlySet<string> = new Set(['auth_pass', 'sudo_password']);

export function jsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(hostsFileSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
}
