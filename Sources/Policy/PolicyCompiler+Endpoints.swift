/// An endpoint direction some policy manages, and its default.
struct ManagedDirection {
  /// `id << 1 | direction`.
  let index: UInt32
  let endpoint: EndpointRef
  let direction: PolicyDirection
  /// Deny when some policy lists the direction in `policyTypes`; else only denies apply.
  var defaultDeny: Bool
  let audit: Bool
}

extension PolicyCompiler {
  /// The id of every endpoint `documents` select, checked against `capacity`.
  static func numberEndpoints(
    _ documents: [PolicyDocument], endpointIDs: [EndpointRef: UInt32], capacity: PolicyCapacity
  ) throws(PolicyError) -> [EndpointRef: UInt32] {
    var ids: [EndpointRef: UInt32] = [:]
    var owners: [UInt32: EndpointRef] = [:]
    try check(Set(documents.map(\.endpoint)).count, "endpoints", limit: capacity.maxEndpoints)
    for document in documents where ids[document.endpoint] == nil {
      func fail(_ reason: String) -> PolicyError {
        PolicyError(
          policy: document.name, field: "spec.endpoint", value: document.endpoint.description,
          reason: reason)
      }
      guard let id = endpointIDs[document.endpoint] else { throw fail("has no endpoint id") }
      guard id < capacity.maxEndpoints else {
        throw fail(
          "has id \(id), beyond the capacity of \(capacity.maxEndpoints) endpoints "
            + "(policy.capacity)")
      }
      if let owner = owners[id] { throw fail("has id \(id), which \(owner) has too") }
      ids[document.endpoint] = id
      owners[id] = document.endpoint
    }
    return ids
  }

  /// The endpoint directions that policies list in `policyTypes` or give deny rules, by index.
  static func managedDirections(_ documents: [PolicyDocument], ids: [EndpointRef: UInt32])
    -> [ManagedDirection]
  {
    var managed: [UInt32: ManagedDirection] = [:]
    for document in documents {
      for direction in PolicyDirection.allCases {
        let listed = document.policyTypes.contains(direction)
        guard listed || !document.rules(direction, deny: true).isEmpty else { continue }
        let index = ids[document.endpoint]! << 1 | direction.abiValue
        var entry =
          managed[index]
          ?? ManagedDirection(
            index: index, endpoint: document.endpoint, direction: direction, defaultDeny: false,
            audit: document.mode == .audit)
        entry.defaultDeny = entry.defaultDeny || listed
        managed[index] = entry
      }
    }
    return managed.keys.sorted().map { managed[$0]! }
  }
}
