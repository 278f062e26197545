import BlockingModel
import ControlAPI

/// One stack of one process, shared by every event with that stack. The ring buffer reader
/// makes it with the raw addresses; the processor symbolizes it once, before it hands any
/// event carrying it to the hub.
final class RenderedStack: @unchecked Sendable {
  // Unchecked: `rendering` is written once, by the processor thread, before the first event
  // carrying this stack is published under the hub's lock; it is read by the processor
  // and, after that lock, by hub readers. The reader thread reads only the `let`s.

  /// Symbol names and frames, as events carry them.
  struct Rendering {
    /// Function names (or `module+0xoffset`), innermost first.
    var stack: [String]
    var frames: [BlockingEventJSON.FrameJSON]
  }

  let pid: Int32
  /// Return addresses, innermost first.
  let addresses: [UInt64]
  /// Nil until the processor has symbolized the stack.
  var rendering: Rendering?

  init(pid: Int32, addresses: [UInt64], rendering: Rendering? = nil) {
    self.pid = pid
    self.addresses = addresses
    self.rendering = rendering
  }
}

/// The stacks seen recently, by process and raw addresses, so that a stack seen again (the
/// common case: a thread blocks in the same place over and over) costs a hash of its addresses
/// read in place and one lookup, allocates nothing, and is symbolized only once.
///
/// Bounded: when full it starts over empty, which is cheap and keeps the hot stacks of the next
/// moment. A process's entries go when it execs or exits.
struct StackCache {
  private struct Key: Hashable {
    var pid: Int32
    var hash: UInt64
  }

  private var entries: [Key: RenderedStack] = [:]
  private var pidsCached: Set<Int32> = []
  let capacity: Int

  init(capacity: Int = 16_384) { self.capacity = capacity }

  /// The stack of `addresses` in process `pid`: the one seen before, or a new one (not
  /// symbolized yet).
  mutating func stack<Addresses: RandomAccessCollection<UInt64>>(
    pid: Int32, addresses: Addresses
  ) -> RenderedStack {
    let key = Key(pid: pid, hash: Self.hash(addresses))
    if let hit = entries[key], hit.addresses.elementsEqual(addresses) { return hit }
    if entries.count >= capacity {
      entries.removeAll(keepingCapacity: true)
      pidsCached.removeAll(keepingCapacity: true)
    }
    let stack = RenderedStack(pid: pid, addresses: Array(addresses))
    entries[key] = stack  // a (64-bit) hash collision replaces the other stack
    pidsCached.insert(pid)
    return stack
  }

  /// Drops the stacks of process `pid` (its mappings changed or it is gone).
  mutating func forget(pid: Int32) {
    guard pidsCached.remove(pid) != nil else { return }
    entries = entries.filter { $0.key.pid != pid }
  }

  /// A 64-bit hash of the addresses (multiply-xorshift per frame), cheaper than hashing an array.
  private static func hash<Addresses: Collection<UInt64>>(_ addresses: Addresses) -> UInt64 {
    var hash = UInt64(truncatingIfNeeded: addresses.count) &* 0x9E37_79B9_7F4A_7C15
    for address in addresses {
      hash = (hash ^ address) &* 0xBF58_476D_1CE4_E5B9
      hash ^= hash >> 31
    }
    return hash
  }
}
