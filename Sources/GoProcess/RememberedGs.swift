import GoroutineModel

/// What the last snapshot made of the `g` at each position of `allgs`, in parallel arrays (so
/// that comparing a record costs no reference counting): the next snapshot reuses a goroutine
/// whole when its record reads the same, and its stack when the goroutine has not run since
/// (same goid and saved context, which includes `trackingSeq`). A position keeps its `g` for the
/// process's life (`allgs` only grows; dead `g`s are reused in place).
struct RememberedGs {
  var addresses: [UInt64] = []
  /// `DecodedG.none` where the position held nothing usable.
  var decoded: [DecodedG] = []
  var goroutines: [Goroutine] = []

  /// Stands in for a goroutine until its stack is walked, or where nothing is remembered.
  static let placeholder = Goroutine(
    goid: 0, status: .unknown, rawStatus: 0, waitReason: nil,
    creation: StackFrame(pc: 0, function: nil), start: StackFrame(pc: 0, function: nil))

  /// Exactly `count` positions, new ones empty.
  mutating func resize(to count: Int) {
    if addresses.count > count {
      addresses.removeLast(addresses.count - count)
      decoded.removeLast(decoded.count - count)
      goroutines.removeLast(goroutines.count - count)
    }
    let missing = count - addresses.count
    guard missing > 0 else { return }
    addresses.append(contentsOf: repeatElement(0, count: missing))
    decoded.append(contentsOf: repeatElement(.none, count: missing))
    goroutines.append(contentsOf: repeatElement(Self.placeholder, count: missing))
  }

  /// Forgets position `index` (dead, dropped or torn there).
  mutating func forget(_ index: Int) {
    if decoded[index].goid != 0 {
      decoded[index] = .none
      goroutines[index] = Self.placeholder
    }
  }

  /// What was remembered at `index` for the `g` at `address` with `goid`, if anything.
  func same(_ index: Int, address: UInt64, goid: Int64) -> Bool {
    addresses[index] == address && decoded[index].goid == goid && goid != 0
  }
}
