// Where the local proxy keeps its configuration on a host: its own directory,
// so it never touches a load balancer's haproxy or one the user runs. Apart
// from files.ts so that hosts.yaml's checks (inventory/semantic.ts) can name
// it without the renderer.

export const NODE_PROXY_DIR = '/etc/kha/node-proxy';
