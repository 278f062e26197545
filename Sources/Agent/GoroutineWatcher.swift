import AgentConfig
import BPFCore
import ControlAPI
import Foundation
import GoProcess
import GoRuntime
import GoroutineModel
import Logging
import Probes

/// Watches Go processes from outside: snapshots each one's goroutines at `goroutines.interval`
/// (reading its memory; the process is never stopped or written), follows them with a
/// `GoroutineTracker`, and logs each group that becomes a suspected leak as a
/// `goroutine_leak` JSON line, with what the process's threads were doing in the kernel.
///
/// With `goroutines.discover`, every Go process on the node is watched (up to
/// `goroutines.maxProcesses`); any process asked about through the API is watched from then on.
final class GoroutineWatcher: @unchecked Sendable {
  // Unchecked: every mutable field is guarded by `lock`; inspectors are used under it only.
  private let settings: GoroutineSettings
  private let policy: LeakPolicy
  private let output: EventOutput
  private let logger: Logger
  private let lock = NSLock()
  private var watched: [Int32: Watched] = [:]
  /// Processes that are not Go (or could not be opened), by pid, with their start time.
  private var skipped: [Int32: UInt64] = [:]
  /// Whether an executable (path, size, mtime) is a Go binary.
  private var executables: [String: Bool] = [:]
  private let kernel: KernelHooks
  private let stopped = LockedValue(false)

  /// Tells the blocking probes which processes are Go processes and how to read the goroutine
  /// a thread runs, so blocking events carry it.
  struct KernelHooks: Sendable {
    var watching: @Sendable (GoProcessInspector) -> Void
    var forgetting: @Sendable (Int32) -> Void

    static let none = KernelHooks(watching: { _ in }, forgetting: { _ in })
  }

  private struct Watched {
    var inspector: GoProcessInspector
    var tracker: GoroutineTracker
    /// Leak groups already logged, with the count logged.
    var logged: [String: Int] = [:]
  }

  init(
    settings: GoroutineSettings, output: EventOutput, logger: Logger, kernel: KernelHooks = .none
  ) {
    self.settings = settings
    self.kernel = kernel
    policy = LeakPolicy(
      parkedThresholdSeconds: Double(settings.parkedThreshold) / 1e9,
      growthWindowSeconds: Double(settings.growthWindow) / 1e9)
    self.output = output
    self.logger = logger
  }

  /// Starts the snapshot loop on its own thread.
  func start() {
    let thread = Thread { [self] in
      while !stopped.value {
        let started = Date()
        scan()
        let wait = Double(settings.interval) / 1e9 - Date().timeIntervalSince(started)
        var waited = 0.0
        while waited < wait && !stopped.value {
          Thread.sleep(forTimeInterval: min(0.1, wait - waited))
          waited += 0.1
        }
      }
    }
    thread.name = "vigil-goroutines"
    thread.start()
  }

  func stop() { stopped.withLock { $0 = true } }

  /// Go processes being watched.
  var watchedCount: Int { lock.withLock { watched.count } }

  // MARK: Requests

  /// A fresh snapshot of `pid`, grouped; the process is watched from then on.
  func goroutines(pid: Int32) throws(GoProcessError) -> GoroutinesResponse {
    try withWatched(pid: pid) { (entry) throws(GoProcessError) in
      let snapshot = try snapshot(&entry)
      let leaking = Set(entry.tracker.leaks(policy: policy).map(Self.key))
      let groups = entry.tracker.groups()
      return GoroutinesResponse(
        pid: pid, executable: entry.inspector.executable, goVersion: entry.inspector.goVersion,
        takenAt: RFC3339.format(
          seconds: Int64(snapshot.taken.wallSeconds),
          nanoseconds: UInt32((snapshot.taken.wallSeconds.truncatingRemainder(dividingBy: 1)) * 1e9)
        ),
        total: snapshot.goroutines.count,
        groups: groups.map { group in
          GoroutineGroupJSON(
            count: group.count,
            states: Dictionary(uniqueKeysWithValues: group.states.map { ($0.rawValue, $1) }),
            waitReason: group.key.waitReason, creationFunction: group.key.creationFunction,
            creationFile: group.key.creationFile, creationLine: group.key.creationLine,
            blockingFunction: group.key.blockingFunction, blockingFile: group.key.blockingFile,
            blockingLine: group.key.blockingLine, longestParkedSeconds: group.oldestParkedSeconds,
            leak: leaking.contains(Self.key(group.key)))
        }, threads: snapshot.threads.count)
    }
  }

  /// The longest trace session, and the most changes one keeps.
  static let maxTraceSeconds = 10.0
  static let maxTraceChanges = 200_000

  /// A trace session: every goroutine status change of `pid` for `seconds`, seen by a uprobe
  /// on `runtime.casgstatus` (slows the target while it runs; never started on its own). The
  /// changes also move the tracked goroutines' state machines, after a fresh snapshot.
  func trace(pid: Int32, seconds: Double) throws(GoroutineTraceError) -> GoroutineTraceResponse {
    let probe: (fileOffset: UInt64, goidOffset: Int, waitReasonOffset: Int)
    do {
      probe = try withWatched(pid: pid) { (entry) throws(GoProcessError) in
        _ = try snapshot(&entry)
        return (
          try entry.inspector.casgstatusFileOffset(), entry.inspector.goidOffset,
          entry.inspector.waitReasonOffset
        )
      }
    } catch {
      throw .process(error)
    }
    let recording: GoStatusTrace.Recording
    do {
      // The lock is not held while recording: other processes' snapshots go on.
      let session = try GoStatusTrace(
        pid: pid, fileOffset: probe.fileOffset, goidOffset: probe.goidOffset,
        waitReasonOffset: probe.waitReasonOffset, maxChanges: Self.maxTraceChanges)
      recording = try session.record(seconds: seconds)
    } catch {
      throw .probe(error)
    }
    logger.info(
      "traced goroutine status changes",
      metadata: [
        "pid": "\(pid)", "changes": "\(recording.changes.count)", "lost": "\(recording.lost)",
      ])
    do {
      return try withWatched(pid: pid, creating: false) { (entry) throws(GoProcessError) in
        let changes = recording.changes.map(entry.inspector.named)
        entry.tracker.apply(changes)
        return GoroutineTraceResponse(
          pid: pid, seconds: recording.seconds, lost: recording.lost,
          trace: StatusTraceSummary(changes))
      }
    } catch {
      throw .process(error)
    }
  }

  /// A fresh snapshot of `pid` as a pprof goroutine profile.
  func pprof(pid: Int32) throws(GoProcessError) -> [UInt8] {
    try withWatched(pid: pid) { (entry) throws(GoProcessError) in
      let snapshot = try snapshot(&entry)
      return GoroutineProfile.encode(groups: entry.tracker.groups(), time: snapshot.taken)
    }
  }

  /// Suspected leaks of the watched processes (of `pid` only, when given), as of their last
  /// snapshots.
  func leaks(pid: Int32?) -> [GoroutineLeakJSON] {
    lock.withLock {
      watched.values.filter { pid == nil || $0.inspector.pid == pid }.flatMap { entry in
        let threads = ThreadStates.summary(pid: entry.inspector.pid)
        return entry.tracker.leaks(policy: policy).map {
          GoroutineLeakJSON(report: $0, threads: threads)
        }
      }.sorted { ($0.pid, $1.count) < ($1.pid, $0.count) }
    }
  }

  // MARK: The loop

  /// One round: finds new Go processes, snapshots every watched one, logs new leaks.
  func scan() {
    if settings.discover { discover() }
    let pids = lock.withLock { Array(watched.keys) }
    for pid in pids {
      do {
        try withWatched(pid: pid, creating: false) { (entry) throws(GoProcessError) in
          _ = try snapshot(&entry)
          logLeaks(&entry)
        }
      } catch {
        forget(pid, because: error)
      }
    }
  }

  private func discover() {
    let pids = ProcFS.allPids()
    let live = Set(pids)
    lock.withLock {
      skipped = skipped.filter { live.contains($0.key) }
      for pid in pids where watched[pid] == nil && pid != getpid() {
        let start = ThreadStates.startTime(pid: pid)
        if let skippedStart = skipped[pid], skippedStart == start { continue }
        guard isGoExecutable(pid) else {
          skipped[pid] = start
          continue
        }
        guard watched.count < settings.maxProcesses else {
          logger.warning(
            "Go process not watched: goroutines.maxProcesses reached",
            metadata: ["pid": "\(pid)", "goroutines.maxProcesses": "\(settings.maxProcesses)"])
          skipped[pid] = start
          continue
        }
        do {
          try startWatching(pid)
          logger.info("watching Go process", metadata: ["pid": "\(pid)"])
        } catch {
          logger.debug("Go process not readable", metadata: ["pid": "\(pid)", "error": "\(error)"])
          skipped[pid] = start
        }
      }
    }
  }

  /// Whether `pid`'s executable is a Go binary, cached by path, size and modification time.
  private func isGoExecutable(_ pid: Int32) -> Bool {
    let exe = "/proc/\(pid)/exe"
    guard let path = try? FileManager.default.destinationOfSymbolicLink(atPath: exe) else {
      return false  // kernel threads, or gone
    }
    var status = stat()
    guard stat(exe, &status) == 0 else { return false }
    let key = "\(path)|\(status.st_size)|\(status.st_mtim.tv_sec)"
    if let known = executables[key] { return known }
    let isGo = (try? GoBinary(path: exe))?.isGo ?? false
    executables[key] = isGo
    return isGo
  }

  private func withWatched<T>(
    pid: Int32, creating: Bool = true, _ body: (inout Watched) throws(GoProcessError) -> T
  ) throws(GoProcessError) -> T {
    lock.lock()
    defer { lock.unlock() }
    if watched[pid] == nil {
      guard creating else { throw GoProcessError.processExited(pid: pid) }
      try startWatching(pid)
    }
    do {
      return try body(&watched[pid]!)
    } catch {
      if case .processExited = error { stopWatching(pid) }
      if case .processReplaced = error { stopWatching(pid) }
      throw error
    }
  }

  /// Opens `pid` and watches it (under `lock`).
  private func startWatching(_ pid: Int32) throws(GoProcessError) {
    let inspector = try GoProcessInspector(pid: pid)
    watched[pid] = Watched(inspector: inspector, tracker: GoroutineTracker(pid: pid))
    kernel.watching(inspector)
  }

  /// Stops watching `pid` (under `lock`).
  private func stopWatching(_ pid: Int32) {
    guard watched.removeValue(forKey: pid) != nil else { return }
    kernel.forgetting(pid)
  }

  /// Takes a snapshot, checking first that the pid is still the same process.
  private func snapshot(_ entry: inout Watched) throws(GoProcessError) -> GoroutineSnapshot {
    try entry.inspector.checkIdentity()
    let snapshot = try entry.inspector.snapshot()
    do { _ = try entry.tracker.update(with: snapshot) } catch {
      // Snapshots are taken in order under the lock; anything else is a new process.
      entry.tracker = GoroutineTracker(pid: snapshot.pid)
      _ = try? entry.tracker.update(with: snapshot)
    }
    return snapshot
  }

  /// Logs groups that became leaks, and again when one has grown by half since it was logged.
  private func logLeaks(_ entry: inout Watched) {
    let reports = entry.tracker.leaks(policy: policy)
    guard !reports.isEmpty else { return }
    var threads: ThreadSummary?
    for report in reports {
      let key = Self.key(report)
      if let logged = entry.logged[key], report.count * 2 < logged * 3 { continue }
      entry.logged[key] = report.count
      threads = threads ?? ThreadStates.summary(pid: report.pid)
      let line = GoroutineLeakLine(
        time: Self.now(), leak: GoroutineLeakJSON(report: report, threads: threads))
      if let bytes = try? WireJSON.encode(line) {
        output.writeNow(String(decoding: bytes, as: UTF8.self))
      }
    }
  }

  private func forget(_ pid: Int32, because error: any Error) {
    lock.withLock { stopWatching(pid) }
    logger.info("stopped watching Go process", metadata: ["pid": "\(pid)", "reason": "\(error)"])
  }

  private static func key(_ report: LeakReport) -> String {
    "\(report.waitReason)|\(report.creationFunction)|\(report.creationFile):\(report.creationLine)|\(report.blockingFunction ?? "")"
  }

  private static func key(_ group: GoroutineGroupKey) -> String {
    "\(group.waitReason ?? "")|\(group.creationFunction ?? "?")|\(group.creationFile ?? "?"):\(group.creationLine ?? 0)|\(group.blockingFunction ?? "")"
  }

  private static func now() -> String {
    var time = timespec()
    clock_gettime(CLOCK_REALTIME, &time)
    return RFC3339.format(seconds: Int64(time.tv_sec), nanoseconds: UInt32(time.tv_nsec))
  }
}

/// A `goroutine_leak` line of the log: the leak's fields plus `kind` and `time`.
struct GoroutineLeakLine: Encodable {
  var time: String
  var leak: GoroutineLeakJSON

  private enum Keys: String, CodingKey { case kind, time }

  func encode(to encoder: any Encoder) throws {
    try leak.encode(to: encoder)
    var container = encoder.container(keyedBy: Keys.self)
    try container.encode("goroutine_leak", forKey: .kind)
    try container.encode(time, forKey: .time)
  }
}

/// Why a trace session failed: the process (gone, not Go, unreadable) or the probe.
enum GoroutineTraceError: Error {
  case process(GoProcessError)
  case probe(BPFError)
}

extension GoProcessInspector {
  /// A trace session's change in this process's terms. `g.waitreason` still names the old wait
  /// when a goroutine is readied, and already names the new one when it parks.
  func named(_ raw: RawGoStatusChange) -> ObservedStatusChange {
    ObservedStatusChange(
      goid: raw.goid, from: state(rawStatus: raw.fromStatus, rawWaitReason: raw.waitReason),
      to: state(rawStatus: raw.toStatus, rawWaitReason: raw.waitReason),
      monotonicNanoseconds: raw.monotonicNanoseconds, tid: raw.tid)
  }
}
