import CVigilABI
import Policy
import Testing

private let eth0 = EndpointRef.interface(name: "eth0", netns: nil)
private let web = EndpointRef.interface(name: "eth1", netns: "web")
private let roomy = PolicyCapacity(maxEntries: 1000, maxCounters: 1000, maxEndpoints: 8)

/// `cidr` minus `except`.
private func block(_ cidr: String, except: String...) -> IPBlock {
  IPBlock(cidr: policyPrefix(cidr), except: except.map(policyPrefix))
}

/// Each boundary of the address lines as `start #value` (or `none`).
private func line(_ compiled: CompiledPolicy) -> [String] {
  compiled.lines.boundaries.map {
    "\($0.start) " + ($0.value == VIGIL_POLICY_NO_VALUE ? "none" : "#\($0.value)")
  }
}

/// Each block as `id direction block: action protocol lo-hi #counter, ...`.
private func table(_ compiled: CompiledPolicy) -> [String] {
  compiled.blocks.map { entry in
    let index = entry.endpointIndex
    let value = entry.value == VIGIL_POLICY_NO_VALUE ? nil : compiled.lines.values[Int(entry.value)]
    let ranges = (value?.portRanges ?? []).map { range in
      let action = range.action == UInt8(VIGIL_ACTION_DENY.rawValue) ? "deny" : "allow"
      return "\(action) \(range.protocol) \(range.port_lo)-\(range.port_hi) #\(range.counter)"
    }
    let direction = index & 1 == 0 ? "in" : "out"
    return "\(index >> 1) \(direction) \(entry.prefix): " + ranges.joined(separator: ", ")
  }
}

/// The compiled verdict, checked against the reference, as `action counter [audit]`.
private func verdict(
  _ compiled: CompiledPolicy, _ documents: [PolicyDocument], _ endpoint: EndpointRef,
  id: UInt32, _ address: String, _ ipProtocol: IPProtocolName = .tcp, port: UInt16 = 0,
  direction: PolicyDirection = .ingress
) -> String {
  let address = IPAddress(address)!
  let compiledVerdict = compiled.evaluate(
    endpointID: id, direction: direction, address: address, protocol: ipProtocol.number, port: port)
  let reference = PolicyEvaluator.verdict(
    documents: documents, endpoint: endpoint, direction: direction, address: address,
    protocol: ipProtocol.number, port: port)
  #expect(compiledVerdict == reference)
  return compiledVerdict.description
}

private func compileError(
  _ documents: [PolicyDocument], ids: [EndpointRef: UInt32] = [eth0: 0, web: 1],
  capacity: PolicyCapacity = roomy
) -> String? {
  do {
    _ = try PolicyCompiler.compile(documents, endpointIDs: ids, capacity: capacity)
    return nil
  } catch {
    return error.description
  }
}

@Suite struct PolicyCompilerTests {
  @Test func exceptLeavesAHole() throws {
    let documents = [
      PolicyDocument(
        name: "web", endpoint: eth0,
        ingress: [
          PolicyRule(
            peers: [block("10.0.0.0/8", except: "10.1.0.0/16")], ports: [PortSpec(port: 80)])
        ])
    ]
    let compiled = try PolicyCompiler.compile(documents, endpointIDs: [eth0: 0], capacity: roomy)
    #expect(table(compiled) == ["0 in 10.0.0.0/8: allow 6 80-80 #0", "0 in 10.1.0.0/16: "])
    #expect(
      compiled.counters.map(\.description) == ["web ingress[0] allow", "eth0 ingress default"])
    #expect(compiled.endpointPolicies.map(\.index) == [0])
    let policy = compiled.endpointPolicies[0].value
    #expect(policy.default_action == VIGIL_ACTION_DENY.rawValue)
    #expect(policy.default_counter == 1 && policy.audit == 0)
    func check(_ address: String, _ ipProtocol: IPProtocolName = .tcp, port: UInt16 = 80) -> String
    {
      verdict(compiled, documents, eth0, id: 0, address, ipProtocol, port: port)
    }
    #expect(check("10.2.0.1") == "allow (web ingress[0] allow)")
    #expect(check("10.1.0.1") == "deny (eth0 ingress default)")
    #expect(check("10.1.255.255") == "deny (eth0 ingress default)")
    #expect(check("10.2.0.1", port: 81) == "deny (eth0 ingress default)")
    #expect(check("10.2.0.1", .udp) == "deny (eth0 ingress default)")
    #expect(check("2001:db8::1") == "deny (eth0 ingress default)")
    #expect(verdict(compiled, documents, eth0, id: 0, "10.2.0.1", direction: .egress) == "none")
  }

  @Test func nestedBlocksUnionAllowsAndDenyWins() throws {
    let documents = [
      PolicyDocument(
        name: "web", endpoint: eth0, ingress: [PolicyRule(peers: [block("10.0.0.0/8")])],
        ingressDeny: [PolicyRule(peers: [block("10.1.0.0/16")], ports: [PortSpec(port: 22)])]),
      PolicyDocument(
        name: "api", endpoint: eth0,
        ingress: [PolicyRule(peers: [block("10.1.2.0/24")], ports: [PortSpec(.udp, port: 53)])]),
    ]
    let compiled = try PolicyCompiler.compile(documents, endpointIDs: [eth0: 0], capacity: roomy)
    #expect(
      compiled.counters.map(\.description) == [
        "api ingress[0] allow", "web ingress[0] allow", "web ingressDeny[0] deny",
        "eth0 ingress default",
      ])
    #expect(
      table(compiled) == [
        "0 in 10.0.0.0/8: allow 0 0-65535 #1",
        "0 in 10.1.0.0/16: deny 6 22-22 #2, allow 0 0-65535 #1",
        "0 in 10.1.2.0/24: deny 6 22-22 #2, allow 17 53-53 #0, allow 0 0-65535 #1",
      ])
    func check(_ address: String, _ ipProtocol: IPProtocolName = .tcp, port: UInt16) -> String {
      verdict(compiled, documents, eth0, id: 0, address, ipProtocol, port: port)
    }
    #expect(check("10.1.2.3", port: 22) == "deny (web ingressDeny[0] deny)")
    #expect(check("10.1.2.3", .udp, port: 53) == "allow (api ingress[0] allow)")
    #expect(check("10.1.9.9", .udp, port: 53) == "allow (web ingress[0] allow)")
    #expect(check("10.9.9.9", port: 22) == "allow (web ingress[0] allow)")
    #expect(check("11.0.0.1", port: 22) == "deny (eth0 ingress default)")
  }

  @Test func ipv6BlocksNeverMatchIPv4() throws {
    let documents = [
      PolicyDocument(
        name: "web", endpoint: eth0,
        egress: [PolicyRule(peers: [block("::/0")], ports: [PortSpec(.udp, port: 53)])],
        egressDeny: [PolicyRule(peers: [block("2001:db8::/32")])])
    ]
    let compiled = try PolicyCompiler.compile(documents, endpointIDs: [eth0: 0], capacity: roomy)
    #expect(
      table(compiled) == [
        "0 out ::/0: allow 17 53-53 #0", "0 out 0.0.0.0/0: ",
        "0 out 2001:db8::/32: deny 0 0-65535 #1",
      ])
    #expect(compiled.blocks.map(\.prefix.mappedLength) == [0, 96, 32])
    // Flattened: IPv4 space (empty block) and the deny cut holes into ::/0's interval.
    #expect(
      line(compiled) == [
        ":: #0", "0.0.0.0 none", "::1:0:0:0 #0", "2001:db8:: #1", "2001:db9:: #0",
      ])
    func check(_ address: String) -> String {
      verdict(compiled, documents, eth0, id: 0, address, .udp, port: 53, direction: .egress)
    }
    #expect(check("8.8.8.8") == "deny (eth0 egress default)")
    #expect(check("2001:4860::8888") == "allow (web egress[0] allow)")
    #expect(check("2001:db8::53") == "deny (web egressDeny[0] deny)")
    #expect(verdict(compiled, documents, eth0, id: 0, "8.8.8.8") == "deny (eth0 ingress default)")
  }

  @Test func aRuleWithoutPeersCoversBothFamilies() throws {
    let documents = [PolicyDocument(name: "web", endpoint: eth0, ingress: [PolicyRule()])]
    let compiled = try PolicyCompiler.compile(documents, endpointIDs: [eth0: 0], capacity: roomy)
    #expect(
      table(compiled) == ["0 in ::/0: allow 0 0-65535 #0", "0 in 0.0.0.0/0: allow 0 0-65535 #0"])
    #expect(
      verdict(compiled, documents, eth0, id: 0, "192.0.2.1", .icmp)
        == "allow (web ingress[0] allow)")
    #expect(
      verdict(compiled, documents, eth0, id: 0, "::1", .sctp, port: 9)
        == "allow (web ingress[0] allow)")
  }

  @Test func denyOnlyDirectionsDefaultToAllowAndOthersAreUnmanaged() throws {
    let documents = [
      PolicyDocument(
        name: "web", endpoint: web, policyTypes: [],
        egressDeny: [PolicyRule(peers: [block("10.0.0.0/8")])])
    ]
    let compiled = try PolicyCompiler.compile(documents, endpointIDs: [web: 1], capacity: roomy)
    #expect(compiled.endpointPolicies.map(\.index) == [3])
    #expect(compiled.endpointPolicies[0].value.default_action == VIGIL_ACTION_ALLOW.rawValue)
    #expect(
      verdict(compiled, documents, web, id: 1, "10.0.0.1", direction: .egress)
        == "deny (web egressDeny[0] deny)")
    #expect(
      verdict(compiled, documents, web, id: 1, "11.0.0.1", direction: .egress)
        == "allow (eth1@web egress default)")
    #expect(verdict(compiled, documents, web, id: 1, "10.0.0.1", direction: .ingress) == "none")
    #expect(verdict(compiled, documents, eth0, id: 0, "10.0.0.1", direction: .egress) == "none")
  }

  @Test func auditModeIsCarriedToEveryVerdict() throws {
    let documents = [
      PolicyDocument(
        name: "web", endpoint: eth0, mode: .audit,
        ingress: [PolicyRule(ports: [PortSpec(port: 443)])])
    ]
    let compiled = try PolicyCompiler.compile(documents, endpointIDs: [eth0: 0], capacity: roomy)
    #expect(compiled.endpointPolicies[0].value.audit == 1)
    #expect(
      verdict(compiled, documents, eth0, id: 0, "10.0.0.1", port: 443)
        == "allow (web ingress[0] allow, audit)")
    #expect(
      verdict(compiled, documents, eth0, id: 0, "10.0.0.1", port: 22)
        == "deny (eth0 ingress default, audit)")
  }

  @Test func keysEncodeEndpointDirectionBigEndianAndMappedAddresses() throws {
    let documents = [
      PolicyDocument(
        name: "a", endpoint: eth0, policyTypes: [.egress],
        egress: [PolicyRule(peers: [block("192.0.2.0/24")])]),
      PolicyDocument(
        name: "b", endpoint: web, ingress: [PolicyRule(peers: [block("2001:db8::/48")])]),
    ]
    let compiled = try PolicyCompiler.compile(
      documents, endpointIDs: [eth0: 3, web: 1], capacity: roomy)
    #expect(
      table(compiled) == [
        "1 in 2001:db8::/48: allow 0 0-65535 #1", "3 out 192.0.2.0/24: allow 0 0-65535 #0",
      ])
    #expect(
      line(compiled) == ["2001:db8:: #0", "2001:db8:1:: none", "192.0.2.0 #1", "192.0.3.0 none"])
    let boundary = compiled.lines.boundaries[2]
    #expect(boundary.addr_hi == 0 && boundary.addr_lo == 0xffff_c000_0200)
    #expect(compiled.endpointPolicies.map(\.index) == [2, 7])
    #expect(compiled.endpointPolicies.map(\.value.first_boundary) == [0, 2])
    #expect(compiled.endpointPolicies.map(\.value.boundary_count) == [2, 2])
    #expect(compiled.endpointPolicies.map(\.value.default_counter) == [2, 3])
    #expect(
      compiled.counters.map(\.description) == [
        "a egress[0] allow", "b ingress[0] allow", "eth1@web ingress default",
        "eth0 egress default",
      ])
  }

  @Test func coveredRangesAreLeftOut() throws {
    let documents = [
      PolicyDocument(
        name: "web", endpoint: eth0,
        ingress: [
          PolicyRule(peers: [block("10.0.0.0/8")], ports: [PortSpec(port: 8000, endPort: 9000)]),
          PolicyRule(peers: [block("10.0.0.0/8")], ports: [PortSpec(port: 8080), PortSpec(.udp)]),
        ],
        ingressDeny: [PolicyRule(peers: [block("10.0.0.0/8")], ports: [PortSpec(.udp, port: 53)])])
    ]
    let compiled = try PolicyCompiler.compile(documents, endpointIDs: [eth0: 0], capacity: roomy)
    #expect(
      table(compiled) == [
        "0 in 10.0.0.0/8: deny 17 53-53 #2, allow 6 8000-9000 #0, allow 17 0-65535 #1"
      ])
  }

  @Test func tooManyRangesForOneBlock() {
    let ports = (1...17).map { PortSpec(port: UInt16($0)) }
    let documents = [
      PolicyDocument(name: "web", endpoint: eth0, ingress: [PolicyRule(ports: ports)])
    ]
    #expect(
      compileError(documents)
        == "endpoint eth0 ingress: block ::/0 needs 17 port ranges; at most 16 fit (rules web ingress[0] allow)"
    )
  }

  @Test func refusesWhatDoesNotFit() {
    let two = [
      PolicyDocument(
        name: "a", endpoint: eth0,
        ingress: [PolicyRule(peers: [block("10.0.0.0/8", except: "10.0.0.0/9")])]),
      PolicyDocument(name: "b", endpoint: web),
    ]
    #expect(
      compileError(two, capacity: PolicyCapacity(maxEntries: 1, maxCounters: 10, maxEndpoints: 2))
        == "policy needs 2 rule entries; capacity is 1 (policy.capacity)")
    #expect(
      compileError(two, capacity: PolicyCapacity(maxEntries: 10, maxCounters: 2, maxEndpoints: 2))
        == "policy needs 3 counters; capacity is 2 (policy.capacity)")
    #expect(
      compileError(two, capacity: PolicyCapacity(maxEntries: 10, maxCounters: 10, maxEndpoints: 1))
        == "policy needs 2 endpoints; capacity is 1 (policy.capacity)")
    #expect(
      compileError(
        two, ids: [eth0: 0, web: 2],
        capacity: PolicyCapacity(maxEntries: 10, maxCounters: 10, maxEndpoints: 2))
        == "policy \"b\": spec.endpoint: eth1@web has id 2, beyond the capacity of 2 endpoints (policy.capacity)"
    )
    #expect(
      compileError(two, ids: [eth0: 0])
        == "policy \"b\": spec.endpoint: eth1@web has no endpoint id")
    #expect(
      compileError(two, ids: [eth0: 1, web: 1])
        == "policy \"b\": spec.endpoint: eth1@web has id 1, which eth0 has too")
  }

  @Test func validatesItsInput() {
    let documents = [
      PolicyDocument(name: "a", endpoint: eth0),
      PolicyDocument(name: "b", endpoint: eth0, mode: .audit),
    ]
    #expect(
      compileError(documents)
        == "policy \"b\": spec.mode: audit differs from mode enforce of policy \"a\" (another "
        + "document) for endpoint eth0; all policies of an endpoint share one mode")
    #expect(
      compileError([documents[0], documents[0]])
        == "policy \"a\": metadata.name: a is also the name of another document")
  }

  @Test func outputIsDeterministic() throws {
    var documents = (0..<20).map { index in
      PolicyDocument(
        name: "p\(index)", endpoint: index % 2 == 0 ? eth0 : web,
        ingress: [
          PolicyRule(
            peers: [block("10.\(index).0.0/16", except: "10.\(index).1.0/24")],
            ports: [PortSpec(port: UInt16(index + 1))])
        ],
        egressDeny: [PolicyRule(peers: [block("2001:db8:\(index)::/48")])])
    }
    let first = try PolicyCompiler.compile(
      documents, endpointIDs: [eth0: 0, web: 1], capacity: roomy)
    documents.reverse()
    let second = try PolicyCompiler.compile(
      documents, endpointIDs: [eth0: 0, web: 1], capacity: roomy)
    #expect(first == second)
    #expect(first.blocks.count == 60)
  }
}
