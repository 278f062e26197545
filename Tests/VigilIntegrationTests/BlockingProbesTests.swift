import BPFCore
import BlockingModel
import CVigilABI
import Foundation
import Logging
import Probes
import XCTest

/// Loads the real probes against real processes.
final class BlockingProbesTests: XCTestCase {
  private var pinRoot = ""
  private var descriptorsBefore: [String] = []

  override func setUpWithError() throws {
    try TestEnvironment.requireBPF()
    descriptorsBefore = TestEnvironment.openDescriptors()
    pinRoot = TestEnvironment.makePinRoot()
  }

  override func tearDown() {
    if !pinRoot.isEmpty { BPFPin.removeTree(pinRoot) }
    // BPF objects only: Foundation and Dispatch open descriptors of their own (Process, pipes, epoll).
    let leaked = Set(TestEnvironment.openDescriptors()).subtracting(descriptorsBefore)
      .filter { $0.contains("bpf") }
    XCTAssertEqual(leaked, [], "a BPF test leaked file descriptors")
  }

  /// Collects decoded records from a ring buffer on its own thread until `stop`.
  final class Collector: @unchecked Sendable {
    // Unchecked: `records` and `stopped` are guarded by `lock`.
    private let lock = NSLock()
    private var records: [ProbeRecord] = []
    private var stopped = false
    private var ring: BPFRingBuffer?
    private let finished = DispatchSemaphore(value: 0)

    init(probes: BlockingProbes) throws {
      ring = try probes.makeRingBuffer { [self] bytes in
        if let record = try? RecordDecoder.decode(bytes) {
          lock.withLock { records.append(record) }
        }
      }
      Thread.detachNewThread { [self] in
        while let ring = lock.withLock({ stopped ? nil : ring }) {
          _ = try? ring.poll(timeoutMilliseconds: 50)
        }
        finished.signal()
      }
    }

    /// Stops polling, waits for the thread to end and frees the ring buffer.
    func stop() {
      lock.withLock { stopped = true }
      finished.wait()
      lock.withLock { ring = nil }
    }

    var all: [ProbeRecord] { lock.withLock { records } }
    var episodes: [BlockingEpisode] {
      all.compactMap { if case .blocking(let episode) = $0 { episode } else { nil } }
    }
  }

  /// Fresh probes with a 50 ms futex threshold and `offcpuThreshold`, waking the reader at once,
  /// and a collector of what they report (stop it when done).
  private func probesReporting(offcpuThreshold: UInt64, ringBufferBytes: UInt32 = 1 << 20) throws
    -> (BlockingProbes, Collector)
  {
    let probes = try BlockingProbes(
      pinRoot: pinRoot, ringBufferBytes: ringBufferBytes, logger: Logger(label: "test"))
    try probes.apply(
      ProbeSettings(
        offcpuThresholdNanoseconds: offcpuThreshold, futexThresholdNanoseconds: 50_000_000,
        wakeupBytes: 1))
    return (probes, try Collector(probes: probes))
  }

  func testReportsSleepFutexAndPipeEpisodesOfTheTargetOnly() throws {
    let (probes, collector) = try probesReporting(offcpuThreshold: 50_000_000)
    defer { collector.stop() }

    let target = try Workload(rounds: 2)
    let bystander = try Workload(rounds: 2)
    try probes.watchProcess(target.pid, targetID: 7)
    try target.start()
    try bystander.start()
    target.waitUntilDone(timeout: 10)
    bystander.waitUntilDone(timeout: 10)
    usleep(300_000)

    let episodes = collector.episodes
    XCTAssertFalse(episodes.contains { $0.pid == bystander.pid }, "untargeted process reported")
    let threads = target.threads

    let sleeps = episodes.filter { $0.kind == .offcpu && $0.tid == threads.sleeper }
    XCTAssertTrue(
      sleeps.contains { abs(Double($0.durationNanoseconds) / 1e6 - 200) <= 40 }, "sleeps: \(sleeps)"
    )
    XCTAssertTrue(sleeps.allSatisfy { $0.targetID == 7 && $0.state == .interruptible })
    XCTAssertTrue(
      sleeps.allSatisfy { $0.waker == nil }, "a timer wake-up was blamed on a task: \(sleeps)")

    let futexWaits = episodes.filter { $0.kind == .futex && $0.tid == threads.futexWaiter }
    let futexWait = try XCTUnwrap(
      futexWaits.first { abs(Double($0.durationNanoseconds) / 1e6 - 300) <= 60 },
      "futex: \(futexWaits)")
    XCTAssertEqual(futexWait.futex?.outcome, .woken)
    XCTAssertEqual(futexWait.futex?.operationName, "FUTEX_WAIT_PRIVATE")
    XCTAssertEqual(futexWait.waker?.tid, threads.futexWaker)

    let timedOut = episodes.filter { $0.kind == .futex && $0.tid == threads.futexTimeout }
    XCTAssertTrue(
      timedOut.contains {
        $0.futex?.outcome == .timedOut && abs(Double($0.durationNanoseconds) / 1e6 - 150) <= 30
      }, "timed-out futex waits: \(timedOut)")
    let interrupted = episodes.filter { $0.kind == .futex && $0.tid == threads.futexInterrupted }
    // The kernel's own return value (-ERESTARTSYS), before signal delivery turns it into EINTR.
    XCTAssertTrue(
      interrupted.contains { $0.futex?.outcome == .interrupted }, "interrupted: \(interrupted)")

    let pipeReads = episodes.filter { $0.kind == .offcpu && $0.tid == threads.pipeReader }
    let pipeRead = try XCTUnwrap(
      pipeReads.first { abs(Double($0.durationNanoseconds) / 1e6 - 250) <= 50 },
      "pipe: \(pipeReads)")
    XCTAssertEqual(pipeRead.waker?.tid, threads.pipeWriter)
    XCTAssertFalse(pipeRead.stack.isEmpty)

    XCTAssertTrue(
      collector.all.contains(.exit(pid: target.pid, targetID: 7, comm: "vigil-workload")))
    XCTAssertEqual(try probes.watchedProcesses()[target.pid], nil, "exited process still targeted")
    print("episodes: \(episodes.count)")
  }

  /// Threads keep the target they were found under only until the target sets change: a new
  /// target id is picked up, and an unwatched process is no longer reported.
  func testTargetChangesReachThreadsThatAlreadyBlocked() throws {
    let (probes, collector) = try probesReporting(offcpuThreshold: 50_000_000)
    defer { collector.stop() }
    let target = try Workload(rounds: 8)  // the sleeper sleeps 200 ms a round
    defer { target.kill() }
    func now() -> UInt64 {
      var time = timespec()
      clock_gettime(CLOCK_MONOTONIC, &time)
      return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
    try probes.watchProcess(target.pid, targetID: 7)
    try target.start()
    usleep(500_000)
    let renumbered = now()
    try probes.watchProcess(target.pid, targetID: 9)
    usleep(500_000)
    let unwatched = now()
    try probes.unwatchProcess(target.pid)
    usleep(500_000)

    let sleeps = collector.episodes.filter {
      $0.kind == .offcpu && $0.tid == target.threads.sleeper
    }
    XCTAssertTrue(sleeps.contains { $0.targetID == 7 }, "\(sleeps)")
    XCTAssertTrue(sleeps.contains { $0.targetID == 9 }, "\(sleeps)")
    XCTAssertFalse(
      sleeps.contains { $0.targetID == 7 && $0.startMonotonicNanoseconds > renumbered },
      "an old target id after the change: \(sleeps)")
    XCTAssertFalse(
      sleeps.contains { $0.startMonotonicNanoseconds > unwatched },
      "reported after it was unwatched: \(sleeps)")
  }

  /// An upgrade that drops a probe: the old build's link pin of a program this build lacks is
  /// removed (which detaches it) when the probes are opened.
  func testLinksOfProgramsThisBuildLacksAreUnpinned() throws {
    let logger = Logger(label: "test")
    let first = try BlockingProbes(pinRoot: pinRoot, ringBufferBytes: 1 << 20, logger: logger)
    let directory = first.pinDirectory
    XCTAssertEqual(
      rename("\(directory)/link_vigil_exec", "\(directory)/link_vigil_sys_enter"), 0,
      "rename: \(errno)")
    let second = try BlockingProbes(pinRoot: pinRoot, ringBufferBytes: 1 << 20, logger: logger)
    let links = BPFPin.list(directory).filter { $0.hasPrefix("link_") }
    XCTAssertFalse(links.contains("link_vigil_sys_enter"), "stale link kept: \(links)")
    XCTAssertTrue(links.contains("link_vigil_exec"))
    XCTAssertEqual(Set(links), Set(second.programs.map { "link_\($0.name)" }))
  }

  /// Under 1 ms thresholds the stack is taken at switch-out and the episode written at
  /// switch-in (no task work): every sleep is reported, with the same details.
  func testZeroThresholdReportsEverySleepWithStackAndWaker() throws {
    let (probes, collector) = try probesReporting(offcpuThreshold: 0, ringBufferBytes: 1 << 22)
    defer { collector.stop() }
    let target = try Workload(rounds: 1)
    try probes.watchProcess(target.pid, targetID: 3)
    try target.start()
    target.waitUntilDone(timeout: 10)
    usleep(300_000)

    let episodes = collector.episodes.filter { $0.kind == .offcpu }
    let threads = target.threads
    XCTAssertGreaterThan(episodes.count, 10, "every sleep, short ones too")
    let sleep = try XCTUnwrap(
      episodes.first {
        $0.tid == threads.sleeper && abs(Double($0.durationNanoseconds) / 1e6 - 200) <= 40
      }, "\(episodes.filter { $0.tid == threads.sleeper })")
    XCTAssertFalse(sleep.stack.isEmpty)
    XCTAssertNil(sleep.waker)
    XCTAssertEqual(sleep.comm, "vigil-workload")
    XCTAssertEqual(sleep.pid, target.pid)
    let pipeRead = try XCTUnwrap(
      episodes.first {
        $0.tid == threads.pipeReader && abs(Double($0.durationNanoseconds) / 1e6 - 250) <= 50
      })
    XCTAssertEqual(pipeRead.waker?.tid, threads.pipeWriter)
    XCTAssertFalse(pipeRead.stack.isEmpty)
    XCTAssertEqual(try probes.readCounters().resumeWorkFailures, 0)
  }

  /// An upgrade whose maps changed layout: pins of the old layout are replaced, not reused, and
  /// the probes work.
  func testPinnedMapsOfAnotherLayoutAreReplaced() throws {
    let directory = "\(pinRoot)/blocking-v\(VIGIL_ABI_VERSION)"
    try BPFPin.makeDirectory(directory)
    do {
      let old = try BPFMap<UInt32, UInt64>.create(
        type: .array, name: "vigil_settings", maxEntries: 1)
      try BPFPin.pin(old.fd, at: "\(directory)/vigil_settings")
    }
    let probes = try BlockingProbes(
      pinRoot: pinRoot, ringBufferBytes: 1 << 20, logger: Logger(label: "test"))
    try probes.apply(ProbeSettings())
    let pinned = try BPFMap<UInt32, vigil_settings>(fd: BPFPin.open("\(directory)/vigil_settings"))
    XCTAssertEqual(try pinned.lookup(0)?.offcpu_min_ns, ProbeSettings().offcpuThresholdNanoseconds)
  }
}
