import Policy
import Testing

@Suite struct PolicyPerformanceTests {
  /// Prints how long 10,000 rules over 10 endpoints take to compile (not an assertion).
  @Test func compiles10kRules() throws {
    let endpoints = (0..<10).map { EndpointRef.interface(name: "veth\($0)", netns: "pod\($0)") }
    let documents = endpoints.enumerated().map { index, endpoint in
      PolicyDocument(
        name: "pod\(index)", endpoint: endpoint,
        ingress: (0..<1000).map { rule in
          let block = "10.\(index).\(rule % 256).\(rule / 256 * 64)/26"
          return PolicyRule(
            peers: [
              IPBlock(
                cidr: policyPrefix(block),
                except: [policyPrefix("10.\(index).\(rule % 256).\(rule / 256 * 64 + 16)/28")])
            ],
            ports: [PortSpec(port: UInt16(1000 + rule)), PortSpec(.udp, port: 53)])
        })
    }
    let ids = Dictionary(uniqueKeysWithValues: endpoints.enumerated().map { ($1, UInt32($0)) })
    let capacity = PolicyCapacity(maxEntries: 100_000, maxCounters: 65536, maxEndpoints: 16)
    var compiled: CompiledPolicy?
    let times = try (0..<3).map { _ in
      try ContinuousClock().measure {
        compiled = try PolicyCompiler.compile(documents, endpointIDs: ids, capacity: capacity)
      }
    }
    let entries = compiled?.blocks.count ?? 0
    print("policy compile: 10000 rules → \(entries) entries in \(times[0]) (then \(times.min()!))")
    #expect(entries == 20_000)
    #expect(compiled?.counters.count == 10_010)
  }
}
