internal import CLibBPF
import Glibc

/// Checks and prepares what BPF needs on this machine: root, bpffs, tracefs, BTF.
public enum BPFSystem {
  /// statfs type of bpffs.
  public static let bpffsMagic: Int = 0xCAFE_4A11
  static let tracefsMagic: Int = 0x7472_6163

  /// Why BPF cannot be used here, in words an operator can act on; nil when it can.
  /// `pinPath` must be on a bpffs (it need not exist yet).
  public static func unavailableReason(pinPath: String = "/sys/fs/bpf") -> String? {
    if geteuid() != 0 {
      return
        "vigild needs root (or CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE): running as uid \(geteuid())"
    }
    if access("/sys/kernel/btf/vmlinux", R_OK) != 0 {
      return "the kernel has no BTF (/sys/kernel/btf/vmlinux missing): CO-RE programs cannot load"
    }
    let existing = nearestExistingDirectory(pinPath)
    if !isMounted(existing, magic: bpffsMagic) {
      return
        "pin path \(pinPath) is not on a bpffs (\(existing) is not): mount one with `mount -t bpf bpf /sys/fs/bpf`"
    }
    return nil
  }

  /// `path` itself, or its closest ancestor that exists.
  static func nearestExistingDirectory(_ path: String) -> String {
    var current = path
    while access(current, F_OK) != 0, let slash = current.lastIndex(of: "/") {
      current = slash == current.startIndex ? "/" : String(current[..<slash])
    }
    return current
  }

  /// Mounts bpffs at /sys/fs/bpf and tracefs at /sys/kernel/tracing where they are missing.
  public static func mountFilesystemsIfMissing() throws(BPFError) {
    if !isMounted("/sys/fs/bpf", magic: bpffsMagic) {
      guard mount("bpf", "/sys/fs/bpf", "bpf", 0, nil) == 0 else {
        throw BPFError(function: "mount", context: "mounting bpffs at /sys/fs/bpf", errno: errno)
      }
    }
    if !isMounted("/sys/kernel/tracing", magic: tracefsMagic) {
      guard mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nil) == 0 else {
        throw BPFError(
          function: "mount", context: "mounting tracefs at /sys/kernel/tracing", errno: errno)
      }
    }
  }

  /// Whether `path` is the root of a filesystem with this magic number.
  public static func isMounted(_ path: String, magic: Int) -> Bool {
    vigil_filesystem_magic(path) == magic
  }
}
