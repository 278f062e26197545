import CVigilABI

/// Views of the ABI structs the compiler emits.
extension vigil_policy_value {
  /// A value holding `ranges` (at most `VIGIL_POLICY_MAX_RANGES`).
  init(ranges: [vigil_port_range]) {
    self.init()
    count = UInt32(ranges.count)
    withUnsafeMutableBytes(of: &self.ranges) { buffer in
      ranges.withUnsafeBytes { buffer.copyMemory(from: $0) }
    }
  }

  /// The ranges used, in scan order.
  public var portRanges: [vigil_port_range] {
    withUnsafeBytes(of: ranges) {
      Array($0.bindMemory(to: vigil_port_range.self).prefix(Int(count)))
    }
  }
}

extension vigil_port_range {
  /// A range of `action` counted in `counter` (below `PolicyCompiler.maxCounters`); protocol 0 is
  /// any.
  init(
    protocol number: UInt8, action: vigil_policy_action, counter: UInt32, ports: ClosedRange<UInt16>
  ) {
    self.init(
      protocol: number,
      action_hi: UInt8(action.rawValue) | UInt8(truncatingIfNeeded: counter >> 16) << 2,
      counter_lo: UInt16(truncatingIfNeeded: counter), port_lo: ports.lowerBound,
      port_hi: ports.upperBound)
  }

  /// `VIGIL_ACTION_ALLOW` or `VIGIL_ACTION_DENY`.
  public var action: UInt8 { action_hi & 3 }

  /// The index of the rule's counter.
  public var counter: UInt32 { UInt32(action_hi >> 2) << 16 | UInt32(counter_lo) }

  /// Whether a packet of IP protocol `number` to `port` falls in this range.
  func matches(protocol number: UInt8, port: UInt16) -> Bool {
    (self.protocol == 0 || self.protocol == number) && port_lo <= port && port <= port_hi
  }

  /// Whether this range matches every packet `other` matches.
  func covers(_ other: vigil_port_range) -> Bool {
    (self.protocol == 0 || self.protocol == other.protocol) && port_lo <= other.port_lo
      && other.port_hi <= port_hi
  }
}

/// Whether two plain C values have the same bytes.
func sameBytes<T>(_ left: T, _ right: T) -> Bool {
  withUnsafeBytes(of: left) { left in withUnsafeBytes(of: right) { left.elementsEqual($0) } }
}
