internal import CLibBPF
import Glibc

/// An attachment of a program (a BPF link), owned through its descriptor.
///
/// Closing the last descriptor detaches it unless it is pinned in bpffs;
/// a pinned link survives this process and can be re-opened with `init(pinnedAt:)`.
public final class BPFLink: Sendable {
  /// The link's descriptor.
  public let fd: OwnedFD

  init(fd: OwnedFD) { self.fd = fd }

  /// Re-opens a pinned link.
  public convenience init(pinnedAt path: String) throws(BPFError) {
    self.init(fd: try BPFPin.open(path))
  }

  /// Attaches `program` to `target` (an ifindex for tcx, a cgroup directory fd for
  /// cgroup programs) with `bpf_link_create`, which libbpf 1.1 offers for attach
  /// types it has no helper for (tcx).
  public convenience init(program: BPFProgram, target: Int32, attachType: BPFAttachType)
    throws(BPFError)
  {
    let fd = bpf_link_create(program.fd, target, bpf_attach_type(attachType.rawValue), nil)
    guard fd >= 0 else {
      throw BPFError.libbpf(
        "bpf_link_create", "attaching \(program.name) (\(attachType)) to \(target)", result: fd)
    }
    self.init(fd: OwnedFD(taking: fd))
  }

  /// Pins the link at `path` so it outlives this process.
  public func pin(at path: String) throws(BPFError) {
    try BPFPin.pin(fd, at: path)
  }

  /// Kernel facts about the link.
  public func info() throws(BPFError) -> BPFLinkInfo {
    var info = bpf_link_info()
    var length = UInt32(MemoryLayout<bpf_link_info>.size)
    let result = bpf_obj_get_info_by_fd(fd.rawValue, &info, &length)
    guard result == 0 else {
      throw BPFError.libbpf("bpf_obj_get_info_by_fd", "link info", result: result)
    }
    // tcx links keep their ifindex in the union after the common fields (0 once the device is gone).
    let ifindex =
      info.type == 11
      ? withUnsafeBytes(of: info) { $0.load(fromByteOffset: 16, as: UInt32.self) } : nil
    return BPFLinkInfo(id: info.id, programID: info.prog_id, type: info.type, ifindex: ifindex)
  }

  /// Replaces the program behind the link in place (links that support it: tcx, cgroup, xdp).
  public func update(program: BPFProgram) throws(BPFError) {
    let result = bpf_link_update(fd.rawValue, program.fd, nil)
    guard result == 0 else {
      throw BPFError.libbpf("bpf_link_update", "swapping \(program.name) into link", result: result)
    }
  }
}

/// Attach types used with `BPFLink(program:target:attachType:)`.
public enum BPFAttachType: UInt32, Sendable, CustomStringConvertible {
  case cgroupIngress = 0
  case cgroupEgress = 1
  /// tcx ingress (kernel 6.6+; not in libbpf 1.1's headers).
  case tcxIngress = 46
  case tcxEgress = 47

  public var description: String {
    switch self {
    case .cgroupIngress: "cgroup ingress"
    case .cgroupEgress: "cgroup egress"
    case .tcxIngress: "tcx ingress"
    case .tcxEgress: "tcx egress"
    }
  }
}

/// What the kernel reports about a link.
public struct BPFLinkInfo: Sendable, Equatable {
  public var id: UInt32
  public var programID: UInt32
  /// `enum bpf_link_type` (e.g. 2 = tracing, 3 = cgroup, 11 = tcx).
  public var type: UInt32
  /// tcx links: the interface, 0 once the device is gone.
  public var ifindex: UInt32?
}
