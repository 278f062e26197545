import CVigilABI

/// One generation of policy as the datapath loads it: address lines and their values, endpoint
/// defaults and what each counter counts. Equal inputs compile to equal (byte-identical) output.
public struct CompiledPolicy: Sendable, Equatable {
  /// Address blocks, sorted by endpoint direction, then in trie order; what `lines` flatten.
  public var blocks: [AddressBlock]
  /// The address lines and values the datapath searches.
  public var lines: AddressLines
  /// The defaults and address-line spans of managed endpoint directions, by array index
  /// `id << 1 | direction`, sorted.
  public var endpointPolicies: [(index: UInt32, value: vigil_endpoint_policy)]
  /// Every counter, by index: rule counters (policies by name; per policy `ingress`, `egress`,
  /// `ingressDeny`, `egressDeny` in order), then the default counters by endpoint index.
  public var counters: [CounterInfo]

  public static func == (left: CompiledPolicy, right: CompiledPolicy) -> Bool {
    left.counters == right.counters
      && left.blocks.elementsEqual(right.blocks) {
        $0.endpointIndex == $1.endpointIndex && $0.prefix == $1.prefix && $0.value == $1.value
      }
      && left.lines.boundaries.elementsEqual(right.lines.boundaries, by: sameBytes)
      && left.lines.values.elementsEqual(right.lines.values, by: sameBytes)
      && left.endpointPolicies.elementsEqual(right.endpointPolicies) {
        $0.index == $1.index && sameBytes($0.value, $1.value)
      }
  }

  /// The verdict exactly as the datapath reaches it: the interval of the endpoint direction's
  /// address line holding the address; any matching deny range of its value, else the first
  /// matching allow range; else the endpoint direction's default, or `.unmanaged` when it has
  /// none.
  public func evaluate(
    endpointID: UInt32, direction: PolicyDirection, address: IPAddress, protocol number: UInt8,
    port: UInt16
  ) -> Verdict {
    let index = endpointID << 1 | direction.abiValue
    guard let policy = endpointPolicies.first(where: { $0.index == index })?.value,
      policy.default_action != VIGIL_ACTION_NONE.rawValue
    else { return .unmanaged }
    func verdict(_ action: UInt8, _ counter: UInt32) -> Verdict {
      Verdict(
        action: action == VIGIL_ACTION_DENY.rawValue ? .deny : .allow,
        counter: counters[Int(counter)], audit: policy.audit != 0)
    }
    let value = lines.valueIndex(of: address, endpointIndex: index)
    let ranges =
      value == VIGIL_POLICY_NO_VALUE
      ? [] : lines.values[Int(value)].portRanges.filter { $0.matches(protocol: number, port: port) }
    let deny = UInt8(VIGIL_ACTION_DENY.rawValue)
    if let range = ranges.first(where: { $0.action == deny }) ?? ranges.first {
      return verdict(range.action, range.counter)
    }
    return verdict(policy.default_action, policy.default_counter)
  }
}
