import ControlAPI
import Symbolization

/// Symbolized and rendered stacks by process and raw addresses, so that a stack seen again
/// (the common case: a thread blocks in the same place over and over) costs one lookup instead
/// of symbolizing and formatting every frame.
///
/// Bounded: when full it starts over empty, which is cheap and keeps the hot stacks of the next
/// moment. A process's entries go when it execs or exits.
struct StackCache {
  /// A stack as events carry it.
  struct Rendered {
    var stack: [String]
    var frames: [BlockingEventJSON.FrameJSON]
  }

  private struct Key: Hashable {
    var pid: Int32
    var addresses: [UInt64]
  }

  private var entries: [Key: Rendered] = [:]
  private var pidsCached: Set<Int32> = []
  let capacity: Int

  init(capacity: Int = 16_384) { self.capacity = capacity }

  /// The rendered stack of `addresses` in process `pid`, made by `render` on a miss.
  mutating func rendered(pid: Int32, addresses: [UInt64], render: () -> Rendered) -> Rendered {
    let key = Key(pid: pid, addresses: addresses)
    if let hit = entries[key] { return hit }
    if entries.count >= capacity {
      entries.removeAll(keepingCapacity: true)
      pidsCached.removeAll(keepingCapacity: true)
    }
    let value = render()
    entries[key] = value
    pidsCached.insert(pid)
    return value
  }

  /// Drops the stacks of process `pid` (its mappings changed or it is gone).
  mutating func forget(pid: Int32) {
    guard pidsCached.remove(pid) != nil else { return }
    entries = entries.filter { $0.key.pid != pid }
  }
}
