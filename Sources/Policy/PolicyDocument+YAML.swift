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
    let fields = try root.mapping(keys: Self.documentKeys)
    try fields.required("apiVersion", hint: Self.apiVersion) { node throws(PolicyError) in
      guard try node.string() == Self.apiVersion else {
        throw node.error("is not supported (expected \(Self.apiVersion))")
      }
    }
    try fields.required("kind", hint: Self.kind) { node throws(PolicyError) in
      guard try node.string() == Self.kind else {
        throw node.error("is not supported (expected \(Self.kind))")
      }
    }
    let name = try fields.required("metadata") { node throws(PolicyError) in
      try node.mapping(keys: ["name"]).required("name") { name throws(PolicyError) in
        try name.string()
      }
    }
    let spec = try fields.required("spec") { node throws(PolicyError) in
      try node.mapping(keys: Self.specKeys)
    }
    func read(_ spec: PolicyFields) throws(PolicyError) -> PolicyDocument {
      let endpoint = try spec.required("endpoint", hint: "interface or cgroup") {
        node throws(PolicyError) in try EndpointRef(reading: node)
      }
      let mode = try spec.read("mode") { node throws(PolicyError) in
        try node.parsed(PolicyMode.init, else: "is not a mode (enforce or audit)")
      }
      func rules(_ direction: PolicyDirection, deny: Bool) throws(PolicyError) -> [PolicyRule] {
        let peerKey = direction == .ingress ? "from" : "to"
        return try spec.read(Self.ruleKey(direction, deny: deny)) { node throws(PolicyError) in
          try node.items { item throws(PolicyError) in
            try PolicyRule(reading: item, peerKey: peerKey)
          }
        } ?? []
      }
      return PolicyDocument(
        name: name, endpoint: endpoint, mode: mode ?? .enforce,
        policyTypes: try spec.read("policyTypes") { node throws(PolicyError) in
          try node.policyTypes()
        },
        ingress: try rules(.ingress, deny: false), egress: try rules(.egress, deny: false),
        ingressDeny: try rules(.ingress, deny: true), egressDeny: try rules(.egress, deny: true))
    }
    do {
      self = try read(spec)
    } catch {
      throw error.within("spec")
    }
  }

  private static let documentKeys = ["apiVersion", "kind", "metadata", "spec"]
  private static let specKeys = [
    "endpoint", "mode", "policyTypes", "ingress", "egress", "ingressDeny", "egressDeny",
  ]
}

extension PolicyNode {
  /// Reads a list of distinct directions.
  fileprivate func policyTypes() throws(PolicyError) -> Set<PolicyDirection> {
    var types: Set<PolicyDirection> = []
    for (index, item) in try items({ $0 }).enumerated() {
      do throws(PolicyError) {
        let direction = try item.parsed(
          PolicyDirection.init, else: "is not a policy type (Ingress or Egress)")
        guard types.insert(direction).inserted else { throw item.error("is listed twice") }
      } catch {
        throw error.within("[\(index)]")
      }
    }
    return types
  }
}

extension EndpointRef {
  private static let keys = ["interface", "netns", "cgroup"]

  /// Reads `{interface, netns}` or `{cgroup}`.
  init(reading node: PolicyNode) throws(PolicyError) {
    let fields = try node.mapping(keys: Self.keys)
    let string = { (node: PolicyNode) throws(PolicyError) in try node.string() }
    switch (fields.contains("interface"), fields.contains("cgroup")) {
    case (true, false):
      self = .interface(
        name: try fields.read("interface", nulls: true, string)!,
        netns: try fields.read("netns", nulls: true, string))
    case (false, true):
      if fields.contains("netns") {
        throw PolicyError(field: "netns", reason: "only applies to an interface endpoint")
      }
      self = .cgroup(path: try fields.read("cgroup", nulls: true, string)!)
    case (true, true):
      throw node.error("sets both interface and cgroup (choose one)")
    case (false, false):
      throw node.error("needs interface or cgroup")
    }
  }
}

extension PolicyRule {
  private static let ingressKeys = ["from", "ports"]
  private static let egressKeys = ["to", "ports"]

  /// Reads `{from or to: [{ipBlock}], ports: [...]}`; `peerKey` is `from` or `to`.
  init(reading node: PolicyNode, peerKey: String) throws(PolicyError) {
    let fields = try node.mapping(keys: peerKey == "from" ? Self.ingressKeys : Self.egressKeys)
    let peers = try fields.read(peerKey) { node throws(PolicyError) in
      try node.items { item throws(PolicyError) in
        try item.mapping(keys: ["ipBlock"]).required("ipBlock") { block throws(PolicyError) in
          try IPBlock(reading: block)
        }
      }
    }
    let ports = try fields.read("ports") { node throws(PolicyError) in
      try node.items(PortSpec.init(reading:))
    }
    self.init(peers: peers ?? [], ports: ports ?? [])
  }
}

extension IPBlock {
  private static let keys = ["cidr", "except"]

  /// Reads `{cidr, except}`.
  init(reading node: PolicyNode) throws(PolicyError) {
    let fields = try node.mapping(keys: Self.keys)
    self.init(
      cidr: try fields.required("cidr", IPPrefix.init(reading:)),
      except: try fields.read("except") { node throws(PolicyError) in
        try node.items(IPPrefix.init(reading:))
      } ?? [])
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
  private static let keys = ["protocol", "port", "endPort"]

  /// Reads `{protocol, port, endPort}`.
  init(reading node: PolicyNode) throws(PolicyError) {
    let fields = try node.mapping(keys: Self.keys)
    self.init(
      try fields.read("protocol") { node throws(PolicyError) in
        try node.parsed(
          IPProtocolName.init,
          else:
            "is not a protocol (\(IPProtocolName.allCases.map(\.rawValue).joined(separator: ", ")))"
        )
      } ?? .tcp,
      port: try fields.read("port", Self.readPort),
      endPort: try fields.read("endPort", Self.readPort))
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
