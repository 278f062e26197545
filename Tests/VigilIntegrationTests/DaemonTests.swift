import AgentConfig
import BPFCore
import CVigilABI
import ControlAPI
import Foundation
import XCTest

/// The real vigild against real processes, through its API and its event log.
final class DaemonTests: XCTestCase {
  private var daemons: [Daemon] = []

  override func setUpWithError() throws { try TestEnvironment.requireBPF() }

  override func tearDown() {
    for daemon in daemons { daemon.cleanUp() }
    daemons = []
  }

  private func startDaemon(_ arguments: [String] = [], config: String? = nil) throws -> Daemon {
    let daemon = try Daemon(arguments: arguments, config: config)
    daemons.append(daemon)
    try daemon.waitUntilReady()
    return daemon
  }

  private static let quietConfig = """
    targets: []
    blocking:
      offcpuThreshold: 50ms
      futexThreshold: 50ms
    """

  func testReportsBlockingOfAnAPITargetWithSymbolizedStacksAndNothingForOthers() throws {
    let daemon = try startDaemon(config: Self.quietConfig)
    let target = try Workload(rounds: 2)
    let bystander = try Workload(rounds: 2)
    let (status, body) = try daemon.request(
      "POST", APIPath.targets, body: #"{"pid":\#(target.pid)}"#)
    XCTAssertEqual(status, 201, body)
    try target.start()
    try bystander.start()
    target.waitUntilDone(timeout: 15)
    bystander.waitUntilDone(timeout: 15)
    Thread.sleep(forTimeInterval: 0.5)

    let events = daemon.events
    XCTAssertFalse(events.contains { $0.pid == bystander.pid }, "untargeted process reported")
    let threads = target.threads
    func near(_ event: BlockingEventJSON, _ milliseconds: Double) -> Bool {
      abs(Double(event.durationNs) / 1e6 - milliseconds) <= milliseconds * 0.2
    }

    let sleep = try XCTUnwrap(
      events.first { $0.kind == "offcpu" && $0.tid == threads.sleeper && near($0, 200) },
      "\(events)")
    XCTAssertTrue(sleep.stack.contains("workload_sleeper"), "\(sleep.stack)")
    XCTAssertEqual(sleep.state, "interruptible")
    XCTAssertNil(sleep.waker)

    let futex = try XCTUnwrap(
      events.first { $0.kind == "futex" && $0.tid == threads.futexWaiter && near($0, 300) },
      "\(events)")
    XCTAssertEqual(futex.waker?.tid, threads.futexWaker)
    XCTAssertEqual(futex.futex?.outcome, "woken")
    XCTAssertTrue(futex.stack.contains("workload_futex_waiter"), "\(futex.stack)")

    let read = try XCTUnwrap(
      events.first { $0.kind == "offcpu" && $0.tid == threads.pipeReader && near($0, 250) },
      "\(events)")
    XCTAssertEqual(read.waker?.tid, threads.pipeWriter)
    XCTAssertTrue(read.stack.contains("workload_pipe_reader"), "\(read.stack)")
    XCTAssertEqual(read.comm, "vigil-workload")
    XCTAssertNotNil(RFC3339.parse(read.time))

    // The API serves the same events, filtered.
    let (_, recent) = try daemon.request("GET", "\(APIPath.events)?pid=\(target.pid)&kind=futex")
    let lines = recent.split(separator: "\n")
    XCTAssertFalse(lines.isEmpty)
    XCTAssertTrue(lines.allSatisfy { $0.contains("\"kind\":\"futex\"") })
  }

  func testPicksUpExecutableTargetsThatStartLater() throws {
    let daemon = try startDaemon(
      ["--target", "executable:vigil-workload"], config: Self.quietConfig)
    let workload = try Workload(rounds: 1)
    try workload.start()
    workload.waitUntilDone(timeout: 10)
    Thread.sleep(forTimeInterval: 0.5)
    XCTAssertTrue(
      daemon.events.contains { $0.pid == workload.pid && $0.tid == workload.threads.futexWaiter })
  }

  func testCgroupTargetWatchesTheProcessesInside() throws {
    let mount = try XCTUnwrap(ProcFS.cgroup2Mount(), "no cgroup v2 mount")
    let cgroup = "\(mount)/vigil-test-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: cgroup, withIntermediateDirectories: false)
    let daemon = try startDaemon(config: Self.quietConfig)
    let inside = try Workload(rounds: 1)
    let outside = try Workload(rounds: 1)
    defer {
      inside.kill()
      outside.kill()
      try? FileManager.default.removeItem(atPath: cgroup)
    }
    try "\(inside.pid)\n".write(
      toFile: "\(cgroup)/cgroup.procs", atomically: false, encoding: .utf8)
    let (status, body) = try daemon.request(
      "POST", APIPath.targets, body: #"{"cgroup":"\#(cgroup)"}"#)
    XCTAssertEqual(status, 201, body)
    XCTAssertTrue(
      body.contains("\(inside.pid)"), "cgroup target does not list its process: \(body)")
    try inside.start()
    try outside.start()
    inside.waitUntilDone(timeout: 10)
    outside.waitUntilDone(timeout: 10)
    Thread.sleep(forTimeInterval: 0.5)
    let events = daemon.events
    XCTAssertTrue(
      events.contains { $0.pid == inside.pid && $0.tid == inside.threads.pipeReader }, "\(events)")
    XCTAssertFalse(events.contains { $0.pid == outside.pid })

    let (missing, error) = try daemon.request(
      "POST", APIPath.targets, body: #"{"cgroup":"\#(mount)/no-such-group"}"#)
    XCTAssertEqual(missing, 404)
    XCTAssertTrue(error.contains("does not exist"), error)
  }

  func testUnknownPidAndATargetThatExitsLeaveTheDaemonRunning() throws {
    let daemon = try startDaemon(config: Self.quietConfig)
    let (status, body) = try daemon.request("POST", APIPath.targets, body: #"{"pid":999999999}"#)
    XCTAssertEqual(status, 404)
    XCTAssertTrue(body.contains("no process with pid 999999999"), body)

    let shortLived = Process()
    shortLived.executableURL = TestEnvironment.executable("vigil-workload")
    shortLived.arguments = ["idle", "0.5"]
    try shortLived.run()
    let (added, _) = try daemon.request(
      "POST", APIPath.targets, body: #"{"pid":\#(shortLived.processIdentifier)}"#)
    XCTAssertEqual(added, 201)
    shortLived.waitUntilExit()
    Thread.sleep(forTimeInterval: 0.5)
    let (_, list) = try daemon.request("GET", APIPath.targets)
    XCTAssertFalse(list.contains("\"value\":\"\(shortLived.processIdentifier)\""), list)
    XCTAssertEqual(try daemon.status().targets, 0)
  }

  func testUnauthorizedPeerCannotMutate() throws {
    let config = Self.quietConfig + "\nsocket:\n  mode: \"0666\"\n"
    let daemon = try startDaemon(config: config)
    let asNobody = [
      "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/curl", "-s", "-o", "/dev/null",
      "-w", "%{http_code}", "--unix-socket", daemon.socket,
    ]
    let (_, read) = try runCommand("/usr/bin/setpriv", asNobody + ["http://localhost/v1/status"])
    XCTAssertEqual(read, "200")
    let (_, write) = try runCommand(
      "/usr/bin/setpriv",
      asNobody + ["-X", "POST", "-d", #"{"pid":1}"#, "http://localhost/v1/targets"])
    XCTAssertEqual(write, "403")
    XCTAssertEqual(try daemon.status().targets, 0)
  }

  func testMalformedConfigIsRejectedNamingTheField() throws {
    let daemon = try Daemon(config: "blocking:\n  offcpuThreshold: 10 parsecs\n")
    daemons.append(daemon)
    XCTAssertNotEqual(daemon.waitForExit(), 0)
    Thread.sleep(forTimeInterval: 0.2)
    XCTAssertTrue(daemon.stderr.contains("blocking.offcpuThreshold"), daemon.stderr)
  }

  func testMissingBPFAndMissingPrivilegesGiveClearErrors() throws {
    let notBPF = try Daemon(pinRoot: "/tmp/not-a-bpffs/vigil")
    daemons.append(notBPF)
    XCTAssertNotEqual(notBPF.waitForExit(), 0)
    Thread.sleep(forTimeInterval: 0.2)
    XCTAssertTrue(notBPF.stderr.contains("is not on a bpffs"), notBPF.stderr)

    let vigild = TestEnvironment.executable("vigild").path
    let (status, output) = try runCommand(
      "/usr/bin/setpriv",
      [
        "--reuid=65534", "--regid=65534", "--clear-groups", vigild, "--socket",
        "/tmp/vigil-nobody.sock",
      ])
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.contains("needs root"), output)
  }

  /// An upgrade across ABI versions: what the older vigild pinned (its links keep enforcing
  /// until then) is removed once this one has its own programs and policy in place.
  func testPinsOfAnOlderABIVersionAreRemoved() throws {
    let pinRoot = TestEnvironment.makePinRoot()
    let older = "\(pinRoot)/policy-v\(VIGIL_ABI_VERSION - 1)"
    try BPFPin.makeDirectory(older)
    let map = try BPFMap<UInt32, UInt64>.create(type: .array, name: "vigil_old", maxEntries: 1)
    try map.pin(at: "\(older)/vigil_old")
    let daemon = try Daemon(config: Self.quietConfig, pinRoot: pinRoot)
    daemons.append(daemon)
    try daemon.waitUntilReady()
    XCTAssertFalse(BPFPin.exists(older), "older pins kept")
    XCTAssertTrue(BPFPin.exists("\(pinRoot)/policy-v\(VIGIL_ABI_VERSION)/vigil_pol_state"))
    XCTAssertTrue(daemon.stderr.contains("removed pins of an older vigild"), daemon.stderr)
  }

  func testRestartAfterKillReadoptsPinnedProgramsWithoutAttachingTwice() throws {
    // Links another Vigil on this machine holds (another pin path) are not this daemon's.
    let others = try linkIDs(program: "vigil_switch")
    let daemon = try startDaemon(config: Self.quietConfig)
    XCTAssertFalse(try daemon.status().probes.adopted)
    daemon.kill(SIGKILL)
    try daemon.restart()
    try daemon.waitUntilReady()
    let status = try daemon.status()
    XCTAssertTrue(status.probes.adopted)
    XCTAssertTrue(
      FileManager.default.fileExists(atPath: "\(status.probes.pinPath)/link_vigil_switch"))
    XCTAssertEqual(try linkIDs(program: "vigil_switch").subtracting(others).count, 1)

    let workload = try Workload(rounds: 1)
    let (added, _) = try daemon.request("POST", APIPath.targets, body: #"{"pid":\#(workload.pid)}"#)
    XCTAssertEqual(added, 201)
    try workload.start()
    workload.waitUntilDone(timeout: 10)
    Thread.sleep(forTimeInterval: 0.5)
    XCTAssertTrue(daemon.events.contains { $0.pid == workload.pid }, "no events after restart")
  }

  /// Links in the kernel whose program is named `program` (bpftool), given our pins exist.
  /// The ids of the links attaching programs named `program`, machine-wide.
  private func linkIDs(program: String) throws -> Set<Int> {
    let (_, programs) = try runCommand("/usr/sbin/bpftool", ["-j", "prog", "show"])
    let (_, links) = try runCommand("/usr/sbin/bpftool", ["-j", "link", "show"])
    struct Program: Decodable {
      var id: Int
      var name: String?
    }
    struct Link: Decodable {
      var id: Int
      var programID: Int
      enum CodingKeys: String, CodingKey {
        case id
        case programID = "prog_id"
      }
    }
    let ids = Set(
      try JSONDecoder().decode([Program].self, from: Data(programs.utf8)).filter {
        $0.name == program
      }.map(\.id))
    return Set(
      try JSONDecoder().decode([Link].self, from: Data(links.utf8)).filter {
        ids.contains($0.programID)
      }.map(\.id))
  }
}
