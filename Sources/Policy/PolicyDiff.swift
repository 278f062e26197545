/// The differences between two sets of policy documents, by name.
public enum PolicyDiff {
  /// The differences listed for one changed policy; the rest are counted in a last detail, so
  /// an apply that changes 10,000 rules answers in a few lines (and milliseconds).
  public static let maxDetails = 20

  /// What changed from `old` to `new`, sorted by policy name.
  public static func between(old: [PolicyDocument], new: [PolicyDocument]) -> [PolicyChange] {
    let before = Dictionary(old.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    let after = Dictionary(new.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    return Set(before.keys).union(after.keys).sorted().compactMap { name in
      switch (before[name], after[name]) {
      case (nil, let added?): PolicyChange(name: name, kind: .added, details: [added.summary])
      case (let removed?, nil): PolicyChange(name: name, kind: .removed, details: [removed.summary])
      case (let old?, let new?) where old != new:
        PolicyChange(name: name, kind: .changed, details: old.differences(to: new))
      default: nil
      }
    }
  }
}

/// One policy added, removed or changed.
public struct PolicyChange: Equatable, Sendable, CustomStringConvertible {
  /// How the policy changed.
  public enum Kind: String, Sendable {
    case added, removed, changed
  }

  /// The policy's name.
  public var name: String
  /// Added, removed or changed.
  public var kind: Kind
  /// A summary of an added or removed policy, or each difference of a changed one.
  public var details: [String]

  /// For example `changed "web": spec.mode: enforce → audit; spec.ingress[1]: added 10.0.0.0/8 on
  /// TCP/80`.
  public var description: String {
    "\(kind.rawValue) \"\(name)\": " + details.joined(separator: "; ")
  }
}

extension PolicyDocument {
  /// For example `eth0@web, enforce, Ingress+Egress, 2 ingress rules, 1 egressDeny rule`.
  public var summary: String {
    let types =
      policyTypes.isEmpty
      ? "no policyTypes" : policyTypes.sorted().map(\.rawValue).joined(separator: "+")
    let counts = Self.ruleLists.compactMap { list -> String? in
      let count = rules(list.direction, deny: list.deny).count
      guard count > 0 else { return nil }
      return
        "\(count) \(Self.ruleKey(list.direction, deny: list.deny)) rule\(count == 1 ? "" : "s")"
    }
    return ([endpoint.description, mode.rawValue, types] + counts).joined(separator: ", ")
  }

  /// Each field or rule that differs from `new`, as `field: old → new`; after
  /// `PolicyDiff.maxDetails` of them, one `… and N more differences`.
  func differences(to new: PolicyDocument) -> [String] {
    var details: [String] = []
    var more = 0
    /// Lists `detail`, or counts it once the list is full.
    func note(_ detail: @autoclosure () -> String) {
      if details.count < PolicyDiff.maxDetails { details.append(detail()) } else { more += 1 }
    }
    /// Notes `field` when its text differs.
    func compare(_ field: String, _ old: String, _ new: String) {
      if old != new { note("\(field): \(old) → \(new)") }
    }
    compare("spec.endpoint", endpoint.description, new.endpoint.description)
    compare("spec.mode", mode.rawValue, new.mode.rawValue)
    compare(
      "spec.policyTypes", "[\(policyTypes.sorted().map(\.rawValue).joined(separator: ", "))]",
      "[\(new.policyTypes.sorted().map(\.rawValue).joined(separator: ", "))]")
    for (direction, deny) in Self.ruleLists {
      let (old, new) = (rules(direction, deny: deny), new.rules(direction, deny: deny))
      let key = Self.ruleKey(direction, deny: deny)
      for index in 0..<max(old.count, new.count) {
        switch (index < old.count ? old[index] : nil, index < new.count ? new[index] : nil) {
        case (nil, let added?): note("spec.\(key)[\(index)]: added \(added)")
        case (let removed?, nil): note("spec.\(key)[\(index)]: removed \(removed)")
        case (let before?, let after?) where before != after:
          note("spec.\(key)[\(index)]: \(before) → \(after)")
        default: break
        }
      }
    }
    if more > 0 { details.append("… and \(more) more difference\(more == 1 ? "" : "s")") }
    return details
  }
}
