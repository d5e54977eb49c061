/**
 * What kha accepts as a network interface name, wherever the name comes
 * from: hosts.yaml, or the route to the VIP on a host. It is written into
 * keepalived.conf and passed to `ip`, so it is held to the kernel's limit
 * (at most 15 bytes, not `.` or `..`) and to characters that are inert in a
 * configuration file and a shell word; a leading '-' would read as an option.
 */
export const INTERFACE_NAME = /^(?![-.])[A-Za-z0-9_.@:-]{1,15}$/;

export const INTERFACE_NAME_RULE = "1-15 characters: letters, digits, '_', '.', '@', ':', '-', not starting with '-' or '.'";

export function isInterfaceName(name: string): boolean {
  return INTERFACE_NAME.test(name);
}
