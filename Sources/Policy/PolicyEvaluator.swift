/// The reference semantics, evaluated straight from the documents: what the compiled policy must
/// agree with.
public enum PolicyEvaluator {
  /// The verdict for a packet of `endpoint` in `direction` with remote `address`, IP protocol
  /// `number` and destination `port`: the first matching deny rule (policies by name, rules in
  /// order), else the first matching allow rule, else the default — deny when some policy lists
  /// the direction in `policyTypes`, allow when policies only give it deny rules, `.none` when
  /// no policy manages it.
  public static func verdict(
    documents: [PolicyDocument], endpoint: EndpointRef, direction: PolicyDirection,
    address: IPAddress, protocol number: UInt8, port: UInt16
  ) -> Verdict {
    let documents = documents.filter { $0.endpoint == endpoint }.sorted { $0.name < $1.name }
    let listed = documents.contains { $0.policyTypes.contains(direction) }
    guard listed || documents.contains(where: { !$0.rules(direction, deny: true).isEmpty }) else {
      return .unmanaged
    }
    let audit = documents.contains { $0.mode == .audit }
    for deny in [true, false] {
      for document in documents where deny || document.policyTypes.contains(direction) {
        let rules = document.rules(direction, deny: deny)
        if let index = rules.firstIndex(where: {
          $0.matches(address: address, protocol: number, port: port)
        }) {
          return Verdict(
            action: deny ? .deny : .allow,
            counter: .rule(document, direction, deny: deny, index: index), audit: audit)
        }
      }
    }
    return Verdict(
      action: listed ? .deny : .allow, counter: .fallback(endpoint, direction), audit: audit)
  }
}
