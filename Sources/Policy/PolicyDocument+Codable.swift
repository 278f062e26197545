extension PolicyDocument {
  private enum Keys: String, CodingKey { case apiVersion, kind, metadata, spec }
  private enum MetadataKeys: String, CodingKey { case name }
  private enum SpecKeys: String, CodingKey {
    case endpoint, mode, policyTypes, ingress, egress, ingressDeny, egressDeny
  }

  /// Decodes the canonical shape, then validates.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: Keys.self)
    for (key, expected) in [(Keys.apiVersion, Self.apiVersion), (.kind, Self.kind)] {
      let value = try container.decode(String.self, forKey: key)
      guard value == expected else {
        throw DecodingError.dataCorruptedError(
          forKey: key, in: container, debugDescription: "\(value) is not \(expected)")
      }
    }
    let metadata = try container.nestedContainer(keyedBy: MetadataKeys.self, forKey: .metadata)
    let spec = try container.nestedContainer(keyedBy: SpecKeys.self, forKey: .spec)
    func rules(_ key: SpecKeys, _ direction: PolicyDirection) throws -> [PolicyRule] {
      try (spec.decodeIfPresent([RuleCoding].self, forKey: key) ?? []).map {
        try $0.rule(direction, codingPath: spec.codingPath + [key])
      }
    }
    self.init(
      name: try metadata.decode(String.self, forKey: .name),
      endpoint: try spec.decode(EndpointRef.self, forKey: .endpoint),
      mode: try spec.decodeIfPresent(PolicyMode.self, forKey: .mode) ?? .enforce,
      policyTypes: try spec.decodeIfPresent([PolicyDirection].self, forKey: .policyTypes).map(
        Set.init),
      ingress: try rules(.ingress, .ingress), egress: try rules(.egress, .egress),
      ingressDeny: try rules(.ingressDeny, .ingress), egressDeny: try rules(.egressDeny, .egress))
    try validate()
  }

  /// Encodes the canonical shape: defaults written out, `policyTypes` sorted, empty lists left out.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: Keys.self)
    try container.encode(Self.apiVersion, forKey: .apiVersion)
    try container.encode(Self.kind, forKey: .kind)
    var metadata = container.nestedContainer(keyedBy: MetadataKeys.self, forKey: .metadata)
    try metadata.encode(name, forKey: .name)
    var spec = container.nestedContainer(keyedBy: SpecKeys.self, forKey: .spec)
    try spec.encode(endpoint, forKey: .endpoint)
    try spec.encode(mode, forKey: .mode)
    try spec.encode(policyTypes.sorted(), forKey: .policyTypes)
    let lists: [(SpecKeys, PolicyDirection, [PolicyRule])] = [
      (.ingress, .ingress, ingress), (.egress, .egress, egress),
      (.ingressDeny, .ingress, ingressDeny), (.egressDeny, .egress, egressDeny),
    ]
    for (key, direction, rules) in lists where !rules.isEmpty {
      try spec.encode(rules.map { RuleCoding($0, direction) }, forKey: key)
    }
  }
}

/// A rule as written: peers under `from` (ingress) or `to` (egress).
private struct RuleCoding: Codable {
  /// A peer as written: `{ipBlock: ...}`.
  struct Peer: Codable {
    var ipBlock: IPBlock
  }

  var from: [Peer]?
  var to: [Peer]?
  var ports: [PortSpec]?

  init(_ rule: PolicyRule, _ direction: PolicyDirection) {
    let peers = rule.peers.isEmpty ? nil : rule.peers.map(Peer.init)
    (from, to) = direction == .ingress ? (peers, nil) : (nil, peers)
    ports = rule.ports.isEmpty ? nil : rule.ports
  }

  func rule(_ direction: PolicyDirection, codingPath: [any CodingKey]) throws -> PolicyRule {
    let (peers, misplaced) = direction == .ingress ? (from, to) : (to, from)
    guard misplaced == nil else {
      throw DecodingError.dataCorrupted(
        DecodingError.Context(
          codingPath: codingPath,
          debugDescription: "\(direction.word) rules name peers under "
            + (direction == .ingress ? "from" : "to")))
    }
    return PolicyRule(peers: peers?.map(\.ipBlock) ?? [], ports: ports ?? [])
  }
}
