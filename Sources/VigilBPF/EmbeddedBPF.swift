import Foundation

/// The BPF objects compiled from `bpf/` at build time, embedded in the binary.
public enum EmbeddedBPF {
  /// ELF object of `bpf/blocking.bpf.c`: the off-CPU and futex probes.
  public static var blocking: [UInt8] { decode(blockingBase64) }

  /// ELF object of `bpf/gotrace.bpf.c`: goroutine trace sessions (a uprobe on casgstatus).
  public static var gotrace: [UInt8] { decode(gotraceBase64) }

  /// ELF object of `bpf/policy.bpf.c`: the network policy classifier (tcx and cgroup_skb).
  public static var policy: [UInt8] { decode(policyBase64) }

  private static func decode(_ base64: String) -> [UInt8] {
    guard let data = Data(base64Encoded: base64) else {
      fatalError("embedded BPF object is not valid base64: the build is broken")
    }
    return [UInt8](data)
  }
}
