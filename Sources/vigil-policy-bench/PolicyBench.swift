import BPFCore
import Foundation
import Policy
import PolicyDatapath

/// Measures the policy path: compile, fill, slot update and flip for 10, 10k and 60k rules,
/// and the classifier's cost per packet (BPF_PROG_TEST_RUN) at each size. Needs root.
@main
struct PolicyBench {
  static func main() throws {
    // 100k rules need more than the 65,536 counters a 16-bit counter index can name.
    let sizes = [10, 10_000, 60_000]
    let rounds = 5
    print("| rules | entries | compile | fill | slot update | flip | per packet (TEST_RUN) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size in sizes {
      let documents = try PolicyDocument.parse(yaml: policy(rules: size), source: "bench.yaml")
      let endpoint = EndpointRef.interface(name: "lo", netns: nil)
      let capacity = PolicyCapacity(
        maxEntries: 2 * size + 64, maxCounters: 65_536, maxEndpoints: 16)
      let datapath = try PolicyDatapath(
        pinDirectory: nil, ruleCapacity: UInt32(2 * size + 64), counterCapacity: UInt32(size + 16))
      try datapath.registerInterface(
        netnsCookie: NetworkNamespace.currentCookie(), ifindex: 1, endpoint: 0)
      var compile: [Double] = []
      var fill: [Double] = []
      var slot: [Double] = []
      var flip: [Double] = []
      var compiled: CompiledPolicy?
      for round in 0..<rounds {
        let started = Date()
        let result = try PolicyCompiler.compile(
          documents, endpointIDs: [endpoint: 0], capacity: capacity)
        compile.append(Date().timeIntervalSince(started) * 1e3)
        let timing = try datapath.install(
          generation: UInt64(round + 1), entries: result.entries,
          endpointPolicies: result.endpointPolicies,
          counterCount: result.counters.count)
        fill.append(Double(timing.fillNanoseconds) / 1e6)
        slot.append(Double(timing.slotNanoseconds) / 1e6)
        flip.append(Double(timing.flipNanoseconds) / 1e3)
        compiled = result
      }
      // A packet from inside the largest block to an allowed port: a full lookup and range scan.
      let packet = tcpPacket(from: [10, 0, 1, 1], port: 80)
      let run = try datapath.program("vigil_tc_ingress").testRun(
        packet: packet, repetitions: 1_000_000)
      print(
        "| \(size) | \(compiled?.entries.count ?? 0) | \(median(compile)) ms | \(median(fill)) ms | \(median(slot)) ms | \(median(flip)) µs | \(run.durationNanoseconds) ns |"
      )
    }
    print(
      "\nMedians of \(rounds) installs per size; per packet is the kernel's average over 1M runs.")
  }

  /// `rules` ingress rules: distinct /24 blocks inside 10.0.0.0/8, each with an except and a range.
  static func policy(rules: Int) -> String {
    var yaml = """
      apiVersion: vigil/v1
      kind: NetworkPolicy
      metadata: {name: bench}
      spec:
        endpoint: {interface: lo}
        policyTypes: [Ingress]
        ingress:

      """
    for index in 0..<rules {
      let second = index / 256 % 256
      let third = index % 256
      let first = 10 + index / 65_536
      yaml += """
            - from: [{ipBlock: {cidr: \(first).\(second).\(third).0/24, except: [\(first).\(second).\(third).128/25]}}]
              ports: [{protocol: TCP, port: 80}, {protocol: TCP, port: 8000, endPort: 8100}]

        """
    }
    return yaml
  }

  static func tcpPacket(from source: [UInt8], port: UInt16) -> [UInt8] {
    let ethernet: [UInt8] = [UInt8](repeating: 2, count: 12) + [0x08, 0x00]
    let ip: [UInt8] = [0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0] + source + [10, 9, 9, 9]
    let tcp: [UInt8] =
      [0x9c, 0x40, UInt8(port >> 8), UInt8(port & 0xff)] + [UInt8](repeating: 0, count: 16)
    return ethernet + ip + tcp
  }

  static func median(_ values: [Double]) -> String {
    let sorted = values.sorted()
    return String(format: "%.2f", sorted[sorted.count / 2])
  }
}
