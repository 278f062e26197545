import CVigilABI

/// An address block of one endpoint direction and what it allows and denies. Of the blocks
/// holding an address, the longest decides.
public struct AddressBlock: Sendable {
  /// The endpoint direction, `id << 1 | direction`.
  public var endpointIndex: UInt32
  public var prefix: IPPrefix
  /// What the block allows and denies: its index in the generation's values, or
  /// `VIGIL_POLICY_NO_VALUE` when nothing.
  public var value: UInt32
}

/// The address lines of a generation, as the datapath searches them: per endpoint direction,
/// sorted boundaries, each giving the value of the addresses from it up to the next one. They
/// flatten the longest-prefix match of the blocks, so an address costs one binary search.
public struct AddressLines: Sendable {
  /// Every endpoint direction's boundaries, one direction after the other.
  public private(set) var boundaries: [vigil_policy_boundary] = []
  /// The values boundaries refer to (blocks that allow or deny something).
  public private(set) var values: [vigil_policy_value] = []
  /// Per endpoint index, where its boundaries start and how many there are.
  public private(set) var spans: [UInt32: (first: UInt32, count: UInt32)] = [:]

  /// The lines of `blocks`, sorted by endpoint index, then in trie order (`IPPrefix.<`), whose
  /// values are `values`.
  init(blocks: [AddressBlock], values: [vigil_policy_value]) {
    self.values = values
    boundaries.reserveCapacity(2 * blocks.count)
    var start = 0
    while start < blocks.count {
      let index = blocks[start].endpointIndex
      var end = start
      while end < blocks.count, blocks[end].endpointIndex == index { end += 1 }
      let first = boundaries.count
      appendLine(blocks[start..<end])
      spans[index] = (UInt32(first), UInt32(boundaries.count - first))
      start = end
    }
  }

  /// The value index of `address` on the line of endpoint index `index`, exactly as the
  /// datapath's search finds it; `VIGIL_POLICY_NO_VALUE` when no block holds it.
  public func valueIndex(of address: IPAddress, endpointIndex index: UInt32) -> UInt32 {
    guard let span = spans[index] else { return VIGIL_POLICY_NO_VALUE }
    var low = Int(span.first)
    var high = Int(span.first + span.count)
    while low < high {
      let middle = low + (high - low) / 2
      if boundaries[middle].start <= address { low = middle + 1 } else { high = middle }
    }
    return low == Int(span.first) ? VIGIL_POLICY_NO_VALUE : boundaries[low - 1].value
  }

  /// Appends the boundaries of one endpoint direction's blocks, walking them in trie order with
  /// the stack of blocks still open: a block starts its value, and where it ends the value of
  /// the block around it (or none) resumes.
  private mutating func appendLine(_ blocks: ArraySlice<AddressBlock>) {
    let first = boundaries.count
    var open: [(last: IPAddress, value: UInt32)] = []
    func mark(_ start: IPAddress, _ value: UInt32) {
      // A later mark at the same address overrides: it is what holds from there on.
      if boundaries.count > first, boundaries[boundaries.count - 1].start == start {
        boundaries.removeLast()
      }
      let previous = boundaries.count > first ? boundaries[boundaries.count - 1].value : nil
      guard value != (previous ?? VIGIL_POLICY_NO_VALUE) else { return }
      boundaries.append(vigil_policy_boundary(start: start, value: value))
    }
    func close(before start: IPAddress?) {
      while let top = open.last, start.map({ top.last < $0 }) ?? true {
        open.removeLast()
        if let next = top.last.successor { mark(next, open.last?.value ?? VIGIL_POLICY_NO_VALUE) }
      }
    }
    for block in blocks {
      close(before: block.prefix.address)
      mark(block.prefix.address, block.value)
      open.append((block.prefix.lastAddress, block.value))
    }
    close(before: nil)
  }
}

extension vigil_policy_boundary {
  /// A boundary where `value` starts.
  init(start: IPAddress, value: UInt32) {
    self.init(addr_hi: start.high, addr_lo: start.low, value: value, _pad: 0)
  }

  /// The first address of the interval.
  public var start: IPAddress { IPAddress(high: addr_hi, low: addr_lo) }
}

extension IPAddress {
  /// The next address; nil after the last one.
  var successor: IPAddress? {
    if low != .max { return IPAddress(high: high, low: low + 1) }
    return high == .max ? nil : IPAddress(high: high + 1, low: 0)
  }
}
