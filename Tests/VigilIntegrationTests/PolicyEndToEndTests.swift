import BPFCore
import CVigilABI
import ControlAPI
import Foundation
import PolicyDatapath
import XCTest

/// vigild in the host namespace enforcing policy on an interface inside a test namespace, with
/// real TCP, UDP and ICMP traffic between two namespaces the test creates.
final class PolicyEndToEndTests: XCTestCase {
  private var network: TestNetwork!
  private var servers: TestServers!
  private var daemon: Daemon!

  private static let quietConfig = """
    targets: []
    policy:
      capacity: {entries: 4096, counters: 1024, endpoints: 64}
    """

  override func setUpWithError() throws {
    try TestEnvironment.requireBPF()
    let network = try TestNetwork()
    self.network = network
    addTeardownBlock { network.delete() }
    let servers = try TestServers(network: network, tcpPorts: [80, 81], udpPorts: [53, 54])
    self.servers = servers
    addTeardownBlock { servers.stop() }
    let daemon = try Daemon(config: Self.quietConfig)
    self.daemon = daemon
    addTeardownBlock { daemon.cleanUp() }
    try daemon.waitUntilReady()
  }

  /// A policy on the server's interface allowing `ingress` rules from the client's networks,
  /// with egress default-deny (replies must still pass) except ICMPv6 for neighbour discovery.
  private func policy(
    name: String = "web", mode: String = "enforce", tcp: [Int] = [80], udp: [Int] = [53],
    icmp: Bool = true, wide: Bool = false
  ) -> String {
    let n = network.serverAddress.split(separator: ".")[2]
    let v4 = wide ? "10.250.0.0/16" : "10.250.\(n).0/24"
    let ports =
      tcp.map { "{protocol: TCP, port: \($0)}" } + udp.map { "{protocol: UDP, port: \($0)}" }
      + (icmp ? ["{protocol: ICMP}", "{protocol: ICMPv6}"] : [])
    return """
      apiVersion: vigil/v1
      kind: NetworkPolicy
      metadata: {name: \(name)}
      spec:
        endpoint: {interface: \(network.serverInterface), netns: /var/run/netns/\(network.server)}
        mode: \(mode)
        policyTypes: [Ingress, Egress]
        ingress:
          - from: [{ipBlock: {cidr: \(v4)}}, {ipBlock: {cidr: "fd00:250:\(n)::/64"}}]
            ports: [\(ports.joined(separator: ", "))]
        egress:
          - to: [{ipBlock: {cidr: "::/0"}}]
            ports: [{protocol: ICMPv6}]
      """
  }

  private func requestBody(_ yaml: String, source: String = "test.yaml") throws -> String {
    String(
      decoding: try WireJSON.encode(
        PolicyRequest(sources: [PolicySource(source: source, yaml: yaml)])), as: UTF8.self)
  }

  @discardableResult
  private func apply(_ yaml: String, source: String = "test.yaml") throws -> PolicyApplyResponse {
    try daemon.call(
      "POST", APIPath.policy, body: try requestBody(yaml, source: source),
      as: PolicyApplyResponse.self)
  }

  private func generation() throws -> UInt64? {
    try daemon.call("GET", APIPath.policy, as: PolicyStatusResponse.self).generation
  }

  func testAllowedFlowsAndRepliesPassDeniedOnesDoNot() throws {
    let (server, server6) = (network.serverAddress, network.serverAddress6)
    XCTAssertTrue(try TestTraffic.tcp(network, server, 81), "no connectivity before any policy")
    XCTAssertTrue(try TestTraffic.udpEcho(network, server, 54))

    let applied = try apply(policy())
    XCTAssertEqual(applied.generation, 1)
    XCTAssertLessThan(applied.timing.flipUs, 1000)

    XCTAssertTrue(try TestTraffic.tcp(network, server, 80), "allowed TCP (and its replies)")
    XCTAssertFalse(try TestTraffic.tcp(network, server, 81), "TCP to a port no rule allows")
    XCTAssertTrue(try TestTraffic.udpEcho(network, server, 53), "allowed UDP and its reply")
    XCTAssertFalse(try TestTraffic.udpEcho(network, server, 54), "UDP to a port no rule allows")
    XCTAssertTrue(try TestTraffic.ping(network, server), "allowed ICMP echo and reply")
    XCTAssertTrue(try TestTraffic.tcp(network, server6, 80), "allowed TCP over IPv6")
    XCTAssertFalse(try TestTraffic.tcp(network, server6, 81), "denied TCP over IPv6")
    XCTAssertTrue(try TestTraffic.ping(network, server6), "allowed ICMPv6 echo and reply")

    let stats = try daemon.call("GET", APIPath.policyStats, as: PolicyStatsResponse.self)
    let allowed = try XCTUnwrap(stats.counters.first { $0.rule == "ingress[0]" })
    XCTAssertGreaterThan(allowed.packets, 0)
    let denied = try XCTUnwrap(
      stats.counters.first { $0.kind == "default" && $0.direction == "ingress" })
    XCTAssertEqual(denied.verdict, "deny")
    XCTAssertGreaterThan(denied.packets, 0)

    // Audit: evaluated and counted, never dropped.
    try apply(policy(mode: "audit"))
    XCTAssertTrue(try TestTraffic.tcp(network, server, 81), "audit mode must not drop")
    let audited = try daemon.call("GET", APIPath.policyStats, as: PolicyStatsResponse.self)
    XCTAssertGreaterThan(
      try XCTUnwrap(audited.counters.first { $0.kind == "default" && $0.direction == "ingress" })
        .packets, 0)

    // An empty set of policies detaches: everything passes again.
    let cleared = try daemon.call(
      "POST", APIPath.policy, body: #"{"sources":[]}"#, as: PolicyApplyResponse.self)
    XCTAssertEqual(cleared.generation, 3)
    XCTAssertTrue(try TestTraffic.tcp(network, server, 81))
  }

  /// A flow allowed before a swap and denied after it stops at the swap: connection tracking
  /// re-evaluates a flow whenever the generation changes.
  func testAFlowAllowedBeforeASwapAndDeniedAfterItStops() throws {
    let server = network.serverAddress
    try apply(policy(udp: [53, 54]))
    XCTAssertTrue(try TestTraffic.udpEcho(network, server, 54))
    try apply(policy(udp: [53]))
    XCTAssertFalse(try TestTraffic.udpEcho(network, server, 54))
    XCTAssertTrue(try TestTraffic.udpEcho(network, server, 53))
  }

  func testSwappingThousandsOfTimesUnderTrafficLosesNoAllowedPacket() throws {
    let server = network.serverAddress
    let first = policy(name: "a")
    let second = policy(name: "a", tcp: [80, 8080], wide: true)
    try apply(first)
    XCTAssertTrue(try TestTraffic.udpEcho(network, server, 53))  // neighbours resolved
    let before = servers.datagrams(on: 53)
    let swaps = 2000
    let allowedCount = 60_000
    let deniedCount = 6_000

    let results = LockedResults()
    let flows = DispatchGroup()
    let network = self.network!
    DispatchQueue.global().async(group: flows) {
      results.set(
        "allowed",
        (try? TestTraffic.udpFlow(network, server, 53, count: allowedCount, perSecond: 2_000)) ?? -1
      )
    }
    DispatchQueue.global().async(group: flows) {
      results.set(
        "denied",
        (try? TestTraffic.udpFlow(network, server, 54, count: deniedCount, perSecond: 200)) ?? -1)
    }
    let started = Date()
    var applied = 0
    var applyTimes: [Double] = []
    while applied < swaps && Date().timeIntervalSince(started) < 120 {
      let response = try apply(applied % 2 == 0 ? second : first)
      applyTimes.append(response.timing.totalMs)
      applied += 1
    }
    XCTAssertEqual(flows.wait(timeout: .now() + 120), .success)
    usleep(300_000)

    XCTAssertEqual(applied, swaps, "swaps done in the time allowed")
    XCTAssertEqual(results.get("allowed"), allowedCount)
    XCTAssertEqual(
      servers.datagrams(on: 53) - before, allowedCount, "allowed datagrams lost across swaps")
    XCTAssertEqual(results.get("denied"), deniedCount)
    XCTAssertEqual(servers.datagrams(on: 54), 0, "a denied datagram got through")
    applyTimes.sort()
    print(
      "swap test: \(applied) applies in \(String(format: "%.1f", Date().timeIntervalSince(started))) s,"
        + " apply total p50 \(applyTimes[applyTimes.count / 2]) ms p99 \(applyTimes[applyTimes.count * 99 / 100]) ms"
    )
  }

  func testKillNineDuringAppliesLeavesAWholeGenerationThatARestartReadopts() throws {
    let server = network.serverAddress
    // Generation contents alternate between allowing only TCP 80 and only TCP 81.
    let only80 = policy(name: "web", tcp: [80])
    let only81 = policy(name: "web", tcp: [81])
    try apply(only80, source: "only80.yaml")
    for round in 0..<3 {
      let stop = LockedResults()
      let applies = DispatchGroup()
      let daemon = self.daemon!
      let bodies = [
        try requestBody(only80, source: "only80.yaml"),
        try requestBody(only81, source: "only81.yaml"),
      ]
      DispatchQueue.global().async(group: applies) {
        var index = 1
        while stop.get("stop") == nil {
          _ = try? daemon.request("POST", APIPath.policy, body: bodies[index % 2])
          index += 1
        }
      }
      usleep(UInt32(300_000 + round * 250_000))
      daemon.kill(SIGKILL)
      stop.set("stop", 1)
      XCTAssertEqual(applies.wait(timeout: .now() + 15), .success)

      // Enforcement goes on without the daemon, on one whole generation.
      let state: BPFMap<UInt32, vigil_policy_state> = try BPFMap(
        fd: BPFPin.open("\(daemon.pinRoot)/policy-v\(VIGIL_ABI_VERSION)/vigil_pol_state"))
      let enforced = try XCTUnwrap(try state.lookup(0)).generation
      let stored = try String(
        contentsOfFile: daemon.directory.appendingPathComponent(
          "policy/generations/\(enforced).json"
        )
        .path, encoding: .utf8)
      let expect80 = stored.contains("only80.yaml")
      XCTAssertEqual(try TestTraffic.tcp(network, server, 80), expect80, "round \(round)")
      XCTAssertEqual(try TestTraffic.tcp(network, server, 81), !expect80, "round \(round)")

      try daemon.restart()
      try daemon.waitUntilReady()
      XCTAssertEqual(try generation(), enforced, "restarted vigild reports the generation in force")
      let links = BPFPin.list("\(daemon.pinRoot)/policy-v\(VIGIL_ABI_VERSION)/links")
      XCTAssertEqual(links.count, 2, "one ingress and one egress link: \(links)")
      XCTAssertTrue(daemon.stderr.contains("re-adopted enforced policy"))
      XCTAssertEqual(try TestTraffic.tcp(network, server, 80), expect80)
    }
  }

  func testBadDocumentsAreRefusedWithTheirFieldAndChangeNothing() throws {
    try apply(policy())
    let valid = policy()
    let cases: [(yaml: String, expected: String)] = [
      ("spec: [unclosed", "test.yaml"),
      (valid.replacingOccurrences(of: "10.250.", with: "10.999."), "cidr"),
      (valid.replacingOccurrences(of: "port: 80", with: "port: 0"), "port"),
      (
        valid.replacingOccurrences(of: "port: 80}", with: "port: 8000, endPort: 7000}"),
        "endPort"
      ),
      (valid.replacingOccurrences(of: "protocol: TCP", with: "protocol: TCPX"), "protocol"),
      (
        valid.replacingOccurrences(
          of: "interface: \(network.serverInterface)", with: "interface: nope0"),
        "spec.endpoint.interface"
      ),
      (manyRules(5000), "capacity"),
    ]
    for (yaml, expected) in cases {
      let (status, body) = try daemon.request("POST", APIPath.policy, body: try requestBody(yaml))
      XCTAssertTrue([400, 422].contains(status), "\(status) \(body)")
      XCTAssertTrue(body.contains(expected), "error should name \(expected): \(body)")
      XCTAssertEqual(try generation(), 1, "a refused policy changed the generation")
    }
    // 50 MB: the API refuses the body, the CLI refuses the file before sending it.
    let huge = String(repeating: "#", count: 50 << 20)
    let (status, _) = try daemon.request("POST", APIPath.policy, body: huge)
    XCTAssertEqual(status, 413)
    let file = daemon.directory.appendingPathComponent("huge.yaml")
    try huge.write(to: file, atomically: false, encoding: .utf8)
    let (exit, output) = try runCommand(
      TestEnvironment.executable("vigil").path,
      ["policy", "apply", "-f", file.path, "--socket", daemon.socket])
    XCTAssertNotEqual(exit, 0)
    XCTAssertTrue(output.contains("limited to 4.0 MiB"), output)
    XCTAssertEqual(try generation(), 1)
    XCTAssertFalse(try TestTraffic.tcp(network, network.serverAddress, 81), "policy still enforced")
    // Each refused request's sources were being stored while it was checked: nothing is left.
    let stored = try FileManager.default.contentsOfDirectory(
      atPath: daemon.directory.appendingPathComponent("policy/generations").path)
    XCTAssertEqual(stored.sorted(), ["1.json", "1.yaml"])
  }

  /// A policy with `count` distinct /32 rules: more entries than the test capacity (4096 × 2
  /// directions' worth is not needed; 5000 rules need 5000+ entries).
  private func manyRules(_ count: Int) -> String {
    var yaml = policy()
    yaml += "\n  ingressDeny:\n"
    for index in 0..<count {
      yaml += "    - from: [{ipBlock: {cidr: 172.16.\(index / 256).\(index % 256)/32}}]\n"
    }
    return yaml
  }

  func testCLIAppliesDiffsShowsStatsAndRollsBack() throws {
    let vigil = TestEnvironment.executable("vigil").path
    let directory = daemon.directory.appendingPathComponent("policies")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let file = directory.appendingPathComponent("web.yaml")
    try policy().write(to: file, atomically: true, encoding: .utf8)
    func cli(_ arguments: String...) throws -> String {
      let (status, output) = try runCommand(vigil, arguments + ["--socket", daemon.socket])
      XCTAssertEqual(status, 0, "vigil \(arguments.joined(separator: " ")): \(output)")
      return output
    }
    XCTAssertTrue(try cli("policy", "validate", "-f", directory.path).contains("1 policies valid"))
    XCTAssertTrue(
      try cli("policy", "apply", "-f", directory.path).contains("generation 1 enforced"))
    try policy(tcp: [80, 81]).write(to: file, atomically: true, encoding: .utf8)
    let diff = try cli("policy", "diff", "-f", file.path)
    XCTAssertTrue(diff.contains("changed \"web\""), diff)
    XCTAssertTrue(try cli("policy", "apply", "-f", file.path).contains("generation 2 enforced"))
    XCTAssertTrue(try TestTraffic.tcp(network, network.serverAddress, 81))
    let rollback = try cli("policy", "rollback")
    XCTAssertTrue(rollback.contains("generation 3 enforced"), rollback)
    XCTAssertFalse(try TestTraffic.tcp(network, network.serverAddress, 81), "rolled back to 1")
    let get = try cli("policy", "get")
    XCTAssertTrue(get.contains("generation 3") && get.contains("rollback to 1"), get)
    let stats = try cli("policy", "stats")
    XCTAssertTrue(stats.contains("ingress[0]") && stats.contains("default"), stats)
  }

  /// `curl -F` uploads files as vigil does; `vigil policy validate` without a daemon checks the
  /// documents with `vigild --check-policy`.
  func testPolicyFilesGoAsAFormAndAreCheckedWithoutADaemon() throws {
    let directory = daemon.directory.appendingPathComponent("form")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let good = directory.appendingPathComponent("web.yaml")
    try policy().write(to: good, atomically: true, encoding: .utf8)
    let binary = directory.appendingPathComponent("binary.yaml")
    try Data([0x6b, 0x3a, 0xff]).write(to: binary)
    func curl(_ path: String, _ files: URL...) throws -> (status: Int32, output: String) {
      try runCommand(
        "/usr/bin/curl",
        ["-sS", "--unix-socket", daemon.socket, "-o", "/dev/stdout", "-w", " HTTP %{http_code}"]
          + files.flatMap { ["-F", "policy=@\($0.path)"] } + ["http://localhost\(path)"])
    }
    let validated = try curl(APIPath.policyValidate, good)
    XCTAssertTrue(validated.output.hasSuffix("HTTP 200"), validated.output)
    XCTAssertTrue(validated.output.contains("\"web\""), validated.output)
    let refused = try curl(APIPath.policy, good, binary)
    XCTAssertTrue(refused.output.hasSuffix("HTTP 422"), refused.output)
    XCTAssertTrue(refused.output.contains("binary.yaml: is not UTF-8 text"), refused.output)
    XCTAssertEqual(try generation(), nil, "a refused form changed the generation")
    let applied = try curl(APIPath.policy, good)
    XCTAssertTrue(applied.output.hasSuffix("HTTP 200"), applied.output)
    XCTAssertEqual(try generation(), 1)

    let vigil = TestEnvironment.executable("vigil").path
    let offline = try runCommand(
      vigil, ["policy", "validate", "-f", directory.path, "--socket", "/nonexistent/vigil.sock"])
    XCTAssertNotEqual(offline.0, 0, offline.1)
    XCTAssertTrue(offline.1.contains("binary.yaml: is not UTF-8 text"), offline.1)
    try FileManager.default.removeItem(at: binary)
    let checked = try runCommand(
      vigil, ["policy", "validate", "-f", directory.path, "--socket", "/nonexistent/vigil.sock"])
    XCTAssertEqual(checked.0, 0, checked.1)
    XCTAssertTrue(checked.1.contains("vigild not reachable at /nonexistent/vigil.sock"), checked.1)
    XCTAssertTrue(
      checked.1.contains("1 policies valid (endpoints and capacity not checked)"), checked.1)
  }
}

/// Values handed between a test and its background work.
private final class LockedResults: @unchecked Sendable {
  private let lock = NSLock()
  private var values: [String: Int] = [:]
  func set(_ key: String, _ value: Int) { lock.withLock { values[key] = value } }
  func get(_ key: String) -> Int? { lock.withLock { values[key] } }
}

/// Cgroup endpoints (cgroup_skb) and interfaces that disappear, on the real datapath.
final class PolicyAttachmentTests: XCTestCase {
  override func setUpWithError() throws { try TestEnvironment.requireBPF() }

  /// A process in a cgroup endpoint reaches an allowed loopback port and not another one.
  func testCgroupEndpointEnforcesEgress() throws {
    let cgroup = "/sys/fs/cgroup/unified/vigil-test-\(UUID().uuidString.prefix(8))"
    guard mkdir(cgroup, 0o755) == 0 else {
      throw DaemonFailure("mkdir \(cgroup): \(String(cString: strerror(errno)))")
    }
    defer { rmdir(cgroup) }
    let listeners = try [0, 1].map { _ in try LoopbackListener() }
    defer { for listener in listeners { listener.close() } }
    let (allowed, denied) = (listeners[0].port, listeners[1].port)

    let daemon = try Daemon(config: "targets: []\n")
    defer { daemon.cleanUp() }
    try daemon.waitUntilReady()
    let yaml = """
      apiVersion: vigil/v1
      kind: NetworkPolicy
      metadata: {name: batch}
      spec:
        endpoint: {cgroup: \(cgroup)}
        policyTypes: [Egress]
        egress:
          - to: [{ipBlock: {cidr: 127.0.0.1/32}}]
            ports: [{protocol: TCP, port: \(allowed)}]
      """
    let body = String(
      decoding: try WireJSON.encode(
        PolicyRequest(sources: [PolicySource(source: "batch.yaml", yaml: yaml)])), as: UTF8.self)
    let applied = try daemon.call("POST", APIPath.policy, body: body, as: PolicyApplyResponse.self)
    XCTAssertEqual(applied.generation, 1)

    /// Connects from a shell moved into the cgroup; true when the connection opened.
    func connectFromCgroup(_ port: UInt16) throws -> Bool {
      let (status, _) = try runCommand(
        "/usr/bin/bash",
        ["-c", "echo $$ > \(cgroup)/cgroup.procs && exec 3<>/dev/tcp/127.0.0.1/\(port)"],
        timeout: 3)
      return status == 0
    }
    XCTAssertTrue(try connectFromCgroup(allowed), "allowed port from the cgroup")
    XCTAssertFalse(try connectFromCgroup(denied), "denied port from the cgroup")
    XCTAssertTrue(try TestTrafficLoopback.connect(denied), "outside the cgroup nothing changes")

    let stats = try daemon.call("GET", APIPath.policyStats, as: PolicyStatsResponse.self)
    XCTAssertGreaterThan(
      try XCTUnwrap(stats.counters.first { $0.kind == "default" && $0.direction == "egress" })
        .packets, 0)
  }

  /// An interface deleted under an attached link leaves a dead link that is detached.
  func testDeadInterfaceLinksAreRemoved() throws {
    let pins = TestEnvironment.makePinRoot()
    defer { BPFPin.removeTree(pins) }
    let network = try TestNetwork()
    defer { network.delete() }
    let datapath = try PolicyDatapath(
      pinDirectory: "\(pins)/policy", ruleCapacity: 16, counterCapacity: 16)
    let attachment = try datapath.attach(
      .interface(name: network.serverInterface, netns: "/var/run/netns/\(network.server)"), id: 3)
    XCTAssertFalse(attachment.adopted)
    XCTAssertEqual(
      try datapath.attach(
        .interface(name: network.serverInterface, netns: "/var/run/netns/\(network.server)"),
        id: 3
      ).adopted, true, "a second attach adopts the pinned links")
    XCTAssertEqual(try datapath.removeDeadLinks(), [])
    network.delete()
    let deadline = Date().addingTimeInterval(5)
    var removed: [EndpointBinding] = []
    while removed.isEmpty && Date() < deadline {
      removed = try datapath.removeDeadLinks()
      if removed.isEmpty { usleep(100_000) }
    }
    XCTAssertEqual(removed, [attachment.binding])
    XCTAssertEqual(try datapath.attachedBindings(), [])
  }
}

/// A TCP listener on 127.0.0.1 that accepts in the background.
final class LoopbackListener: @unchecked Sendable {
  let fd: Int32
  let port: UInt16

  init() throws {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    self.fd = fd
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
      }
    }
    guard bound, listen(fd, 16) == 0 else {
      throw DaemonFailure("loopback listener: \(String(cString: strerror(errno)))")
    }
    port = UInt16(bigEndian: address.sin_port)
    let listener = fd
    Thread.detachNewThread {
      while true {
        let connection = accept(listener, nil, nil)
        if connection < 0 { return }
        Glibc.close(connection)
      }
    }
  }

  func close() {
    shutdown(fd, Int32(SHUT_RDWR))
    Glibc.close(fd)
  }
}

enum TestTrafficLoopback {
  /// True when a TCP connection to 127.0.0.1:`port` opens from this process.
  static func connect(_ port: UInt16) throws -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    return NetnsSocket.withAddress("127.0.0.1", port) { Glibc.connect(fd, $0, $1) } == 0
  }
}
