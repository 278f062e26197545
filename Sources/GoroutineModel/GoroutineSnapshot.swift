/// When a snapshot was taken, on two clocks.
public struct SnapshotTime: Sendable, Hashable, Codable, Comparable {
  /// `CLOCK_MONOTONIC` in nanoseconds: the clock Go's `nanotime` uses, so it compares with
  /// `g.waitsince`. Durations between snapshots come from this clock.
  public var monotonicNanoseconds: UInt64
  /// Seconds since 1970 (`CLOCK_REALTIME`), for display only.
  public var wallSeconds: Double

  public init(monotonicNanoseconds: UInt64, wallSeconds: Double) {
    (self.monotonicNanoseconds, self.wallSeconds) = (monotonicNanoseconds, wallSeconds)
  }

  /// Seconds from `earlier` to `self` on the monotonic clock (0 if `earlier` is later).
  public func seconds(since earlier: UInt64) -> Double {
    monotonicNanoseconds > earlier ? Double(monotonicNanoseconds - earlier) / 1e9 : 0
  }

  public static func < (a: SnapshotTime, b: SnapshotTime) -> Bool {
    a.monotonicNanoseconds < b.monotonicNanoseconds
  }
}

/// A goroutine's scheduling status (`g.atomicstatus` without the `_Gscan` bit), named as the
/// runtime's own `gStatusStrings` name it.
public enum GoroutineStatus: String, Sendable, Hashable, Codable, CaseIterable {
  case idle, runnable, running, syscall, waiting, dead, copystack, preempted
  /// `_Gleaked` (Go 1.26+): the GC proved the goroutine can never run again.
  case leaked
  /// A number the binary's status names do not name.
  case unknown

  /// The status the runtime calls `name` in `runtime.gStatusStrings`. `_Gdeadextra` (Go 1.26+,
  /// "waiting for cgo callback") is a dead goroutine kept for a cgo thread, so it counts as dead.
  public init(runtimeName name: String) {
    switch name {
    case "waiting for cgo callback": self = .dead
    default: self = GoroutineStatus(rawValue: name) ?? .unknown
    }
  }

  /// Parked: waiting, or leaked (which keeps its wait reason).
  public var isParked: Bool { self == .waiting || self == .leaked }
}

/// One frame of a goroutine stack, or a goroutine's creation or start site.
///
/// Function, file and line live in one shared immutable box, so that copying a frame (every
/// goroutine of a snapshot holds several) costs one reference count, not one per string.
public struct StackFrame: Sendable, Hashable, Codable {
  /// The address in the binary's own layout (the process's load bias removed). For a return
  /// address, `function`, `file` and `line` describe the call before it.
  public var pc: UInt64
  private var symbol: Symbol?

  /// Function, file and line of a frame.
  private final class Symbol: Sendable, Hashable {
    let function: String?
    let file: String?
    let line: Int?

    init(_ function: String?, _ file: String?, _ line: Int?) {
      (self.function, self.file, self.line) = (function, file, line)
    }

    static func == (a: Symbol, b: Symbol) -> Bool {
      a === b || (a.function == b.function && a.file == b.file && a.line == b.line)
    }

    func hash(into hasher: inout Hasher) {
      hasher.combine(function)
      hasher.combine(file)
      hasher.combine(line)
    }
  }

  public init(pc: UInt64, function: String?, file: String? = nil, line: Int? = nil) {
    self.pc = pc
    symbol = function == nil && file == nil && line == nil ? nil : Symbol(function, file, line)
  }

  /// The Go function name, e.g. `main.worker` or `net/http.(*conn).serve`; nil if unresolved.
  public var function: String? {
    get { symbol?.function }
    set { self = StackFrame(pc: pc, function: newValue, file: file, line: line) }
  }

  public var file: String? {
    get { symbol?.file }
    set { self = StackFrame(pc: pc, function: function, file: newValue, line: line) }
  }

  public var line: Int? {
    get { symbol?.line }
    set { self = StackFrame(pc: pc, function: function, file: file, line: newValue) }
  }

  private enum CodingKeys: String, CodingKey { case pc, function, file, line }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    self.init(
      pc: try container.decode(UInt64.self, forKey: .pc),
      function: try container.decodeIfPresent(String.self, forKey: .function),
      file: try container.decodeIfPresent(String.self, forKey: .file),
      line: try container.decodeIfPresent(Int.self, forKey: .line))
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(pc, forKey: .pc)
    try container.encodeIfPresent(function, forKey: .function)
    try container.encodeIfPresent(file, forKey: .file)
    try container.encodeIfPresent(line, forKey: .line)
  }

  /// The Go package of a function name: `net/http` for `net/http.(*conn).serve`.
  public static func package(of function: String) -> String {
    // On the UTF-8 bytes: '/' and '.' are ASCII, and this runs for every frame of every group.
    let bytes = function.utf8
    let slash = bytes.lastIndex(of: UInt8(ascii: "/")).map { bytes.index(after: $0) }
    let start = slash ?? bytes.startIndex
    let dot = bytes[start...].firstIndex(of: UInt8(ascii: ".")) ?? bytes.endIndex
    return String(function[..<dot])
  }

  /// True for the runtime and the synchronisation primitives it parks goroutines for
  /// (`runtime`, `internal/...`, `sync`, `sync/atomic`): frames that say how a goroutine
  /// waits, not who waits.
  public static func isRuntimeInternal(_ function: String) -> Bool {
    let package = package(of: function)
    return package == "runtime" || package.hasPrefix("internal/") || package == "sync"
      || package == "sync/atomic" || package.hasPrefix("runtime/")
  }
}

/// One goroutine as read from a process.
public struct Goroutine: Sendable, Hashable, Codable {
  public var goid: Int64
  public var status: GoroutineStatus
  /// `g.atomicstatus` as read, `_Gscan` bit included.
  public var rawStatus: UInt32
  /// The runtime's own text for `g.waitreason` (e.g. `chan send`); nil when not parked or zero.
  public var waitReason: String?
  /// The `go` statement that created the goroutine: `pc` is `g.gopc` (the return address of the
  /// call to `runtime.newproc`) and `function` the function containing it.
  public var creation: StackFrame
  /// The goroutine's own function: `pc` is `g.startpc`.
  public var start: StackFrame
  /// `g.trackingSeq`: changes whenever the goroutine leaves running (Go 1.17+).
  public var trackingSeq: UInt8?
  /// `g.waitsince` when non-zero: a `CLOCK_MONOTONIC` time at which the goroutine was already
  /// parked without having run since (set by the GC, cleared when it runs).
  public var waitingSinceNanoseconds: UInt64?
  public var parentGoid: Int64?
  /// The stack from the innermost frame, walked by frame pointers from the saved context; empty
  /// when the goroutine is running or in a system call (its saved context is stale).
  public var stack: [StackFrame]

  public init(
    goid: Int64, status: GoroutineStatus, rawStatus: UInt32, waitReason: String?,
    creation: StackFrame, start: StackFrame, trackingSeq: UInt8? = nil,
    waitingSinceNanoseconds: UInt64? = nil, parentGoid: Int64? = nil, stack: [StackFrame] = []
  ) {
    (self.goid, self.status, self.rawStatus, self.waitReason) = (
      goid, status, rawStatus, waitReason
    )
    (self.creation, self.start, self.trackingSeq) = (creation, start, trackingSeq)
    (self.waitingSinceNanoseconds, self.parentGoid, self.stack) =
      (waitingSinceNanoseconds, parentGoid, stack)
  }

  /// The first stack frame outside the runtime and the synchronisation primitives
  /// (`StackFrame.isRuntimeInternal`): the code that is waiting.
  public var blockingFrame: StackFrame? {
    stack.first { $0.function.map { !StackFrame.isRuntimeInternal($0) } ?? false }
  }

  /// Created by the runtime, or running a runtime function (GC workers, finalizers, the main
  /// goroutine's `runtime.main`).
  public var isRuntimeOwned: Bool {
    [creation.function, start.function].contains {
      $0.map { StackFrame.package(of: $0) == "runtime" } ?? false
    }
  }
}

/// An OS thread of the Go runtime (`runtime.m`).
public struct GoThread: Sendable, Hashable, Codable {
  /// `m.id`.
  public var mID: Int64
  /// `m.procid`: the kernel thread id (0 before the thread started).
  public var tid: Int32
  /// The goroutine the thread runs (`m.curg`), if any.
  public var curgGoid: Int64?

  public init(mID: Int64, tid: Int32, curgGoid: Int64?) {
    (self.mID, self.tid, self.curgGoid) = (mID, tid, curgGoid)
  }
}

/// Every live goroutine and every thread of one Go process at one time.
public struct GoroutineSnapshot: Sendable, Hashable, Codable {
  public var pid: Int32
  public var taken: SnapshotTime
  /// Live goroutines (status other than dead), in `allgs` order.
  public var goroutines: [Goroutine]
  /// Dead goroutines in `allgs` (kept by the runtime for reuse), counted only.
  public var deadCount: Int
  /// Records dropped because they changed while being read or failed validation.
  public var droppedCount: Int
  /// True when `allgs` was longer than the reader's limit and only a prefix was read.
  public var truncated: Bool
  public var threads: [GoThread]

  public init(
    pid: Int32, taken: SnapshotTime, goroutines: [Goroutine], deadCount: Int = 0,
    droppedCount: Int = 0, truncated: Bool = false, threads: [GoThread] = []
  ) {
    (self.pid, self.taken, self.goroutines, self.deadCount) = (pid, taken, goroutines, deadCount)
    (self.droppedCount, self.truncated, self.threads) = (droppedCount, truncated, threads)
  }
}
