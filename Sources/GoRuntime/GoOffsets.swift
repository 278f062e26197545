/// Byte offsets of the runtime struct fields Vigil reads from a Go process, for one Go version.
///
/// Optional fields are absent in some versions (`trackingSeq` before Go 1.17, `parentGoid`
/// before Go 1.21).
public struct GoOffsets: Codable, Sendable, Hashable {
  /// `runtime.g`, one goroutine.
  public struct G: Codable, Sendable, Hashable {
    public var size: Int
    public var stack: Int
    public var m: Int
    public var sched: Int
    public var atomicstatus: Int
    public var goid: Int
    /// Set only by the GC: not the age of a wait.
    public var waitsince: Int
    public var waitreason: Int
    /// A uint8 that changes whenever the goroutine leaves running.
    public var trackingSeq: Int?
    public var parentGoid: Int?
    public var gopc: Int
    public var startpc: Int
    /// The `*sudog` list the goroutine waits on.
    public var waiting: Int
  }

  /// `runtime.gobuf`, the saved registers of a goroutine that is not running (`g.sched`).
  public struct Gobuf: Codable, Sendable, Hashable {
    public var sp: Int
    public var pc: Int
    public var bp: Int
  }

  /// `runtime.stack`, the bounds of a goroutine stack (`g.stack`).
  public struct Stack: Codable, Sendable, Hashable {
    public var lo: Int
    public var hi: Int
  }

  /// `runtime.m`, an OS thread; `alllink` chains `runtime.allm`.
  public struct M: Codable, Sendable, Hashable {
    public var size: Int
    public var id: Int
    public var procid: Int
    public var curg: Int
    public var alllink: Int
  }

  /// `runtime.sudog`, a goroutine waiting on a channel or semaphore. From Go 1.25 `elem` is a
  /// `maybeTraceablePtr` whose first word is the pointer.
  public struct Sudog: Codable, Sendable, Hashable {
    public var size: Int
    public var g: Int
    public var elem: Int
    public var c: Int
  }

  /// A slice header (`runtime.allgs` is a `[]*g`).
  public struct Slice: Codable, Sendable, Hashable {
    public var array: Int
    public var len: Int
    public var cap: Int
  }

  public var g: G
  public var gobuf: Gobuf
  public var stack: Stack
  public var m: M
  public var sudog: Sudog
  public var slice: Slice
}

extension GoOffsets {
  /// The DWARF structs the offsets come from.
  static let structNames: Set<String> = [
    "runtime.g", "runtime.gobuf", "runtime.stack", "runtime.m", "runtime.sudog", "[]*runtime.g",
  ]

  /// Builds the offsets from DWARF layouts; throws naming the first missing struct or member.
  init(layouts: [String: DWARFStructs.Layout], path: String) throws {
    func fields(_ name: String) throws -> (size: Int, offsets: [String: Int]) {
      guard let layout = layouts[name] else {
        throw GoRuntimeError.offsetsUnavailable(path: path, reason: "no DWARF struct \(name)")
      }
      // Offsets beyond Int are as good as missing.
      let offsets = layout.members.compactMapValues { Int(exactly: $0) }
      return (layout.size.flatMap { Int(exactly: $0) } ?? 0, offsets)
    }
    func required(_ name: String, _ member: String) throws -> Int {
      guard let offset = try fields(name).offsets[member] else {
        throw GoRuntimeError.offsetsUnavailable(path: path, reason: "\(name) has no \(member)")
      }
      return offset
    }
    let (g, m, sudog, slice) = ("runtime.g", "runtime.m", "runtime.sudog", "[]*runtime.g")
    self.init(
      g: G(
        size: try fields(g).size, stack: try required(g, "stack"), m: try required(g, "m"),
        sched: try required(g, "sched"), atomicstatus: try required(g, "atomicstatus"),
        goid: try required(g, "goid"), waitsince: try required(g, "waitsince"),
        waitreason: try required(g, "waitreason"),
        trackingSeq: try fields(g).offsets["trackingSeq"],
        parentGoid: try fields(g).offsets["parentGoid"], gopc: try required(g, "gopc"),
        startpc: try required(g, "startpc"), waiting: try required(g, "waiting")),
      gobuf: Gobuf(
        sp: try required("runtime.gobuf", "sp"), pc: try required("runtime.gobuf", "pc"),
        bp: try required("runtime.gobuf", "bp")),
      stack: Stack(
        lo: try required("runtime.stack", "lo"), hi: try required("runtime.stack", "hi")),
      m: M(
        size: try fields(m).size, id: try required(m, "id"), procid: try required(m, "procid"),
        curg: try required(m, "curg"), alllink: try required(m, "alllink")),
      sudog: Sudog(
        size: try fields(sudog).size, g: try required(sudog, "g"),
        elem: try required(sudog, "elem"), c: try required(sudog, "c")),
      slice: Slice(
        array: try required(slice, "array"), len: try required(slice, "len"),
        cap: try required(slice, "cap")))
  }
}
