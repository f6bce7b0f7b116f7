// Link types a container's runtime section may create (`ip link add … type
// KIND`) and the kernel module that provides each in Debian's kernel: keel
// build puts those modules in the image, and keel-init names the module when
// the kernel lacks the type.
export const LINK_MODULES: Readonly<Record<string, string>> = {
  veth: 'veth',
  bridge: 'bridge',
  dummy: 'dummy',
  wireguard: 'wireguard',
  vlan: '8021q',
  macvlan: 'macvlan',
  macvtap: 'macvtap',
  ipvlan: 'ipvlan',
  vxlan: 'vxlan',
  geneve: 'geneve',
  bond: 'bonding',
  ifb: 'ifb',
  vcan: 'vcan',
  gre: 'ip_gre',
  ipip: 'ipip',
};

/** The kind an interface entry creates: `add`, or veth when it names only a peer; undefined to move an existing one. */
export function linkKind(iface: { add?: string | undefined; peer?: string | undefined }): string | undefined {
  return iface.add ?? (iface.peer ? 'veth' : undefined);
}
