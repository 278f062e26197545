extension PolicyDocument {
  /// Checks what the types cannot: names, endpoint paths, `except` blocks, ports, and that allow
  /// rules only appear in directions listed in `policyTypes` (elsewhere they would never apply).
  public func validate() throws(PolicyError) {
    do {
      try validateFields()
    } catch {
      throw error.located(source: nil, document: nil, policy: name)
    }
  }

  /// Checks a whole set of documents: unique names, and one mode per endpoint.
  public static func validate(_ documents: [PolicyDocument]) throws(PolicyError) {
    try validate(documents.map { LocatedDocument(document: $0, source: nil, index: nil) })
  }

  static func validate(_ documents: [LocatedDocument]) throws(PolicyError) {
    var byName: [String: LocatedDocument] = [:]
    var byEndpoint: [EndpointRef: LocatedDocument] = [:]
    for located in documents {
      let document = located.document
      func fail(_ field: String, _ value: String, _ reason: String) -> PolicyError {
        PolicyError(
          source: located.source, document: located.index, policy: document.name, field: field,
          value: value, reason: reason)
      }
      if let first = byName[document.name] {
        throw fail("metadata.name", document.name, "is also the name of \(first.position)")
      }
      byName[document.name] = located
      if let first = byEndpoint[document.endpoint], first.document.mode != document.mode {
        throw fail(
          "spec.mode", document.mode.rawValue,
          "differs from mode \(first.document.mode.rawValue) of policy \"\(first.document.name)\" "
            + "(\(first.position)) for endpoint \(document.endpoint); all policies of an endpoint "
            + "share one mode")
      }
      byEndpoint[document.endpoint] = byEndpoint[document.endpoint] ?? located
    }
  }

  private func validateFields() throws(PolicyError) {
    try Self.validateName(name)
    try endpoint.validate(field: "spec.endpoint")
    for (direction, deny) in Self.ruleLists {
      let key = Self.ruleKey(direction, deny: deny)
      let rules = rules(direction, deny: deny)
      if !deny && !rules.isEmpty && !policyTypes.contains(direction) {
        throw PolicyError(
          field: "spec.\(key)",
          reason: "has rules but spec.policyTypes does not list \(direction.rawValue), "
            + "so they would never apply")
      }
      for (index, rule) in rules.enumerated() {
        try rule.validate(
          field: "spec.\(key)[\(index)]", peerKey: direction == .ingress ? "from" : "to")
      }
    }
  }

  private static func validateName(_ name: String) throws(PolicyError) {
    func isAlphanumeric(_ byte: UInt8) -> Bool {
      (0x30...0x39).contains(byte) || (0x61...0x7a).contains(byte | 0x20)
    }
    let bytes = Array(name.utf8)
    guard let first = bytes.first, isAlphanumeric(first), bytes.count <= 253,
      bytes.allSatisfy({ isAlphanumeric($0) || "-_.".utf8.contains($0) })
    else {
      throw PolicyError(
        field: "metadata.name", value: name,
        reason: "is not a valid name (up to 253 letters, digits, '-', '_' and '.', "
          + "starting with a letter or digit)")
    }
  }
}

extension LocatedDocument {
  /// `document 2 of a.yaml`, or `another document` when it did not come from a file.
  var position: String {
    guard let source, let index else { return "another document" }
    return "document \(index) of \(source)"
  }
}

extension EndpointRef {
  fileprivate func validate(field: String) throws(PolicyError) {
    switch self {
    case .interface(let name, let netns):
      if name.isEmpty {
        throw PolicyError(field: "\(field).interface", reason: "must not be empty")
      }
      if name.utf8.count > 15 || name.contains("/") || name.contains(where: \.isWhitespace) {
        throw PolicyError(
          field: "\(field).interface", value: name,
          reason: "is not an interface name (at most 15 characters, no '/' or spaces)")
      }
      if let netns,
        netns.isEmpty
          || (!netns.hasPrefix("/") && (netns.contains("/") || netns == "." || netns == ".."))
      {
        throw PolicyError(
          field: "\(field).netns", value: netns,
          reason: "is neither a name under /var/run/netns nor an absolute path")
      }
    case .cgroup(let path):
      if !path.hasPrefix("/") {
        throw PolicyError(field: "\(field).cgroup", value: path, reason: "is not an absolute path")
      }
    }
  }
}

extension PolicyRule {
  /// `field` is only built for an error, as validation runs on every compile.
  fileprivate func validate(field: @autoclosure () -> String, peerKey: String) throws(PolicyError) {
    for (index, peer) in peers.enumerated() {
      for (exceptIndex, except) in peer.except.enumerated() {
        func exceptField() -> String {
          "\(field()).\(peerKey)[\(index)].ipBlock.except[\(exceptIndex)]"
        }
        if except.isIPv4 != peer.cidr.isIPv4 {
          throw PolicyError(
            field: exceptField(), value: except.description,
            reason: "is \(except.isIPv4 ? "IPv4" : "IPv6") but cidr \(peer.cidr) is "
              + (peer.cidr.isIPv4 ? "IPv4" : "IPv6"))
        }
        guard peer.cidr.contains(except.address), except.length > peer.cidr.length else {
          throw PolicyError(
            field: exceptField(), value: except.description,
            reason: "is not strictly inside cidr \(peer.cidr)")
        }
      }
    }
    for (index, port) in ports.enumerated() {
      try port.validate(field: "\(field()).ports[\(index)]")
    }
  }
}

extension PortSpec {
  fileprivate func validate(field: @autoclosure () -> String) throws(PolicyError) {
    if !ipProtocol.hasPorts, let given = port ?? endPort {
      throw PolicyError(
        field: "\(field()).\(port == nil ? "endPort" : "port")", value: String(given),
        reason: "is not allowed with protocol \(ipProtocol.rawValue) (it has no ports)")
    }
    if port == 0 || endPort == 0 {
      let key = port == 0 ? "port" : "endPort"
      throw PolicyError(field: "\(field()).\(key)", value: "0", reason: "is not a port (1-65535)")
    }
    guard let endPort else { return }
    guard let port else {
      throw PolicyError(field: "\(field()).endPort", value: String(endPort), reason: "needs port")
    }
    if endPort < port {
      throw PolicyError(
        field: "\(field()).endPort", value: String(endPort), reason: "is less than port \(port)")
    }
  }
}
