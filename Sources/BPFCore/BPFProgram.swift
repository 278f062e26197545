internal import CLibBPF
import Foundation
import Glibc

/// A program of a `BPFObject`. Its descriptor belongs to the object, which it keeps alive.
public struct BPFProgram: @unchecked Sendable {
  // Unchecked: the object is only mutated before load; a loaded program is read-only.
  let object: BPFObject
  let pointer: OpaquePointer

  init(object: BPFObject, pointer: OpaquePointer) {
    self.object = object
    self.pointer = pointer
  }

  /// The C function name.
  public var name: String { String(cString: bpf_program__name(pointer)) }

  /// The program's descriptor (owned by the object), or a negative errno before load.
  public var fd: Int32 { bpf_program__fd(pointer) }

  /// Chooses whether `load()` loads this program (before load only).
  public func setAutoload(_ autoload: Bool) throws(BPFError) {
    let result = bpf_program__set_autoload(pointer, autoload)
    guard result == 0 else {
      throw BPFError.libbpf("bpf_program__set_autoload", "program \(name)", result: result)
    }
  }

  /// Attaches the program where its section name says (tracepoints, tp_btf, ...).
  /// The link is detached when its last descriptor closes, unless it is pinned.
  public func attach() throws(BPFError) -> BPFLink {
    let (result, log) = LibBPFLog.capturing { bpf_program__attach(pointer) }
    guard case .success(let link?) = result else {
      throw BPFError.libbpf("bpf_program__attach", "attaching program \(name)", log: log)
    }
    // Keep our own descriptor; destroying libbpf's handle closes its descriptor,
    // which does not detach while ours is open.
    defer { bpf_link__destroy(link) }
    return BPFLink(fd: try OwnedFD.duplicating(bpf_link__fd(link), context: "link of \(name)"))
  }

  /// Attaches an entry uprobe at byte `fileOffset` of the executable at `binaryPath`, in process
  /// `pid` only (the breakpoint is placed in that process's memory alone). The link is the one
  /// owner: closing it removes the uprobe.
  public func attachUprobe(pid: Int32, binaryPath: String, fileOffset: UInt64) throws(BPFError)
    -> BPFLink
  {
    let context =
      "uprobe of \(name) at \(binaryPath)+0x\(String(fileOffset, radix: 16)) in pid \(pid)"
    let typeFile = "/sys/bus/event_source/devices/uprobe/type"
    guard let text = try? String(contentsOfFile: typeFile, encoding: .utf8),
      let pmuType = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    else { throw BPFError(function: "open", context: "\(context): \(typeFile)", errno: ENOENT) }
    let event = vigil_uprobe_open(pmuType, binaryPath, fileOffset, pid)
    guard event >= 0 else {
      throw BPFError(function: "perf_event_open", context: context, errno: -event)
    }
    let perfEvent = OwnedFD(taking: event)
    let fd = bpf_link_create(self.fd, perfEvent.rawValue, BPF_PERF_EVENT, nil)
    guard fd >= 0 else { throw BPFError.libbpf("bpf_link_create", context, result: fd) }
    // The link holds the perf event from here on.
    return BPFLink(fd: OwnedFD(taking: fd))
  }

  /// Kernel facts about the loaded program (id, tag, name).
  public func info() throws(BPFError) -> BPFProgramInfo {
    try BPFProgramInfo(fd: fd, context: "program \(name)")
  }
}

/// What the kernel reports about a loaded program.
public struct BPFProgramInfo: Sendable, Equatable {
  public var id: UInt32
  /// The kernel's hash of the instructions: equal tags, equal programs.
  public var tag: String
  public var name: String

  /// The info of the loaded program with kernel id `id`.
  public init(id: UInt32) throws(BPFError) {
    let fd = bpf_prog_get_fd_by_id(id)
    guard fd >= 0 else {
      throw BPFError.libbpf("bpf_prog_get_fd_by_id", "program id \(id)", result: fd)
    }
    let owned = OwnedFD(taking: fd)
    try self.init(fd: owned.rawValue, context: "program id \(id)")
  }

  init(fd: Int32, context: String) throws(BPFError) {
    var info = bpf_prog_info()
    var length = UInt32(MemoryLayout<bpf_prog_info>.size)
    let result = bpf_obj_get_info_by_fd(fd, &info, &length)
    guard result == 0 else {
      throw BPFError.libbpf("bpf_obj_get_info_by_fd", context, result: result)
    }
    id = info.id
    tag = withUnsafeBytes(of: info.tag) { bytes in
      bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
    name = withUnsafeBytes(of: info.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
  }
}
