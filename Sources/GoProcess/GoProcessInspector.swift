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
  /// Where each thread keeps its running goroutine: the `g` pointer at this offset from the
  /// thread pointer, the goroutine id at `goidOffset` in `g`.
  public let gThreadPointerOffset: Int64
  public var goidOffset: Int { offsets.g.goid }
  /// Offset of `g.waitreason` (a byte) in `g`.
  public var waitReasonOffset: Int { offsets.g.waitreason }

  /// Where a trace session's uprobe goes: `runtime.casgstatus` in `/proc/PID/exe`, as an offset
  /// in that file.
  public func casgstatusFileOffset() throws(GoProcessError) -> UInt64 {
    do {
      return try binary.fileOffset(ofAddress: binary.symbol(named: "runtime.casgstatus").address)
    } catch let error as GoRuntimeError {
      throw .binary(pid: pid, error)
    } catch {
      throw .procfs(pid: pid, path: "/proc/\(pid)/exe", reason: "\(error)")
    }
  }

  /// The state a raw `g.atomicstatus` and `g.waitreason` stand for in this binary.
  public func state(rawStatus: UInt32, rawWaitReason: UInt32) -> GoroutineState {
    let base = Int(rawStatus & ~0x1000)  // without _Gscan
    let status = base < statuses.count ? statuses[base] : .unknown
    let reason = Int(rawWaitReason) < waitReasons.count ? waitReasons[Int(rawWaitReason)] : ""
    return GoroutineState(status: status, waitReason: reason.isEmpty ? nil : reason)
  }

  let binary: GoBinary
  let offsets: GoOffsets
  let waitReasons: [String]
  let statuses: [GoroutineStatus]
  let memory: ProcessMemory
  let allgs: UInt64
  let allglen: UInt64
  let allm: UInt64
  /// Resolved PCs by file PC (bit 63 set for a PC that is not a return address).
  var frames: [UInt64: StackFrame] = [:]
  /// Resolved stacks by their PCs: goroutines parked at the same place share one array.
  var stackFrames: [[UInt64]: [StackFrame]] = [:]
  /// What the last snapshot read at each position of `allgs`.
  var remembered = RememberedGs()

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
      gThreadPointerOffset = try binary.gThreadPointerOffset()
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
      var (snapshot, goids) = try readGoroutines(taken: taken)
      snapshot.threads = try readThreads(goids: goids)
      try checkIdentity()
      return snapshot
    } catch {
      // A failed read of a process that has just gone says less than its exit.
      try checkIdentity()
      throw error
    }
  }

  /// Function, file and line of a PC in the process (cached). A return address is looked up
  /// one byte earlier, at its call, unless it is a function's entry.
  func resolve(_ pc: UInt64, returnAddress: Bool) -> StackFrame {
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

  /// The frames of a walked stack (innermost first, up to `runtime.goexit`), shared between
  /// goroutines with the same PCs.
  func resolveStack(_ pcs: [UInt64]) -> [StackFrame] {
    if let cached = stackFrames[pcs] { return cached }
    var frames: [StackFrame] = []
    for (position, pc) in pcs.enumerated() {
      // The first PC may be a function's entry (a goroutine that never ran); the others are
      // return addresses.
      let frame = resolve(pc, returnAddress: position > 0)
      guard let function = frame.function, function != "runtime.goexit" else { break }
      frames.append(frame)
    }
    if stackFrames.count < 1 << 16 { stackFrames[pcs] = frames }
    return frames
  }
}
