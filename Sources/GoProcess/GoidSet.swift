/// A set of goids (positive integers) for one snapshot, sized once. The runtime hands out
/// goids nearly densely and `allgs` mostly in order, so a table indexed by the goid's low bits
/// is filled almost sequentially (cache-friendly, unlike a `Set<Int64>`'s random SipHash
/// slots). Probing is bounded: goids that collide too often (a hostile or torn pattern) go to
/// an ordinary set instead.
struct GoidSet {
  private var table: [Int64]
  private let bits: Int
  private var overflow = Set<Int64>()
  static let maxProbes = 32

  /// Room for `capacity` goids at a load factor of at most one half.
  init(capacity: Int) {
    var bits = 4
    while 1 << bits < 2 * max(capacity, 1) { bits += 1 }
    table = [Int64](repeating: 0, count: 1 << bits)
    self.bits = bits
  }

  private func home(_ goid: Int64) -> Int {
    let value = UInt64(bitPattern: goid)
    return Int(truncatingIfNeeded: value ^ (value >> UInt64(bits)))
  }

  /// Adds `goid` (> 0); false if it was already there.
  mutating func insert(_ goid: Int64) -> Bool {
    let mask = table.count - 1
    var index = home(goid) & mask
    for _ in 0..<Self.maxProbes {
      let found = table[index]
      if found == 0 {
        table[index] = goid
        return true
      }
      if found == goid { return false }
      index = (index + 1) & mask
    }
    return overflow.insert(goid).inserted
  }

  func contains(_ goid: Int64) -> Bool {
    let mask = table.count - 1
    var index = home(goid) & mask
    for _ in 0..<Self.maxProbes {
      let found = table[index]
      // Had it been inserted, it would be here (nothing is ever removed).
      if found == 0 { return false }
      if found == goid { return true }
      index = (index + 1) & mask
    }
    return overflow.contains(goid)
  }
}
