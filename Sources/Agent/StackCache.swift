import BlockingModel
import ControlAPI
import Glibc
import Symbolization

/// One stack of one process, shared by every event with it. Symbolized once: by the event
/// processor soon after it first appears (while the process still has its mappings), or by
/// whoever reads it first.
final class SharedStack: Sendable {
  /// Symbol names and frames, as events carry them.
  struct Rendering: Sendable {
    /// Function names (or `module+0xoffset`), innermost first.
    var stack: [String]
    var frames: [BlockingEventJSON.FrameJSON]
  }

  let pid: Int32
  /// Return addresses, innermost first.
  let addresses: [UInt64]
  private let symbolizer: Symbolizer?
  private let rendered: LockedValue<Rendering?>

  /// A stack symbolized by `symbolizer` when first needed.
  init(pid: Int32, addresses: [UInt64], symbolizer: Symbolizer) {
    self.pid = pid
    self.addresses = addresses
    self.symbolizer = symbolizer
    rendered = LockedValue(nil)
  }

  /// A stack already rendered.
  init(pid: Int32, addresses: [UInt64], rendering: Rendering) {
    self.pid = pid
    self.addresses = addresses
    symbolizer = nil
    rendered = LockedValue(rendering)
  }

  /// The symbolized stack, made on first use.
  var rendering: Rendering {
    rendered.withLock { rendered in
      if let rendered { return rendered }
      let frames =
        symbolizer?.symbolize(pid: pid, addresses: addresses, returnAddresses: true) ?? []
      let made = EventFormatter().render(frames)
      rendered = made
      return made
    }
  }
}

/// The stacks the ring buffer reader has seen, by process and raw addresses, so that a stack
/// seen again (the common case: a thread blocks in the same place over and over) costs a hash
/// of its addresses read in place, a probe and a compare, and allocates nothing.
///
/// An open-addressing table (linear probing, at most half full). Bounded: when full it starts
/// over empty, which is cheap and keeps the hot stacks of the next moment. A process's stacks
/// go when it execs or exits.
struct StackCache {
  let capacity: Int
  /// Slot hashes (never 0), 0 for an empty slot: probing reads only these.
  private var hashes: [UInt64]
  private var stacks: [SharedStack?]
  private var count = 0
  private var pidsCached: Set<Int32> = []

  init(capacity: Int = 16_384) {
    self.capacity = capacity
    var size = 2
    while size < 2 * capacity { size *= 2 }
    hashes = Array(repeating: 0, count: size)
    stacks = Array(repeating: nil, count: size)
  }

  /// The stack of `addresses` in process `pid`: the one seen before, or a new one made by
  /// `make` from the addresses (`isNew`).
  mutating func stack<Addresses: Collection<UInt64>>(
    pid: Int32, addresses: Addresses, make: (Int32, [UInt64]) -> SharedStack
  ) -> (stack: SharedStack, isNew: Bool) {
    if let found = addresses.withContiguousStorageIfAvailable({
      stack(pid: pid, frames: $0, make: make)
    }) {
      return found
    }
    return Array(addresses).withUnsafeBufferPointer { stack(pid: pid, frames: $0, make: make) }
  }

  private mutating func stack(
    pid: Int32, frames: UnsafeBufferPointer<UInt64>, make: (Int32, [UInt64]) -> SharedStack
  ) -> (stack: SharedStack, isNew: Bool) {
    let hash = Self.hash(pid: pid, frames)
    let mask = hashes.count - 1
    var index = Int(truncatingIfNeeded: hash) & mask
    while hashes[index] != 0 {
      if hashes[index] == hash, let candidate = stacks[index], candidate.pid == pid,
        Self.equal(candidate.addresses, frames)
      {
        return (candidate, false)
      }
      index = (index + 1) & mask
    }
    if count >= capacity { removeAll() }
    let stack = make(pid, Array(frames))
    insert(stack, hash: hash)
    return (stack, true)
  }

  /// Drops the stacks of process `pid` (its mappings changed or it is gone).
  mutating func forget(pid: Int32) {
    guard pidsCached.contains(pid) else { return }
    let kept = zip(hashes, stacks).compactMap { hash, stack in
      stack.flatMap { $0.pid == pid ? nil : (hash, $0) }
    }
    removeAll()
    for (hash, stack) in kept { insert(stack, hash: hash) }
  }

  private mutating func insert(_ stack: SharedStack, hash: UInt64) {
    let mask = hashes.count - 1
    var index = Int(truncatingIfNeeded: hash) & mask
    while hashes[index] != 0 { index = (index + 1) & mask }
    hashes[index] = hash
    stacks[index] = stack
    count += 1
    pidsCached.insert(stack.pid)
  }

  private mutating func removeAll() {
    for index in hashes.indices {
      hashes[index] = 0
      stacks[index] = nil
    }
    count = 0
    pidsCached.removeAll(keepingCapacity: true)
  }

  private static func equal(_ addresses: [UInt64], _ frames: UnsafeBufferPointer<UInt64>) -> Bool {
    addresses.count == frames.count
      && (frames.isEmpty
        || addresses.withUnsafeBytes { memcmp($0.baseAddress!, frames.baseAddress!, $0.count) == 0 })
  }

  /// A 64-bit hash of the process and addresses, never 0: a multiply per frame, independent
  /// of each other (no chain of dependent multiplies), then a final mix.
  private static func hash(pid: Int32, _ frames: UnsafeBufferPointer<UInt64>) -> UInt64 {
    var sum = UInt64(UInt32(bitPattern: pid)) << 8 | UInt64(frames.count)
    var key: UInt64 = 0x9E37_79B9_7F4A_7C15
    for address in frames {
      sum &+= (address ^ key) &* 0xBF58_476D_1CE4_E5B9
      key &+= 0x632B_E59B_D9B4_E019
    }
    sum ^= sum >> 31
    sum &*= 0x94D0_49BB_1331_11EB
    sum ^= sum >> 29
    return sum | 1
  }
}
