import BPFCore
import Foundation
import Policy
import PolicyDatapath
import VigilBPFTestObjects

/// Measures the policy path (needs root): (a) the flip, (b) compile and fill at 10 to 100k rules
/// and kernel memory, (c) `vigil policy apply` to enforced through a running vigild, (d) the
/// classifier's cost per packet (BPF_PROG_TEST_RUN), and (e) the packet rate of a veth pair with
/// no program, with Vigil at 10k and 100k rules, and with iptables (legacy, nft) at 10k rules.
/// Everything runs inside two network namespaces it creates and deletes.
///
/// Arguments name the sections to run (`b` for the table of a, b and d; `c`; `e`); none runs all.
@main
struct PolicyBench {
  static let sizes = [10, 1_000, 10_000, 100_000]

  static func main() throws {
    guard geteuid() == 0 else { throw BenchError("vigil-policy-bench needs root") }
    let wanted = Set(CommandLine.arguments.dropFirst())
    guard wanted.isSubset(of: ["b", "c", "e"]) else {
      throw BenchError("usage: vigil-policy-bench [b] [c] [e] (no argument: every section)")
    }
    let sections = wanted.isEmpty ? ["b", "c", "e"] : wanted
    let pins = "/sys/fs/bpf/vigil-bench-\(getpid())"
    let network = try BenchNetwork()
    defer {
      network.delete()
      BPFPin.removeTree(pins)
    }
    let datapath = try PolicyDatapath(
      pinDirectory: "\(pins)/policy", ruleCapacity: UInt32(2 * sizes.max()! + 1024),
      counterCapacity: UInt32(sizes.max()! + 1024))
    // BPF_PROG_TEST_RUN runs tc programs on this namespace's loopback: make it the endpoint too.
    try datapath.registerInterface(
      netnsCookie: NetworkNamespace.currentCookie(), ifindex: 1, endpoint: 0)
    let endpoint = EndpointRef.interface(
      name: network.serverInterface, netns: network.serverNamespacePath)

    var compiled: [Int: CompiledPolicy] = [:]
    if sections.contains("b") {
      try table(network: network, datapath: datapath, endpoint: endpoint, compiled: &compiled)
    }
    if sections.contains("e") {
      for size in [10_000, 100_000] where compiled[size] == nil {
        let yaml = policy(rules: size, endpoint: endpoint, client: network.clientAddress)
        compiled[size] = try PolicyCompiler.compile(
          PolicyDocument.parse(yaml: yaml, source: "bench.yaml"), endpointIDs: [endpoint: 0],
          capacity: PolicyCapacity(
            maxEntries: 2 * size + 1024, maxCounters: size + 1024, maxEndpoints: 16))
      }
      try vethRates(network: network, datapath: datapath, endpoint: endpoint, compiled: compiled)
    }
    if sections.contains("c") { try cliApply(network: network, endpoint: endpoint) }
  }

  /// (a, b, d) Compile, fill, flip, memory and per-packet cost at every size.
  static func table(
    network: BenchNetwork, datapath: PolicyDatapath, endpoint: EndpointRef,
    compiled: inout [Int: CompiledPolicy]
  ) throws {
    print("## (a, b, d) Compile, fill, flip, memory and per-packet cost\n")
    print(
      "| rules | address blocks | line boundaries | parse | compile | fill | flip p50 | flip p99 | spare prep (off path) | generation memory | shared memory | per packet, established flow | per packet, denied (full lookup) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in sizes {
      let texts = policyFiles(rules: size, endpoint: endpoint, client: network.clientAddress)
      var parses: [Double] = []
      var documents: [LocatedDocument] = []
      for _ in 0..<3 {
        let started = Date()
        documents = try PolicyLoader.parse(texts: texts)
        parses.append(Date().timeIntervalSince(started) * 1e3)
      }
      let parse = percentileValue(parses, 50)
      let capacity = PolicyCapacity(
        maxEntries: 2 * size + 1024, maxCounters: size + 1024, maxEndpoints: 16)
      var compile: [Double] = []
      for _ in 0..<3 {
        let started = Date()
        compiled[size] = try PolicyCompiler.compile(
          documents, endpointIDs: [endpoint: 0], capacity: capacity)
        compile.append(Date().timeIntervalSince(started) * 1e3)
      }
      let policy = compiled[size]!
      let installs = size <= 1_000 ? 300 : size <= 10_000 ? 40 : 8
      var fill: [Double] = []
      var flip: [Double] = []
      var spare: [Double] = []
      for round in 0..<installs {
        spare.append(Double(try datapath.prepareSpare()) / 1e6)
        let timing = try datapath.install(
          generation: UInt64(size * 1000 + round + 1), line: policy.lines.boundaries,
          values: policy.lines.values,
          endpointPolicies: policy.endpointPolicies, counterCount: policy.counters.count)
        fill.append(Double(timing.fillNanoseconds) / 1e6)
        flip.append(Double(timing.flipNanoseconds) / 1e3)
      }
      let memory = try datapath.kernelMemory()
      let program = try datapath.program("vigil_tc_ingress")
      let established = try program.testRun(
        packet: udpPacket(from: network.clientAddress, port: 9), repetitions: 1_000_000)
      let denied = try program.testRun(
        packet: tcpPacket(from: [10, 0, 1, 1], port: 81), repetitions: 1_000_000)
      print(
        "| \(size) | \(policy.blocks.count) | \(policy.lines.boundaries.count) | \(format(parse)) ms | \(percentile(compile, 50)) ms | \(percentile(fill, 50)) ms | \(percentile(flip, 50)) µs | \(percentile(flip, 99)) µs | \(percentile(spare.dropFirst().map { $0 }, 50)) ms | \(mebibytes(memory.generation)) | \(mebibytes(memory.shared)) | \(established.durationNanoseconds) ns | \(denied.durationNanoseconds) ns |"
      )
    }
    print(
      "\nMedians unless marked; flips over 300/300/40/8 installs; per packet is the kernel's average over 1M runs of one packet. Shared memory: counters for \(sizes.max()! + 1024) rules × 3 slots × CPUs, connection tracking, lookups.\n"
    )
  }

  /// (e) Packet rate over the veth: each configuration against a window with no program right
  /// beside it.
  ///
  /// The machine's speed shifts by 10–15% from one second to the next, so every window of a
  /// configuration is paired with a no-program window measured just before it (just after it in
  /// odd rounds), and its ratio is the median of those pairs' ratios, with a 95% confidence
  /// interval of that median.
  static func vethRates(
    network: BenchNetwork, datapath: PolicyDatapath, endpoint: EndpointRef,
    compiled: [Int: CompiledPolicy]
  ) throws {
    let rounds = 15
    let seconds = 1.0
    print(
      "## (e) veth packet rate (64-byte UDP, one sender on CPU 0, \(rounds) rounds, \(Int(seconds)) s windows, each beside a no-program window of its own)\n"
    )
    let location = EndpointLocation.interface(
      name: network.serverInterface, netns: network.serverNamespacePath)
    var configurations: [(String, setUp: () throws -> Void, tearDown: () throws -> Void)] = []
    // An empty tcx program: what any program there costs, apart from the classifier's work.
    let empty = try BPFObject(bytes: TestBPFObjects.tcxPass, name: "tcx_pass.bpf.o")
    try empty.load()
    let emptyProgram = try empty.program("vigil_test_tcx_pass")
    let emptyLink = SharedValue<BPFLink?>(nil)
    let server = network.serverNamespacePath
    let interface = network.serverInterface
    configurations.append(
      (
        "empty tcx program",
        {
          emptyLink.value = try NetworkNamespace.run(in: server) {
            try BPFLink(
              program: emptyProgram, target: Int32(NetworkNamespace.interfaceIndex(interface)),
              attachType: .tcxIngress)
          }
        },
        { emptyLink.value = nil }
      ))
    for size in [10_000, 100_000] {
      let policy = compiled[size]!
      configurations.append(
        (
          "Vigil, \(size / 1000)k rules",
          {
            try datapath.prepareSpare()
            try datapath.install(
              generation: UInt64(size), line: policy.lines.boundaries, values: policy.lines.values,
              endpointPolicies: policy.endpointPolicies, counterCount: policy.counters.count)
            _ = try datapath.attach(location, id: 0)
          },
          {
            for binding in try datapath.attachedBindings() { try datapath.detach(binding) }
          }
        ))
    }
    for flavour in ["legacy", "nft"] {
      let restore = "/usr/sbin/iptables-\(flavour)-restore"
      guard FileManager.default.isExecutableFile(atPath: restore) else {
        print("iptables-\(flavour): not installed (apt-get install iptables); skipped")
        continue
      }
      let rules = iptablesRules(10_000)
      configurations.append(
        (
          "iptables-\(flavour), 10k rules",
          { try run("/usr/sbin/ip", ["netns", "exec", network.server, restore], input: rules) },
          {
            try run(
              "/usr/sbin/ip",
              ["netns", "exec", network.server, "/usr/sbin/iptables-\(flavour)", "-F", "INPUT"])
          }
        ))
    }
    var rates: [String: [Double]] = [:]
    var ratios: [String: [Double]] = [:]
    var lost = 0
    // A window after a pause that lets work the previous set-up left behind (freed maps, RCU
    // callbacks) finish, for every window alike.
    func window() throws -> Double {
      usleep(300_000)
      let rate = try network.udpRate(seconds: seconds)
      lost += rate.lost
      return rate.packetsPerSecond
    }
    for round in 0..<rounds {
      // Rotated, so no configuration always follows the same one.
      for index in configurations.indices {
        let (name, setUp, tearDown) = configurations[(index + round) % configurations.count]
        let baselineFirst = round % 2 == 0
        let before = baselineFirst ? try window() : nil
        try setUp()
        let rate = try window()
        try tearDown()
        let baseline = try before ?? window()
        rates["no program", default: []].append(baseline)
        rates[name, default: []].append(rate)
        ratios[name, default: []].append(rate / baseline)
      }
    }
    print(
      "| configuration | packets/s (median) | p25 – p75 | relative to no program (median of pairs) | 95% interval of that median | pairs' ratios, min – max |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name in ["no program"] + configurations.map(\.0) {
      let windows = rates[name]!
      let ratio = ratios[name] ?? [1]
      let (low, high) = medianInterval(ratio)
      print(
        "| \(name) | \(Int(percentileValue(windows, 50))) | \(Int(percentileValue(windows, 25))) – \(Int(percentileValue(windows, 75))) | \(format(percentileValue(ratio, 50))) | \(format(low)) – \(format(high)) | \(format(ratio.min()!)) – \(format(ratio.max()!)) |"
      )
    }
    print("\nPackets sent but not received, all windows: \(lost).\n")
  }

  /// A distribution-free confidence interval of at least 95% for the median of `values`: the
  /// order statistics x(k) and x(n+1-k), with the largest k for which P(Binomial(n, ½) < k) ≤
  /// 2.5%. Below 6 values no such k exists: the interval is then the extremes.
  static func medianInterval(_ values: [Double]) -> (Double, Double) {
    let sorted = values.sorted()
    let n = sorted.count
    var k = 0
    var below = 0.0  // P(X < k)
    var exactly = pow(0.5, Double(n))  // P(X = k)
    while k < n && below + exactly <= 0.025 {
      below += exactly
      exactly *= Double(n - k) / Double(k + 1)
      k += 1
    }
    return k == 0 ? (sorted.first!, sorted.last!) : (sorted[k - 1], sorted[n - k])
  }

  /// (c) `vigil policy apply -f` of 10k rules through a running vigild, to enforced.
  static func cliApply(network: BenchNetwork, endpoint: EndpointRef) throws {
    print("## (c) `vigil policy apply` to enforced, through vigild (10k rules)\n")
    let products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "vigil-bench-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let pins = "/sys/fs/bpf/vigil-bench-\(getpid())-daemon"
    let socket = directory.appendingPathComponent("vigil.sock").path
    let config = directory.appendingPathComponent("vigild.yaml")
    try "targets: []\npolicy:\n  capacity: {entries: 65536, counters: 16384}\n".write(
      to: config, atomically: true, encoding: .utf8)
    let daemon = Process()
    daemon.executableURL = products.appendingPathComponent("vigild")
    daemon.arguments = [
      "--config", config.path, "--socket", socket, "--pin-path", pins, "--policy-state",
      directory.appendingPathComponent("state").path, "--events", "none",
      "--log-level", "warning",
    ]
    try daemon.run()
    defer {
      daemon.terminate()
      daemon.waitUntilExit()
      _ = try? run(
        products.appendingPathComponent("vigild").path, "--uninstall", "--pin-path", pins)
      try? FileManager.default.removeItem(at: directory)
    }
    let deadline = Date().addingTimeInterval(20)
    while !FileManager.default.fileExists(atPath: socket) && Date() < deadline { usleep(50_000) }
    usleep(200_000)

    let files = try [80, 81].map { port -> String in
      let path = directory.appendingPathComponent("policy-\(port).yaml").path
      try policy(
        rules: 10_000, endpoint: endpoint, client: network.clientAddress, extraPort: port
      ).write(toFile: path, atomically: true, encoding: .utf8)
      return path
    }
    let vigil = products.appendingPathComponent("vigil").path
    // vigild reports when its flip was done; a thread polling the pinned maps every millisecond
    // confirms that the datapath then uses the generation (an upper bound, coarser, and kept
    // light so as not to take a core from vigild).
    let watcher = try EnforcementWatcher(pinPath: pins)
    var wall: [Double] = []
    var enforced: [Double] = []
    var seen: [Double] = []
    var timings: [Answer.Timing] = []
    var first: (enforced: Double, timing: Answer.Timing)?
    for round in 0..<25 {
      let (output, milliseconds, started) = try timedRun(
        vigil, ["policy", "apply", "-f", files[round % 2], "--json", "--socket", socket])
      wall.append(milliseconds)
      let answer = try JSONDecoder().decode(Answer.self, from: Data(output.utf8))
      timings.append(answer.timing)
      guard let flippedAt = answer.timing.flippedAtNs else {
        throw BenchError("vigild reported no flip time")
      }
      // The first apply attaches to the endpoint and makes the first spare slot: apart.
      if round == 0 {
        first = (Double(flippedAt - started) / 1e6, answer.timing)
        wall.removeAll()
        timings.removeAll()
        usleep(100_000)
        continue
      }
      enforced.append(Double(flippedAt - started) / 1e6)
      usleep(100_000)  // applies spaced like an operator's: the spare slot is ready
      guard let firstSeen = watcher.firstSeen(answer.generation), firstSeen >= flippedAt else {
        throw BenchError("generation \(answer.generation) was not seen active after its flip")
      }
      seen.append(Double(firstSeen - started) / 1e6)
    }
    watcher.stop()
    if let first {
      print(
        "The first apply (attaching to the endpoint, making the first spare slot): \(format(first.enforced)) ms from CLI start to enforced, of which attach \(format(first.timing.attachMs ?? 0)) ms and slot \(format(first.timing.slotMs ?? 0)) ms.\n"
      )
    }
    print("| measure, the next 24 applies | p50 | p99 |")
    print("|---|---:|---:|")
    print(
      "| CLI started to enforced: read file, send, parse, compile, attach, fill, flip (vigild's flip time) | \(percentile(enforced, 50)) ms | \(percentile(enforced, 99)) ms |"
    )
    print(
      "| CLI started to seen active by a thread polling the pinned maps every 1 ms | \(percentile(seen, 50)) ms | \(percentile(seen, 99)) ms |"
    )
    print(
      "| CLI wall time: all of the above, then answer and exit | \(percentile(wall, 50)) ms | \(percentile(wall, 99)) ms |"
    )
    print(
      "| inside vigild: request to flip | \(percentile(timings.map(\.totalMs), 50)) ms | \(percentile(timings.map(\.totalMs), 99)) ms |"
    )
    let stages: [(String, KeyPath<Answer.Timing, Double?>)] = [
      ("parse, validate, compile", \.compileMs), ("attach", \.attachMs), ("slot wait", \.slotMs),
      ("fill", \.fillMs), ("store wait after the fill", \.storeWaitMs),
    ]
    for (name, stage) in stages {
      let values = timings.compactMap { $0[keyPath: stage] }
      print(
        "| inside vigild: \(name) | \(percentile(values, 50)) ms | \(percentile(values, 99)) ms |")
    }
  }

  private struct Answer: Decodable {
    struct Timing: Decodable {
      var totalMs: Double
      var compileMs, attachMs, slotMs, fillMs, storeWaitMs: Double?
      var flippedAtNs: UInt64?
    }
    var generation: UInt64
    var timing: Timing
  }

  /// Watches the active generation of vigild's pinned datapath from a thread of its own, noting
  /// when each generation is first seen.
  final class EnforcementWatcher: @unchecked Sendable {
    private let datapath: PolicyDatapath
    private let seen = NSLock()
    private var firstSeenAt: [UInt64: UInt64] = [:]
    private var running = true
    private var thread: Thread?

    init(pinPath: String) throws {
      guard
        let name = try FileManager.default.contentsOfDirectory(atPath: pinPath).first(where: {
          $0.hasPrefix("policy-v")
        })
      else { throw BenchError("vigild pinned no policy maps under \(pinPath)") }
      // Re-adopts the pinned maps (attaching nothing) to read the active generation.
      datapath = try PolicyDatapath(
        pinDirectory: "\(pinPath)/\(name)", ruleCapacity: 1, counterCapacity: 1)
      let thread = Thread { [self] in
        while seen.withLock({ running }) {
          if let generation = try? datapath.active()?.generation {
            let now = monotonicNow()
            seen.withLock { if firstSeenAt[generation] == nil { firstSeenAt[generation] = now } }
          }
          usleep(1_000)
        }
      }
      self.thread = thread
      thread.start()
    }

    /// When `generation` was first seen active (`monotonicNow()`).
    func firstSeen(_ generation: UInt64) -> UInt64? { seen.withLock { firstSeenAt[generation] } }

    func stop() { seen.withLock { running = false } }
  }

  /// Policy `name` of `rules` ingress rules on `endpoint`: distinct /24 blocks in 10.0.0.0/7
  /// (numbered from `firstBlock`), each with an except and a port range, plus one rule for the
  /// benchmark's own UDP flow from `client`.
  static func policy(
    rules: Int, endpoint: EndpointRef, client: String, extraPort: Int = 80, name: String = "bench",
    firstBlock: Int = 0
  ) -> String {
    guard case .interface(let interface, let netns) = endpoint else { preconditionFailure() }
    var yaml = """
      apiVersion: vigil/v1
      kind: NetworkPolicy
      metadata: {name: \(name)}
      spec:
        endpoint: {interface: \(interface), netns: \(netns ?? "")}
        policyTypes: [Ingress]
        ingress:
          - from: [{ipBlock: {cidr: \(client)/32}}]
            ports: [{protocol: UDP, port: 9}]

      """
    for index in firstBlock..<firstBlock + rules - 1 {
      let (first, second, third) = (10 + index / 65_536, index / 256 % 256, index % 256)
      yaml += """
            - from: [{ipBlock: {cidr: \(first).\(second).\(third).0/24, except: [\(first).\(second).\(third).128/25]}}]
              ports: [{protocol: TCP, port: \(extraPort)}, {protocol: TCP, port: 8000, endPort: 8100}]

        """
    }
    return yaml
  }

  /// `policy(rules:)` as files of at most 25k rules each (a policy file is at most 4 MiB), as
  /// `vigil policy apply -f DIRECTORY` would send them.
  static func policyFiles(rules: Int, endpoint: EndpointRef, client: String) -> [(
    source: String, yaml: String
  )] {
    stride(from: 0, to: rules, by: 25_000).map { first in
      let name = "bench-\(first / 25_000)"
      return (
        "\(name).yaml",
        policy(
          rules: min(25_000, rules - first), endpoint: endpoint, client: client, name: name,
          firstBlock: first)
      )
    }
  }

  /// The same number of stateless rules for iptables, none matching the benchmark's flow until
  /// the last, so each packet walks them all.
  static func iptablesRules(_ count: Int) -> String {
    var text = "*filter\n:INPUT ACCEPT [0:0]\n"
    for index in 0..<count {
      let (first, second, third) = (10 + index / 65_536, index / 256 % 256, index % 256)
      text += "-A INPUT -s \(first).\(second).\(third).0/24 -p tcp --dport 80 -j ACCEPT\n"
    }
    return text + "-A INPUT -p udp --dport 9 -j ACCEPT\nCOMMIT\n"
  }

  static func udpPacket(from source: String, port: UInt16) -> [UInt8] {
    let address = source.split(separator: ".").compactMap { UInt8($0) }
    return ipv4Packet(
      from: address, protocol: 17, transport: [0x9c, 0x40, 0, UInt8(port), 0, 8, 0, 0])
  }

  static func tcpPacket(from source: [UInt8], port: UInt16) -> [UInt8] {
    ipv4Packet(
      from: source, protocol: 6,
      transport: [0x9c, 0x40, UInt8(port >> 8), UInt8(port & 0xff)]
        + [UInt8](repeating: 0, count: 16))
  }

  static func ipv4Packet(from source: [UInt8], protocol number: UInt8, transport: [UInt8])
    -> [UInt8]
  {
    let ethernet: [UInt8] = [UInt8](repeating: 2, count: 12) + [0x08, 0x00]
    let length = UInt16(20 + transport.count)
    let ip: [UInt8] =
      [0x45, 0, UInt8(length >> 8), UInt8(length & 0xff), 0, 0, 0x40, 0, 64, number, 0, 0] + source
      + [172, 31, 250, 2]
    return ethernet + ip + transport
  }

  static func percentileValue(_ values: [Double], _ percent: Int) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, sorted.count * percent / 100)]
  }

  static func percentile(_ values: [Double], _ percent: Int) -> String {
    values.isEmpty ? "-" : format(percentileValue(values, percent))
  }

  static func format(_ value: Double) -> String { String(format: "%.2f", value) }

  static func mebibytes(_ bytes: UInt64) -> String {
    String(format: "%.2f MiB", Double(bytes) / 1_048_576)
  }
}

/// A value set and read by the benchmark's one thread, kept in a class so closures share it.
final class SharedValue<Value>: @unchecked Sendable {
  var value: Value
  init(_ value: Value) { self.value = value }
}
