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

  /// Pins the link at `path` so it outlives this process.
  public func pin(at path: String) throws(BPFError) {
    try BPFPin.pin(fd, at: path)
  }

  /// Kernel facts about the link.
  public func info() throws(BPFError) -> BPFLinkInfo {
    var info = bpf_link_info()
    var length = UInt32(MemoryLayout<bpf_link_info>.size)
    let result = bpf_obj_get_info_by_fd(fd.rawValue, &info, &length)
    guard result == 0 else { throw BPFError.libbpf("bpf_obj_get_info_by_fd", "link info", result: result) }
    return BPFLinkInfo(id: info.id, programID: info.prog_id, type: info.type)
  }

  /// Replaces the program behind the link in place (links that support it: tcx, cgroup, xdp).
  public func update(program: BPFProgram) throws(BPFError) {
    let result = bpf_link_update(fd.rawValue, program.fd, nil)
    guard result == 0 else {
      throw BPFError.libbpf("bpf_link_update", "swapping \(program.name) into link", result: result)
    }
  }
}

/// What the kernel reports about a link.
public struct BPFLinkInfo: Sendable, Equatable {
  public var id: UInt32
  public var programID: UInt32
  /// `enum bpf_link_type` (e.g. 2 = tracing).
  public var type: UInt32
}
