import BlockingModel
import ControlAPI
import Glibc

/// One stack of one process, symbolized, shared by every event with that stack.
final class RenderedStack: Sendable {

  /// Symbol names and frames, as events carry them.
  struct Rendering {
    /// Function names (or `module+0xoffset`), innermost first.
    var stack: [String]
    var frames: [BlockingEventJSON.FrameJSON]
  }

  let pid: Int32
  /// Return addresses, innermost first.
  let addresses: [UInt64]
  let rendering: Rendering

  init(pid: Int32, addresses: [UInt64], rendering: Rendering) {
    self.pid = pid
    self.addresses = addresses
    self.rendering = rendering
  }

}

/// The stacks the ring buffer reader has seen, by process and raw addresses, each with a
/// small id, so that a stack seen again (the common case: a thread blocks in the same place
/// over and over) costs a hash of its addresses read in place, a probe and a compare, and
/// allocates nothing. Only the reader thread touches it.
///
/// Ids count up from 0; when `capacity` ids have been given out, the next new stack starts
/// over from an empty table (`stack` says so), which is cheap and keeps the hot stacks of
/// the next moment. A process's stacks go when it execs or exits.
struct StackCache {
  /// What `stack` found.
  enum Lookup: Equatable {
    /// Seen before, with this id.
    case known(UInt32)
    /// New: it has this id; `restarted` when the ids given out before are void.
    case new(UInt32, restarted: Bool)

    var id: UInt32 {
      switch self {
      case .known(let id), .new(let id, _): id
      }
    }
  }

  private struct Slot {
    var hash: UInt64
    var pid: Int32
    var id: UInt32
    var addresses: [UInt64]
  }

  let capacity: Int
  private var slots: [Slot?]
  private var nextID: UInt32 = 0
  private var pidsCached: Set<Int32> = []

  init(capacity: Int = 16_384) {
    self.capacity = capacity
    var count = 2
    while count < 2 * capacity { count *= 2 }
    slots = Array(repeating: nil, count: count)
  }

  /// Looks up the stack of `addresses` in process `pid`.
  mutating func stack<Addresses: Collection<UInt64>>(pid: Int32, addresses: Addresses) -> Lookup {
    if let found = addresses.withContiguousStorageIfAvailable({ stack(pid: pid, frames: $0) }) {
      return found
    }
    return Array(addresses).withUnsafeBufferPointer { stack(pid: pid, frames: $0) }
  }

  private mutating func stack(pid: Int32, frames: UnsafeBufferPointer<UInt64>) -> Lookup {
    let hash = Self.hash(pid: pid, frames)
    let mask = slots.count - 1
    var index = Int(truncatingIfNeeded: hash) & mask
    while let slot = slots[index] {
      if slot.hash == hash, slot.pid == pid, Self.equal(slot.addresses, frames) {
        return .known(slot.id)
      }
      index = (index + 1) & mask
    }
    let restarted = nextID >= capacity
    if restarted {
      removeAll()
      nextID = 0
      index = Int(truncatingIfNeeded: hash) & mask
    }
    let id = nextID
    nextID += 1
    insert(Slot(hash: hash, pid: pid, id: id, addresses: Array(frames)))
    return .new(id, restarted: restarted)
  }

  /// Drops the stacks of process `pid` (its mappings changed or it is gone).
  mutating func forget(pid: Int32) {
    guard pidsCached.contains(pid) else { return }
    let kept = slots.compactMap { $0 }.filter { $0.pid != pid }
    removeAll()
    for slot in kept { insert(slot) }
  }

  private mutating func insert(_ slot: Slot) {
    let mask = slots.count - 1
    var index = Int(truncatingIfNeeded: slot.hash) & mask
    while slots[index] != nil { index = (index + 1) & mask }
    slots[index] = slot
    pidsCached.insert(slot.pid)
  }

  private mutating func removeAll() {
    for index in slots.indices { slots[index] = nil }
    pidsCached.removeAll(keepingCapacity: true)
  }

  private static func equal(_ addresses: [UInt64], _ frames: UnsafeBufferPointer<UInt64>) -> Bool {
    addresses.count == frames.count
      && (frames.isEmpty
        || addresses.withUnsafeBytes { memcmp($0.baseAddress!, frames.baseAddress!, $0.count) == 0 })
  }

  /// A 64-bit hash of the process and addresses (multiply-xorshift per frame).
  private static func hash(pid: Int32, _ frames: UnsafeBufferPointer<UInt64>) -> UInt64 {
    var hash =
      (UInt64(UInt32(bitPattern: pid)) << 8 | UInt64(frames.count)) &* 0x9E37_79B9_7F4A_7C15
    for address in frames {
      hash = (hash ^ address) &* 0xBF58_476D_1CE4_E5B9
      hash ^= hash >> 31
    }
    return hash
  }
}
