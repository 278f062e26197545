import BPFCore
import CVigilABI
import Policy
import PolicyDatapath
import XCTest

/// The policy classifier in the kernel (BPF_PROG_TEST_RUN) against maps filled by the
/// production compiler; every verdict is checked against the compiler's own model.
final class PolicyClassifierTests: XCTestCase {
  private static let policy = """
    apiVersion: vigil/v1
    kind: NetworkPolicy
    metadata: {name: web}
    spec:
      endpoint: {interface: lo}
      policyTypes: [Ingress, Egress]
      ingress:
        - from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]
          ports: [{protocol: TCP, port: 80}, {protocol: TCP, port: 8000, endPort: 8100}]
        - from: [{ipBlock: {cidr: "fd00::/8"}}]
          ports: [{protocol: UDP, port: 53}]
        - from: [{ipBlock: {cidr: 192.0.2.0/24}}]
          ports: [{protocol: ICMP}]
      egress:
        - to: [{ipBlock: {cidr: 0.0.0.0/0}}]
          ports: [{protocol: UDP, port: 53}]
      ingressDeny:
        - from: [{ipBlock: {cidr: 10.2.0.0/16}}]
          ports: [{protocol: TCP, port: 80}]
    """

  private let endpoint = EndpointRef.interface(name: "lo", netns: nil)
  private var sourcePort: UInt16 = 40000

  override func setUpWithError() throws { try TestEnvironment.requireBPF() }

  private func compile(_ yaml: String) throws -> CompiledPolicy {
    try PolicyCompiler.compile(
      PolicyDocument.parse(yaml: yaml, source: "test.yaml"), endpointIDs: [endpoint: 0],
      capacity: PolicyCapacity(maxEntries: 1024, maxCounters: 256, maxEndpoints: 16))
  }

  private func makeDatapath() throws -> PolicyDatapath {
    let datapath = try PolicyDatapath(pinDirectory: nil, ruleCapacity: 1024, counterCapacity: 256)
    // BPF_PROG_TEST_RUN runs tc programs on this namespace's loopback (ifindex 1).
    try datapath.registerInterface(
      netnsCookie: NetworkNamespace.currentCookie(), ifindex: 1, endpoint: 0)
    return datapath
  }

  private func install(_ compiled: CompiledPolicy, generation: UInt64, on datapath: PolicyDatapath)
    throws
  {
    _ = try datapath.install(
      generation: generation, line: compiled.lines.boundaries, values: compiled.lines.values,
      endpointPolicies: compiled.endpointPolicies,
      counterCount: compiled.counters.count)
  }

  /// Runs one packet (`repetitions` times, on one CPU) through the ingress or egress program;
  /// true when it passes (the last time).
  private func passes(
    _ datapath: PolicyDatapath, _ direction: PolicyDirection, _ packet: [UInt8],
    repetitions: Int = 1
  ) throws -> Bool {
    let name = direction == .ingress ? "vigil_tc_ingress" : "vigil_tc_egress"
    let result = try datapath.program(name).testRun(packet: packet, repetitions: repetitions)
    XCTAssertTrue(
      [UInt32(bitPattern: -1), 2].contains(result.returnValue), "verdict \(result.returnValue)")
    return result.returnValue == UInt32(bitPattern: -1)
  }

  func testKernelVerdictsAndCountersMatchTheCompiledPolicy() throws {
    let compiled = try compile(Self.policy)
    let datapath = try makeDatapath()
    try install(compiled, generation: 1, on: datapath)

    let local = IPAddress("10.9.9.9")!
    let local6 = IPAddress("fd00::9")!
    let cases: [(remote: String, proto: UInt8, port: UInt16, expect: Bool)] = [
      ("10.0.0.1", 6, 80, true),  // allowed block and port
      ("10.0.0.1", 6, 81, false),  // port not allowed
      ("10.0.0.1", 6, 8050, true),  // inside the range
      ("10.0.0.1", 6, 8101, false),  // past the range
      ("10.0.0.1", 17, 80, false),  // wrong protocol
      ("10.1.2.3", 6, 80, false),  // in the except hole
      ("10.2.0.1", 6, 80, false),  // deny wins over the allow
      ("10.2.0.1", 6, 8000, true),  // the deny is for port 80 only
      ("11.0.0.1", 6, 80, false),  // outside every block: default deny
      ("192.0.2.7", 1, 0, true),  // ICMP allowed from this block
      ("198.51.100.1", 1, 0, false),
      ("fd00::1", 17, 53, true),  // IPv6
      ("fd00::1", 17, 54, false),
      ("fe80::1", 17, 53, false),
    ]
    var expectedCounts: [Int: UInt64] = [:]
    for testCase in cases {
      let remote = try XCTUnwrap(IPAddress(testCase.remote))
      let model = compiled.evaluate(
        endpointID: 0, direction: .ingress, address: remote, protocol: testCase.proto,
        port: testCase.port)
      XCTAssertEqual(model.action == .allow, testCase.expect, "model for \(testCase)")
      let packet = TestPacket.make(
        source: remote, destination: remote.isIPv4 ? local : local6, protocol: testCase.proto,
        sourcePort: nextSourcePort(), destinationPort: testCase.port)
      XCTAssertEqual(
        try passes(datapath, .ingress, packet), testCase.expect, "kernel for \(testCase)")
      if let counter = model.counter, let index = compiled.counters.firstIndex(of: counter) {
        expectedCounts[index, default: 0] += 1
      }
    }
    let counts = try datapath.counterValues(count: compiled.counters.count)
    for (index, info) in compiled.counters.enumerated() {
      XCTAssertEqual(counts[index].packets, expectedCounts[index] ?? 0, "counter \(info)")
    }
  }

  func testRepliesPassAndASwapReevaluatesOpenFlows() throws {
    let datapath = try makeDatapath()
    try install(try compile(Self.policy), generation: 1, on: datapath)
    let workload = IPAddress("10.9.9.9")!
    let resolver = IPAddress("203.0.113.53")!
    let query = TestPacket.make(
      source: workload, destination: resolver, protocol: 17, sourcePort: 5353, destinationPort: 53)
    let answer = TestPacket.make(
      source: resolver, destination: workload, protocol: 17, sourcePort: 53, destinationPort: 5353)
    XCTAssertFalse(try passes(datapath, .ingress, answer), "an unsolicited answer must not pass")
    XCTAssertTrue(try passes(datapath, .egress, query))
    XCTAssertTrue(try passes(datapath, .ingress, answer), "the reply of an allowed flow passes")

    // A new generation without the egress rule: the open flow is evaluated again and cut.
    let strict = Self.policy.replacingOccurrences(
      of:
        "  egress:\n    - to: [{ipBlock: {cidr: 0.0.0.0/0}}]\n      ports: [{protocol: UDP, port: 53}]\n",
      with: "")
    XCTAssertNotEqual(strict, Self.policy)
    try install(try compile(strict), generation: 2, on: datapath)
    XCTAssertEqual(try datapath.active()?.generation, 2)
    XCTAssertFalse(
      try passes(datapath, .ingress, answer), "a flow the new generation denies is cut")
    XCTAssertFalse(try passes(datapath, .egress, query))
  }

  /// After its first packet, a flow's packets take the flow remembered on their CPU: every one
  /// still counts, a flow that differs in any one field is classified on its own, and a new
  /// generation evaluates the remembered flow again.
  func testARememberedFlowCountsEveryPacketAndStandsForNoOther() throws {
    let compiled = try compile(Self.policy)
    let datapath = try makeDatapath()
    try install(compiled, generation: 1, on: datapath)
    func packet(_ source: String, protocol number: UInt8 = 6, port: UInt16 = 80) -> [UInt8] {
      TestPacket.make(
        source: IPAddress(source)!, destination: IPAddress("10.9.9.9")!, protocol: number,
        sourcePort: 41000, destinationPort: port)
    }
    let allowed = packet("10.0.0.1")
    XCTAssertTrue(try passes(datapath, .ingress, allowed, repetitions: 300))
    // Each differs from the remembered flow in one field, and is denied.
    let lookalikes = [
      ("source address", packet("10.2.0.1")), ("protocol", packet("10.0.0.1", protocol: 17)),
      ("destination port", packet("10.0.0.1", port: 81)),
    ]
    for (field, lookalike) in lookalikes {
      XCTAssertTrue(try passes(datapath, .ingress, allowed))
      XCTAssertFalse(try passes(datapath, .ingress, lookalike), "another \(field)")
    }
    let model = compiled.evaluate(
      endpointID: 0, direction: .ingress, address: IPAddress("10.0.0.1")!, protocol: 6, port: 80)
    let index = try XCTUnwrap(compiled.counters.firstIndex(of: try XCTUnwrap(model.counter)))
    XCTAssertEqual(
      try datapath.counterValues(count: compiled.counters.count)[index].packets,
      300 + UInt64(lookalikes.count))

    // A generation that no longer allows TCP port 80 from 10.0.0.0/8 cuts the flow.
    let strict = Self.policy.replacingOccurrences(of: "{protocol: TCP, port: 80}, ", with: "")
    XCTAssertNotEqual(strict, Self.policy)
    try install(try compile(strict), generation: 2, on: datapath)
    XCTAssertFalse(try passes(datapath, .ingress, allowed, repetitions: 100))
  }

  func testAuditModeCountsDeniesButDropsNothing() throws {
    let audit = Self.policy.replacingOccurrences(
      of: "  policyTypes:", with: "  mode: audit\n  policyTypes:")
    let compiled = try compile(audit)
    let datapath = try makeDatapath()
    try install(compiled, generation: 7, on: datapath)
    let packet = TestPacket.make(
      source: IPAddress("10.2.0.1")!, destination: IPAddress("10.9.9.9")!, protocol: 6,
      sourcePort: nextSourcePort(), destinationPort: 80)
    XCTAssertTrue(try passes(datapath, .ingress, packet))
    let model = compiled.evaluate(
      endpointID: 0, direction: .ingress, address: IPAddress("10.2.0.1")!, protocol: 6, port: 80)
    XCTAssertEqual(model.action, .deny)
    XCTAssertTrue(model.audit)
    let index = try XCTUnwrap(compiled.counters.firstIndex(of: try XCTUnwrap(model.counter)))
    XCTAssertEqual(try datapath.counterValues(count: compiled.counters.count)[index].packets, 1)
  }

  /// The connection table takes the configured size; re-adopted from its pin it keeps its own.
  func testTheConnectionTableTakesItsSizeAndAPinnedOneKeepsIt() throws {
    let pins = TestEnvironment.makePinRoot()
    defer { BPFPin.removeTree(pins) }
    let first = try PolicyDatapath(
      pinDirectory: pins, ruleCapacity: 16, counterCapacity: 16, flowCapacity: 4096)
    XCTAssertEqual(first.flowCapacity, 4096)
    XCTAssertEqual(try BPFMapInfo(fd: BPFPin.open("\(pins)/vigil_pol_ct")).maxEntries, 4096)
    let readopted = try PolicyDatapath(
      pinDirectory: pins, ruleCapacity: 16, counterCapacity: 16, flowCapacity: 8192)
    XCTAssertTrue(readopted.adopted)
    XCTAssertEqual(readopted.flowCapacity, 4096)
  }

  func testTooLargeAGenerationIsRefusedWhole() throws {
    let compiled = try compile(Self.policy)
    let datapath = try PolicyDatapath(pinDirectory: nil, ruleCapacity: 2, counterCapacity: 256)
    XCTAssertThrowsError(try install(compiled, generation: 1, on: datapath)) { error in
      XCTAssertTrue("\(error)".contains("capacity is 2"), "\(error)")
    }
    XCTAssertNil(try datapath.active())
  }

  /// A generation larger than the spare slot was made for gets maps of its own size (waiting for
  /// a grace period then); the next spare is made for it, so the one after does not wait.
  func testAGenerationThatOutgrowsTheSpareGetsMapsOfItsOwnSize() throws {
    let datapath = try makeDatapath()
    try install(try compile(Self.policy), generation: 1, on: datapath)
    try datapath.prepareSpare()
    var yaml = """
      apiVersion: vigil/v1
      kind: NetworkPolicy
      metadata: {name: many}
      spec:
        endpoint: {interface: lo}
        policyTypes: [Ingress]
        ingress:

      """
    for index in 0..<200 {
      yaml += """
            - from: [{ipBlock: {cidr: 10.\(index / 256).\(index % 256).0/24, except: [10.\(index / 256).\(index % 256).128/25]}}]
              ports: [{protocol: TCP, port: 80}]

        """
    }
    let large = try compile(yaml)
    XCTAssertGreaterThan(large.lines.boundaries.count, 256)
    let grown = try datapath.install(
      generation: 2, line: large.lines.boundaries, values: large.lines.values,
      endpointPolicies: large.endpointPolicies, counterCount: large.counters.count)
    XCTAssertGreaterThan(grown.slotNanoseconds, 0, "the spare was big enough after all")
    let workload = IPAddress("127.0.0.1")!
    func packet(from source: String) -> [UInt8] {
      TestPacket.make(
        source: IPAddress(source)!, destination: workload, protocol: 6,
        sourcePort: nextSourcePort(), destinationPort: 80)
    }
    XCTAssertTrue(try passes(datapath, .ingress, packet(from: "10.0.43.7")))
    XCTAssertFalse(try passes(datapath, .ingress, packet(from: "10.0.43.200")), "an except")
    XCTAssertFalse(try passes(datapath, .ingress, packet(from: "10.0.201.1")), "past the last rule")

    try datapath.prepareSpare()
    let next = try datapath.install(
      generation: 3, line: large.lines.boundaries, values: large.lines.values,
      endpointPolicies: large.endpointPolicies, counterCount: large.counters.count)
    XCTAssertEqual(next.slotNanoseconds, 0)
    XCTAssertTrue(try passes(datapath, .ingress, packet(from: "10.0.199.1")))
  }

  private func nextSourcePort() -> UInt16 {
    sourcePort += 1
    return sourcePort
  }
}

/// Ethernet + IPv4/IPv6 + TCP/UDP/ICMP packets for the classifier.
enum TestPacket {
  static func make(
    source: IPAddress, destination: IPAddress, protocol number: UInt8, sourcePort: UInt16,
    destinationPort: UInt16
  ) -> [UInt8] {
    var transport: [UInt8]
    switch number {
    case 1, 58:  // ICMP echo request: type, code, checksum, id, sequence
      transport =
        [number == 1 ? 8 : 128, 0, 0, 0] + bigEndian(sourcePort) + [0, 1]
        + [UInt8](repeating: 0, count: 8)
    default:
      transport =
        bigEndian(sourcePort) + bigEndian(destinationPort) + [UInt8](repeating: 0, count: 16)
    }
    let ethernet: [UInt8] =
      [UInt8](repeating: 0x02, count: 6) + [UInt8](repeating: 0x04, count: 6)
      + (source.isIPv4 ? [0x08, 0x00] : [0x86, 0xdd])
    if source.isIPv4 {
      let length = UInt16(20 + transport.count)
      let header: [UInt8] =
        [0x45, 0] + bigEndian(length) + [0, 0, 0x40, 0, 64, number, 0, 0]
        + Array(source.bytes.suffix(4)) + Array(destination.bytes.suffix(4))
      return ethernet + header + transport
    }
    let ip6Protocol = number == 1 ? 58 : number
    if number == 1 { transport[0] = 128 }
    let header: [UInt8] =
      [0x60, 0, 0, 0] + bigEndian(UInt16(transport.count)) + [ip6Protocol, 64] + source.bytes
      + destination.bytes
    return ethernet + header + transport
  }

  private static func bigEndian(_ value: UInt16) -> [UInt8] {
    [UInt8(value >> 8), UInt8(value & 0xff)]
  }
}
