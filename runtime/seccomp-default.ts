// keel's default seccomp filter, as groups of system calls. Everything not
// listed is allowed: a system container does many things (mounts its own
// tmpfs with CAP_SYS_ADMIN, loads modules with CAP_SYS_MODULE) and keel's
// filter only closes what such a container has no business calling unless a
// capability says it may. A group with `unless` is blocked only when the
// container has none of those capabilities: the kernel would refuse most of
// them anyway, and the filter keeps the kernel code behind them out of reach
// even if that check had a flaw. A group without `unless` is always blocked.
// Blocked calls fail with EPERM, as a missing capability would make them.

export interface SyscallGroup {
  /** Why these are blocked, in one line. */
  why: string;
  names: string[];
  /** Capabilities any one of which lets the group through. */
  unless?: string[];
  /** The errno a blocked call gets, when not EPERM. */
  errno?: number;
}

export const EPERM = 1;
export const ENOSYS = 38;

/** The namespace flags of clone(2) (CLONE_NEWTIME is clone3's and unshare's only). */
export const CLONE_NAMESPACE_FLAGS = {
  CLONE_NEWNS: 0x20000,
  CLONE_NEWCGROUP: 0x2000000,
  CLONE_NEWUTS: 0x4000000,
  CLONE_NEWIPC: 0x8000000,
  CLONE_NEWUSER: 0x10000000,
  CLONE_NEWPID: 0x20000000,
  CLONE_NEWNET: 0x40000000,
};

export const DEFAULT_GROUPS: readonly SyscallGroup[] = [
  { why: 'loading or removing kernel modules changes the kernel every container shares', names: ['init_module', 'finit_module', 'delete_module'], unless: ['CAP_SYS_MODULE'] },
  { why: 'kexec replaces the running kernel, and reboot(2) ends the machine: that is keel poweroff\'s job', names: ['kexec_load', 'kexec_file_load', 'reboot'], unless: ['CAP_SYS_BOOT'] },
  {
    why: 'mounts and a new root reshape the container\'s view of the host; they are how an escape is built',
    names: ['mount', 'umount', 'umount2', 'pivot_root', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'move_mount', 'open_tree', 'mount_setattr', 'swapon', 'swapoff'],
    unless: ['CAP_SYS_ADMIN'],
  },
  { why: 'new namespaces (a user namespace above all) hand out capabilities and reach kernel code an unprivileged container never needs', names: ['unshare', 'setns'], unless: ['CAP_SYS_ADMIN'] },
  // clone3 passes its flags in memory, where a filter cannot look: ENOSYS makes the C library fall back to clone(2), whose flags the filter sees (oci-spec.ts adds those rules).
  { why: 'clone3 could make namespaces out of the filter\'s sight; the C library falls back to clone on ENOSYS', names: ['clone3'], unless: ['CAP_SYS_ADMIN'], errno: ENOSYS },
  { why: 'the kernel keyrings are not isolated per container: keys could be read or planted across them', names: ['add_key', 'request_key', 'keyctl'], unless: ['CAP_SYS_ADMIN'] },
  { why: 'userfaultfd lets a process stall the kernel on a page fault: a tool for widening kernel races', names: ['userfaultfd'], unless: ['CAP_SYS_PTRACE'] },
  { why: 'io_uring is a large interface of its own, a frequent source of kernel flaws, and bypasses what filters see of I/O', names: ['io_uring_setup', 'io_uring_enter', 'io_uring_register'], unless: ['CAP_SYS_ADMIN'] },
  { why: 'eBPF programs run in the kernel', names: ['bpf'], unless: ['CAP_BPF', 'CAP_SYS_ADMIN'] },
  { why: 'performance counters observe other processes and the kernel', names: ['perf_event_open'], unless: ['CAP_PERFMON', 'CAP_SYS_ADMIN'] },
  // adjtimex and clock_adjtime stay allowed: with no change asked they only read the clock's state, and the kernel refuses a change without CAP_SYS_TIME.
  { why: 'the clock is the machine\'s, not the container\'s', names: ['settimeofday', 'clock_settime', 'clock_settime64', 'stime'], unless: ['CAP_SYS_TIME'] },
  { why: 'opening files by handle reaches past the container\'s root (the way out of a bind mount)', names: ['open_by_handle_at'], unless: ['CAP_DAC_READ_SEARCH'] },
  { why: 'raw I/O ports touch the hardware directly', names: ['iopl', 'ioperm'], unless: ['CAP_SYS_RAWIO'] },
  { why: 'process accounting is set for the whole machine', names: ['acct'], unless: ['CAP_SYS_PACCT'] },
  { why: 'the kernel log is the machine\'s, and may hold addresses that help an exploit', names: ['syslog'], unless: ['CAP_SYSLOG', 'CAP_SYS_ADMIN'] },
  {
    why: 'obsolete calls, gone from current kernels or kept only for old binaries: nothing a container runs today needs them',
    names: ['uselib', '_sysctl', 'ustat', 'sysfs', 'nfsservctl', 'vm86', 'vm86old', 'create_module', 'get_kernel_syms', 'query_module', 'bdflush', 'lookup_dcookie', 'afs_syscall', 'tuxcall', 'security', 'vserver', 'getpmsg', 'putpmsg'],
  },
];
