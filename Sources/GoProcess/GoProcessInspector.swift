import GoRuntime
import GoroutineModel

/// Reads the goroutines and threads of one running Go process from its memory, without
/// stopping it or writing to it.
///
/// Opening reads the process's executable (`/proc/PID/exe`): its Go version, the runtime
/// struct offsets, `runtime.allgs`/`allglen`/`allm` (also when stripped), the wait-reason and
/// status names. Each `snapshot()` then reads `allgs`, every `g`, the saved stacks (frame
/// pointers) and the `allm` list. The process is identified by pid and start time, so a pid
/// reused by another process gives `processReplaced` instead of garbage.
///
/// Not thread-safe (it caches resolved PCs): use one inspector from one task at a time.
public final class GoProcessInspector {
  /// Bounds on what a snapshot reads, whatever the target's memory says.
  public struct Limits: Sendable, Hashable {
    /// `allgs` entries read at most (the rest is left out and the snapshot marked truncated).
    public var maxGoroutines: Int
    /// Frames walked per goroutine at most.
    public var maxStackDepth: Int
    /// `allm` entries followed at most.
    public var maxThreads: Int

    public init(maxGoroutines: Int = 1 << 21, maxStackDepth: Int = 64, maxThreads: Int = 16_384) {
      (self.maxGoroutines, self.maxStackDepth, self.maxThreads) =
        (maxGoroutines, maxStackDepth, maxThreads)
    }
  }

  public let pid: Int32
  /// Field 22 of /proc/PID/stat when opened: with the pid, the process's identity.
  public let startTime: UInt64
  /// Where /proc/PID/exe pointed when opened.
  public let executable: String
  /// The Go toolchain that built the target, e.g. `go1.22.10`.
  public let goVersion: String?
  /// Added to the binary's addresses to get the process's (non-zero for PIE).
  public let loadBias: UInt64
  public let limits: Limits
  /// Where the struct offsets came from.
  public let offsetsSource: GoBinary.OffsetsSource

  let binary: GoBinary
  let offsets: GoOffsets
  let waitReasons: [String]
  let statuses: [GoroutineStatus]
  let memory: ProcessMemory
  let allgs: UInt64
  let allglen: UInt64
  let allm: UInt64
  private var frames: [UInt64: StackFrame] = [:]
  /// The stacks of the last snapshot by goid, with the saved context they were walked from.
  private var stacks: [Int64: (context: DecodedG.SavedContext, frames: [StackFrame])] = [:]

  /// Opens process `pid`. Throws `processExited` if it is gone, `notGo` for a non-Go
  /// executable, `binary` when the Go binary lacks what the reader needs.
  public init(pid: Int32, limits: Limits = Limits()) throws(GoProcessError) {
    self.pid = pid
    self.limits = limits
    memory = ProcessMemory(pid: pid)
    startTime = try ProcFS.startTime(pid: pid)
    executable = ProcFS.executableName(pid: pid)
    let binary: GoBinary
    do {
      binary = try GoBinary(path: "/proc/\(pid)/exe")
    } catch GoRuntimeError.io {
      // Opening the executable fails once the process is gone (or was never there).
      try ProcFS.checkAlive(pid: pid, startTime: startTime)
      throw .permissionDenied(pid: pid, operation: "open /proc/\(pid)/exe")
    } catch GoRuntimeError.notELF, GoRuntimeError.notGo {
      throw .notGo(pid: pid, executable: executable)
    } catch let error as GoRuntimeError {
      throw .binary(pid: pid, error)
    } catch {
      throw .procfs(pid: pid, path: "/proc/\(pid)/exe", reason: "\(error)")
    }
    guard binary.isGo else { throw .notGo(pid: pid, executable: executable) }
    self.binary = binary
    goVersion = binary.version
    do {
      (offsets, offsetsSource) = try binary.offsets()
      waitReasons = try binary.waitReasons()
      statuses = try binary.goroutineStatusNames().map(GoroutineStatus.init(runtimeName:))
      (allgs, allglen, allm) = (
        try binary.symbol(named: "runtime.allgs").address,
        try binary.symbol(named: "runtime.allglen").address,
        try binary.symbol(named: "runtime.allm").address
      )
    } catch let error as GoRuntimeError {
      throw .binary(pid: pid, error)
    } catch {
      throw .procfs(pid: pid, path: "/proc/\(pid)/exe", reason: "\(error)")
    }
    loadBias = try ProcFS.loadBias(pid: pid)
    // The executable read must belong to the process identified above.
    try ProcFS.checkAlive(pid: pid, startTime: startTime)
  }

  /// Throws `processExited` if the process is gone, `processReplaced` if its pid now names
  /// another process.
  public func checkIdentity() throws(GoProcessError) {
    try ProcFS.checkAlive(pid: pid, startTime: startTime)
  }

  /// Reads every goroutine and thread. Goroutine records that fail validation (torn by the
  /// target changing them during the read) are dropped and counted. Throws `processExited` or
  /// `processReplaced` when the process went away during the snapshot.
  public func snapshot() throws(GoProcessError) -> GoroutineSnapshot {
    try checkIdentity()
    let now = ProcFS.now()
    let taken = SnapshotTime(monotonicNanoseconds: now.monotonic, wallSeconds: now.wall)
    do throws(GoProcessError) {
      var snapshot = try readGoroutines(taken: taken)
      snapshot.threads = try readThreads(goids: snapshot.goroutineAddresses)
      try checkIdentity()
      return snapshot.value
    } catch {
      // A failed read of a process that has just gone says less than its exit.
      try checkIdentity()
      throw error
    }
  }

  struct PartialSnapshot {
    var value: GoroutineSnapshot
    var goroutineAddresses: [UInt64: Int64]
    var threads: [GoThread] {
      get { value.threads }
      set { value.threads = newValue }
    }
  }

  private func readGoroutines(taken: SnapshotTime) throws(GoProcessError) -> PartialSnapshot {
    let slice = offsets.slice
    let header = try memory.read(
      [
        .init(address: allglen &+ loadBias, count: 8),
        .init(address: allgs &+ loadBias, count: max(slice.len, slice.array) + 8),
      ], what: "runtime.allglen and runtime.allgs")
    guard let length = header.load(0, 0, as: UInt64.self),
      let array = header.load(1, slice.array, as: UInt64.self),
      let sliceLength = header.load(1, slice.len, as: UInt64.self)
    else {
      throw .unreadable(
        pid: pid, address: allgs &+ loadBias, count: 24, what: "runtime.allgs", errno: 14)
    }
    // allglen is published after the slice grows: never read past either.
    let available = min(length, sliceLength)
    let count = Int(min(available, UInt64(limits.maxGoroutines)))
    let pointers = try memory.read(
      [.init(address: array, count: count * 8)], what: "runtime.allgs array")
    guard pointers.isReadable(0) else {
      throw .unreadable(
        pid: pid, address: array, count: count * 8, what: "runtime.allgs array", errno: 14)
    }
    let addresses = (0..<count).map { pointers.load(0, $0 * 8, as: UInt64.self) ?? 0 }
    var goroutines: [Goroutine] = []
    goroutines.reserveCapacity(count)
    var (dead, dropped) = (0, 0)
    var goids: [UInt64: Int64] = [:]
    var seen = Set<Int64>()
    goids.reserveCapacity(count)
    seen.reserveCapacity(count)
    // Only the part of each g up to the last field decoded.
    let gPrefix = min(offsets.g.size, DecodedG.extent(of: offsets))
    var nextStacks: [Int64: (context: DecodedG.SavedContext, frames: [StackFrame])] = [:]
    nextStacks.reserveCapacity(count)
    // In chunks, so that read buffers stay small enough for the allocator to reuse them.
    for chunk in stride(from: 0, to: count, by: Self.chunkSize) {
      let indices = chunk..<min(count, chunk + Self.chunkSize)
      let records = try memory.read(
        indices.map {
          .init(address: addresses[$0], count: addresses[$0] == 0 ? 0 : gPrefix)
        },
        what: "runtime.g")
      var decoded: [DecodedG] = []
      decoded.reserveCapacity(indices.count)
      for (position, index) in indices.enumerated() {
        guard addresses[index] != 0, records.isReadable(position),
          let g = DecodedG(records, position, offsets: offsets, statuses: statuses)
        else {
          dropped += 1
          continue
        }
        if g.status == .dead {
          dead += 1
          continue
        }
        guard g.isConsistent, seen.insert(g.goid).inserted else {
          dropped += 1
          continue
        }
        goids[addresses[index]] = g.goid
        decoded.append(g)
      }
      let walked = try walkStacks(decoded)
      for (g, stack) in zip(decoded, walked) where g.hasSavedContext {
        nextStacks[g.goid] = (g.savedContext, stack)
      }
      for (g, stack) in zip(decoded, walked) {
        let start = resolve(g.startpc, returnAddress: false)
        // A live goroutine runs a function in the text: anything else is a torn record.
        guard g.status == .idle || start.function != nil else {
          dropped += 1
          continue
        }
        let reason =
          g.status.isParked && Int(g.waitReason) < waitReasons.count
          ? waitReasons[Int(g.waitReason)] : ""
        goroutines.append(
          Goroutine(
            goid: g.goid, status: g.status, rawStatus: g.rawStatus,
            waitReason: reason.isEmpty ? nil : reason,
            creation: resolve(g.gopc, returnAddress: true), start: start,
            trackingSeq: g.trackingSeq,
            waitingSinceNanoseconds: g.waitsince > 0 ? UInt64(g.waitsince) : nil,
            parentGoid: g.parentGoid, stack: stack))
      }
    }
    stacks = nextStacks
    return PartialSnapshot(
      value: GoroutineSnapshot(
        pid: pid, taken: taken, goroutines: goroutines, deadCount: dead, droppedCount: dropped,
        truncated: available > UInt64(count)),
      goroutineAddresses: goids)
  }

  /// Goroutines read and decoded together.
  static let chunkSize = 4096

  /// Bytes read from the top of each saved stack at once; deeper frames are read one by one.
  static let stackWindow: UInt64 = 1024

  /// Walks the saved stacks of all goroutines together: first the top `stackWindow` bytes of
  /// every stack in one batched read, then, for the few stacks whose frames go deeper, one
  /// batched read per further frame.
  private func walkStacks(_ gs: [DecodedG]) throws(GoProcessError) -> [[StackFrame]] {
    struct Walk {
      var index: Int
      var bp: UInt64
      var hi: UInt64
    }
    var pcs = [[UInt64]](repeating: [], count: gs.count)
    var cached = [[StackFrame]?](repeating: nil, count: gs.count)
    var walks: [Walk] = []
    for (index, g) in gs.enumerated() where g.hasSavedContext {
      // Not run since the last snapshot (same trackingSeq and saved context): same stack.
      if let previous = stacks[g.goid], previous.context == g.savedContext {
        cached[index] = previous.frames
        continue
      }
      pcs[index] = [g.pc]
      if g.bp >= max(g.sp, g.stackLo), g.bp <= g.stackHi &- 16, g.bp % 8 == 0 {
        walks.append(Walk(index: index, bp: g.bp, hi: g.stackHi))
      }
    }
    /// Follows one frame record (saved caller BP, return address); false when the walk ends.
    func step(_ walk: inout Walk, callerBP: UInt64, ret: UInt64) -> Bool {
      guard ret != 0 else { return false }
      pcs[walk.index].append(ret)
      guard callerBP > walk.bp, callerBP <= walk.hi &- 16, callerBP % 8 == 0,
        pcs[walk.index].count < limits.maxStackDepth
      else { return false }
      walk.bp = callerBP
      return true
    }
    let windows = try memory.read(
      walks.map {
        let g = gs[$0.index]
        return .init(address: g.sp, count: Int(min(g.stackHi - g.sp, Self.stackWindow)))
      }, what: "goroutine stacks")
    var deeper: [Walk] = []
    for (position, start) in walks.enumerated() {
      var walk = start
      let base = gs[walk.index].sp
      while true {
        let offset = Int(walk.bp - base)
        guard let callerBP = windows.load(position, offset, as: UInt64.self),
          let ret = windows.load(position, offset + 8, as: UInt64.self)
        else {
          deeper.append(walk)
          break
        }
        guard step(&walk, callerBP: callerBP, ret: ret) else { break }
      }
    }
    walks = deeper
    while !walks.isEmpty {
      let words = try memory.read(
        walks.map { .init(address: $0.bp, count: 16) }, what: "goroutine stack frame")
      var next: [Walk] = []
      for (position, start) in walks.enumerated() {
        var walk = start
        guard let callerBP = words.load(position, 0, as: UInt64.self),
          let ret = words.load(position, 8, as: UInt64.self),
          step(&walk, callerBP: callerBP, ret: ret)
        else { continue }
        next.append(walk)
      }
      walks = next
    }
    return pcs.indices.map { index in
      if let frames = cached[index] { return frames }
      var frames: [StackFrame] = []
      for (position, pc) in pcs[index].enumerated() {
        // The first PC may be a function's entry (a goroutine that never ran); the others are
        // return addresses.
        let frame = resolve(pc, returnAddress: position > 0)
        guard let function = frame.function, function != "runtime.goexit" else { break }
        frames.append(frame)
      }
      return frames
    }
  }

  /// Function, file and line of a PC in the process (cached). A return address is looked up
  /// one byte earlier, at its call, unless it is a function's entry.
  private func resolve(_ pc: UInt64, returnAddress: Bool) -> StackFrame {
    let filePC = pc &- loadBias
    let key = returnAddress ? filePC : filePC | (1 << 63)
    if let cached = frames[key] { return cached }
    var frame = StackFrame(pc: filePC, function: nil)
    if let function = try? binary.function(containing: filePC) {
      let lookup = returnAddress && filePC > function.entry ? filePC - 1 : filePC
      let location = try? binary.sourceLocation(for: lookup)
      frame = StackFrame(
        pc: filePC, function: function.name, file: location?.file, line: location?.line)
    }
    if frames.count < 1 << 20 { frames[key] = frame }
    return frame
  }

  private func readThreads(goids: [UInt64: Int64]) throws(GoProcessError) -> [GoThread] {
    let head = try memory.read(address: allm &+ loadBias, count: 8, what: "runtime.allm")
    var address = head.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    let m = offsets.m
    let size = [m.id, m.procid, m.curg, m.alllink].max()! + 8
    var threads: [GoThread] = []
    var visited = Set<UInt64>()
    while address != 0, threads.count < limits.maxThreads, visited.insert(address).inserted {
      let record = try memory.read([.init(address: address, count: size)], what: "runtime.m")
      guard let id = record.load(0, m.id, as: Int64.self),
        let procid = record.load(0, m.procid, as: UInt64.self),
        let curg = record.load(0, m.curg, as: UInt64.self),
        let link = record.load(0, m.alllink, as: UInt64.self)
      else { break }
      threads.append(
        GoThread(
          mID: id, tid: Int32(truncatingIfNeeded: procid),
          curgGoid: curg == 0 ? nil : goids[curg]))
      address = link
    }
    return threads
  }
}

/// The fields of one `runtime.g` record.
struct DecodedG {
  var goid: Int64
  var status: GoroutineStatus
  var rawStatus: UInt32
  var waitReason: UInt8
  var trackingSeq: UInt8?
  var parentGoid: Int64?
  var gopc: UInt64
  var startpc: UInt64
  var waitsince: Int64
  var stackLo: UInt64
  var stackHi: UInt64
  var sp: UInt64
  var pc: UInt64
  var bp: UInt64

  init?(
    _ batch: ProcessMemory.Batch, _ index: Int, offsets: GoOffsets, statuses: [GoroutineStatus]
  ) {
    let g = offsets.g
    func load<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T? {
      batch.load(index, offset, as: T.self)
    }
    guard let raw = load(g.atomicstatus, UInt32.self), let goid = load(g.goid, Int64.self),
      let reason = load(g.waitreason, UInt8.self), let gopc = load(g.gopc, UInt64.self),
      let startpc = load(g.startpc, UInt64.self), let waitsince = load(g.waitsince, Int64.self),
      let lo = load(g.stack + offsets.stack.lo, UInt64.self),
      let hi = load(g.stack + offsets.stack.hi, UInt64.self),
      let sp = load(g.sched + offsets.gobuf.sp, UInt64.self),
      let pc = load(g.sched + offsets.gobuf.pc, UInt64.self),
      let bp = load(g.sched + offsets.gobuf.bp, UInt64.self)
    else { return nil }
    let base = Int(raw & ~0x1000)
    status = base < statuses.count ? statuses[base] : .unknown
    (self.goid, rawStatus, waitReason, self.gopc, self.startpc) = (goid, raw, reason, gopc, startpc)
    trackingSeq = g.trackingSeq.flatMap { load($0, UInt8.self) }
    parentGoid = g.parentGoid.flatMap { load($0, Int64.self) }
    (self.waitsince, stackLo, stackHi, self.sp, self.pc, self.bp) = (
      waitsince, lo, hi, sp, pc, bp
    )
  }

  /// Plausible for a live goroutine: a known status, a positive goid, a sane stack.
  var isConsistent: Bool {
    guard status != .unknown, goid > 0, goid < 1 << 62 else { return false }
    guard hasSavedContext else { return true }
    return stackLo < stackHi && stackHi - stackLo <= 1 << 30 && sp >= stackLo && sp <= stackHi
      && pc != 0
  }

  /// The bytes of a g that hold every field decoded.
  static func extent(of offsets: GoOffsets) -> Int {
    let g = offsets.g
    let words = [
      g.atomicstatus, g.goid, g.waitreason, g.gopc, g.startpc, g.waitsince,
      g.stack + offsets.stack.lo, g.stack + offsets.stack.hi, g.sched + offsets.gobuf.sp,
      g.sched + offsets.gobuf.pc, g.sched + offsets.gobuf.bp, g.trackingSeq ?? 0,
      g.parentGoid ?? 0,
    ]
    return words.max()! + 8
  }

  /// What the stack walk starts from; a goroutine that has not run since keeps its stack.
  struct SavedContext: Equatable {
    var trackingSeq: UInt8?
    var rawStatus: UInt32
    var sp: UInt64
    var pc: UInt64
    var bp: UInt64
    var stackHi: UInt64
  }

  var savedContext: SavedContext {
    SavedContext(
      trackingSeq: trackingSeq, rawStatus: rawStatus, sp: sp, pc: pc, bp: bp, stackHi: stackHi)
  }

  /// Statuses whose `g.sched` holds where the goroutine will resume.
  var hasSavedContext: Bool {
    [.waiting, .leaked, .runnable, .preempted].contains(status)
  }
}
