extension PolicyDocument {
  /// Parses and validates the `---`-separated documents of `yaml`, read from `source`; empty
  /// documents are skipped.
  public static func parse(yaml: String, source: String) throws(PolicyError) -> [PolicyDocument] {
    let documents = try parseLocated(yaml: yaml, source: source)
    try validate(documents)
    return documents.map(\.document)
  }

  /// The documents of `yaml`, each validated on its own, with where they came from.
  static func parseLocated(yaml: String, source: String) throws(PolicyError) -> [LocatedDocument] {
    var documents: [LocatedDocument] = []
    for (offset, root) in try PolicyNode.documents(yaml: yaml, source: source).enumerated() {
      guard let root else { continue }
      let name = root.peek("metadata", "name")
      do {
        let document = try PolicyDocument(reading: root)
        try document.validate()
        documents.append(LocatedDocument(document: document, source: source, index: offset + 1))
      } catch {
        throw error.located(source: source, document: offset + 1, policy: name)
      }
    }
    return documents
  }

  /// Reads one document's fields; cross-field checks are left to `validate()`.
  init(reading root: PolicyNode) throws(PolicyError) {
    let fields = try root.mapping(keys: ["apiVersion", "kind", "metadata", "spec"])
    let apiVersion = try fields.required("apiVersion", hint: Self.apiVersion)
    guard try apiVersion.string() == Self.apiVersion else {
      throw apiVersion.error("is not supported (expected \(Self.apiVersion))")
    }
    let kind = try fields.required("kind", hint: Self.kind)
    guard try kind.string() == Self.kind else {
      throw kind.error("is not supported (expected \(Self.kind))")
    }
    let metadata = try fields.required("metadata").mapping(keys: ["name"])
    let name = try metadata.required("name").string()
    let spec = try fields.required("spec").mapping(keys: [
      "endpoint", "mode", "policyTypes", "ingress", "egress", "ingressDeny", "egressDeny",
    ])
    let endpoint = try EndpointRef(reading: spec.required("endpoint", hint: "interface or cgroup"))
    let mode = try spec["mode"]?.parsed(PolicyMode.init, else: "is not a mode (enforce or audit)")
    func rules(_ direction: PolicyDirection, deny: Bool) throws(PolicyError) -> [PolicyRule] {
      let peerKey = direction == .ingress ? "from" : "to"
      return try spec[Self.ruleKey(direction, deny: deny)]?.sequence().map {
        item throws(PolicyError) in try PolicyRule(reading: item, peerKey: peerKey)
      } ?? []
    }
    self.init(
      name: name, endpoint: endpoint, mode: mode ?? .enforce,
      policyTypes: try spec["policyTypes"]?.policyTypes(),
      ingress: try rules(.ingress, deny: false), egress: try rules(.egress, deny: false),
      ingressDeny: try rules(.ingress, deny: true), egressDeny: try rules(.egress, deny: true))
  }
}

extension PolicyNode {
  /// Reads a list of distinct directions.
  fileprivate func policyTypes() throws(PolicyError) -> Set<PolicyDirection> {
    var types: Set<PolicyDirection> = []
    for item in try sequence() {
      let direction = try item.parsed(
        PolicyDirection.init, else: "is not a policy type (Ingress or Egress)")
      guard types.insert(direction).inserted else { throw item.error("is listed twice") }
    }
    return types
  }
}

extension EndpointRef {
  /// Reads `{interface, netns}` or `{cgroup}`.
  init(reading node: PolicyNode) throws(PolicyError) {
    let fields = try node.mapping(keys: ["interface", "netns", "cgroup"])
    switch (fields.entry("interface"), fields.entry("cgroup")) {
    case (let interface?, nil):
      self = .interface(name: try interface.string(), netns: try fields.entry("netns")?.string())
    case (nil, let cgroup?):
      if let netns = fields.entry("netns") {
        throw netns.error("only applies to an interface endpoint", showingValue: false)
      }
      self = .cgroup(path: try cgroup.string())
    case (.some, .some):
      throw node.error("sets both interface and cgroup (choose one)")
    case (nil, nil):
      throw node.error("needs interface or cgroup")
    }
  }
}

extension PolicyRule {
  /// Reads `{from or to: [{ipBlock}], ports: [...]}`; `peerKey` is `from` or `to`.
  init(reading node: PolicyNode, peerKey: String) throws(PolicyError) {
    let fields = try node.mapping(keys: [peerKey, "ports"])
    let peers = try fields[peerKey]?.sequence().map { item throws(PolicyError) in
      let peer = try item.mapping(keys: ["ipBlock"])
      return try IPBlock(reading: peer.required("ipBlock"))
    }
    let ports = try fields["ports"]?.sequence().map(PortSpec.init(reading:))
    self.init(peers: peers ?? [], ports: ports ?? [])
  }
}

extension IPBlock {
  /// Reads `{cidr, except}`.
  init(reading node: PolicyNode) throws(PolicyError) {
    let fields = try node.mapping(keys: ["cidr", "except"])
    self.init(
      cidr: try IPPrefix(reading: fields.required("cidr")),
      except: try fields["except"]?.sequence().map(IPPrefix.init(reading:)) ?? [])
  }
}

extension IPPrefix {
  /// Reads a CIDR block.
  init(reading node: PolicyNode) throws(PolicyError) {
    let text = try node.string()
    do {
      try self.init(text)
    } catch {
      throw node.error(error.reason)
    }
  }
}

extension PortSpec {
  /// Reads `{protocol, port, endPort}`.
  init(reading node: PolicyNode) throws(PolicyError) {
    let fields = try node.mapping(keys: ["protocol", "port", "endPort"])
    let names = IPProtocolName.allCases.map(\.rawValue).joined(separator: ", ")
    self.init(
      try fields["protocol"]?.parsed(IPProtocolName.init, else: "is not a protocol (\(names))")
        ?? .tcp,
      port: try fields["port"].map(Self.readPort),
      endPort: try fields["endPort"].map(Self.readPort))
  }

  private static func readPort(_ node: PolicyNode) throws(PolicyError) -> UInt16 {
    try node.parsed({ UInt16($0) }, else: "is not a port (1-65535)")
  }
}

/// A document with the file and position it was read from, for errors that span documents.
/// A document with where it came from, for error messages.
public struct LocatedDocument: Sendable {
  public let document: PolicyDocument
  /// The file (or other source) it was read from.
  public let source: String?
  /// Its position in the source, counted from 1.
  public let index: Int?

  /// An error about `field` of this document.
  public func error(field: String, value: String?, reason: String) -> PolicyError {
    PolicyError(
      source: source, document: index, policy: document.name, field: field, value: value,
      reason: reason)
  }
}
