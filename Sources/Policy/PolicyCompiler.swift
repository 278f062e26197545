import CVigilABI

/// Compiles policy documents into the datapath's maps.
public enum PolicyCompiler {
  /// The most counters a generation can have: counter indexes are 22 bits in the datapath.
  public static let maxCounters = 1 << Int(VIGIL_POLICY_COUNTER_BITS)

  /// Compiles `documents` for the endpoints numbered by `endpointIDs` (each below
  /// `capacity.maxEndpoints`), refusing what does not fit `capacity`. Validates each document
  /// and the set first.
  public static func compile(
    _ documents: [PolicyDocument], endpointIDs: [EndpointRef: UInt32], capacity: PolicyCapacity
  ) throws(PolicyError) -> CompiledPolicy {
    for document in documents { try document.validate() }
    try PolicyDocument.validate(documents)
    return try compileValidated(documents, endpointIDs: endpointIDs, capacity: capacity)
  }

  /// Compiles documents as they were read (each was validated then), checking only the set.
  public static func compile(
    _ documents: [LocatedDocument], endpointIDs: [EndpointRef: UInt32], capacity: PolicyCapacity
  ) throws(PolicyError) -> CompiledPolicy {
    try PolicyDocument.validate(documents)
    return try compileValidated(
      documents.map(\.document), endpointIDs: endpointIDs, capacity: capacity)
  }

  private static func compileValidated(
    _ documents: [PolicyDocument], endpointIDs: [EndpointRef: UInt32], capacity: PolicyCapacity
  ) throws(PolicyError) -> CompiledPolicy {
    let documents = documents.sorted { $0.name < $1.name }
    let ids = try numberEndpoints(documents, endpointIDs: endpointIDs, capacity: capacity)
    let directions = managedDirections(documents, ids: ids)
    let ruleCount = documents.reduce(0) { count, document in
      PolicyDocument.ruleLists.reduce(count) {
        $0 + document.rules($1.direction, deny: $1.deny).count
      }
    }
    try check(
      ruleCount + directions.count, "counters", limit: min(capacity.maxCounters, maxCounters))

    var counters: [CounterInfo] = []
    let rules = compileRules(documents, ids: ids, counters: &counters)
    var blocks: [AddressBlock] = []
    var values: [vigil_policy_value] = []
    var endpointPolicies: [(index: UInt32, value: vigil_endpoint_policy)] = []
    blocks.reserveCapacity(rules.values.joined().reduce(directions.count) { $0 + $1.blockCount })
    for direction in directions {
      var policy = vigil_endpoint_policy()
      policy.default_action = UInt8(
        (direction.defaultDeny ? VIGIL_ACTION_DENY : VIGIL_ACTION_ALLOW).rawValue)
      policy.audit = direction.audit ? 1 : 0
      policy.default_counter = UInt32(counters.count)
      counters.append(.fallback(direction.endpoint, direction.direction))
      endpointPolicies.append((direction.index, policy))
      if let overflow = BlockWalk.append(
        rules[direction.index] ?? [], endpointIndex: direction.index, to: &blocks,
        values: &values)
      {
        throw overflowError(overflow, of: direction, counters: counters)
      }
    }
    try check(blocks.count, "rule entries", limit: capacity.maxEntries)
    let lines = AddressLines(blocks: blocks, values: values)
    for index in endpointPolicies.indices {
      let span = lines.spans[endpointPolicies[index].index] ?? (0, 0)
      endpointPolicies[index].value.first_boundary = span.first
      endpointPolicies[index].value.boundary_count = span.count
    }
    return CompiledPolicy(
      blocks: blocks, lines: lines, endpointPolicies: endpointPolicies, counters: counters)
  }

  /// Every rule of `documents` by endpoint index, numbering their counters in order.
  private static func compileRules(
    _ documents: [PolicyDocument], ids: [EndpointRef: UInt32], counters: inout [CounterInfo]
  ) -> [UInt32: [CompiledRule]] {
    var rules: [UInt32: [CompiledRule]] = [:]
    for document in documents {
      let id = ids[document.endpoint]!
      for (direction, deny) in PolicyDocument.ruleLists {
        let list = document.rules(direction, deny: deny)
        guard !list.isEmpty else { continue }
        var compiledList = rules.removeValue(forKey: id << 1 | direction.abiValue) ?? []
        compiledList.reserveCapacity(compiledList.count + list.count)
        for (index, rule) in list.enumerated() {
          compiledList.append(
            CompiledRule(
              counter: UInt32(counters.count), deny: deny, peers: rule.peers, ports: rule.ports))
          counters.append(.rule(document, direction, deny: deny, index: index))
        }
        rules[id << 1 | direction.abiValue] = compiledList
      }
    }
    return rules
  }

  /// The error of a block whose covering rules need more port ranges than a value holds.
  private static func overflowError(
    _ overflow: BlockWalk.Overflow, of direction: ManagedDirection, counters: [CounterInfo]
  ) -> PolicyError {
    let names = overflow.counters.map { counters[Int($0)].description }.joined(separator: ", ")
    return PolicyError(
      reason: "endpoint \(direction.endpoint) \(direction.direction.word): block \(overflow.block) "
        + "needs \(overflow.ranges) port ranges; at most \(VIGIL_POLICY_MAX_RANGES) fit "
        + "(rules \(names))")
  }

  /// Fails when `needed` exceeds `limit`.
  static func check(_ needed: Int, _ what: String, limit: Int) throws(PolicyError) {
    guard needed <= limit else {
      throw PolicyError(
        reason: "policy needs \(needed) \(what); capacity is \(limit) (policy.capacity)")
    }
  }
}
