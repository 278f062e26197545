import Foundation

/// A bounded FIFO between threads. `push` never blocks: when full it drops the
/// item and counts it, so a slow consumer cannot stall the ring buffer reader.
public final class BoundedQueue<Element: Sendable>: @unchecked Sendable {
  // Unchecked: every field is guarded by `condition`.
  private let condition = NSCondition()
  private var items: [Element] = []
  private var head = 0
  private var closed = false
  private var droppedCount: UInt64 = 0
  public let capacity: Int

  public init(capacity: Int) { self.capacity = capacity }

  /// Items dropped because the queue was full.
  public var dropped: UInt64 { condition.withLock { droppedCount } }

  /// Appends `item`; returns false (and counts a drop) when full or closed.
  @discardableResult
  public func push(_ item: Element) -> Bool {
    condition.withLock {
      guard !closed, items.count - head < capacity else {
        droppedCount += 1
        return false
      }
      items.append(item)
      condition.signal()
      return true
    }
  }

  /// Appends `items` in order with one wake-up. When full, the items `droppable` accepts are
  /// dropped and counted; the others are queued anyway (they are few and must not be lost).
  /// Once closed, everything is dropped.
  public func push(contentsOf items: [Element], droppable: (Element) -> Bool = { _ in true }) {
    guard !items.isEmpty else { return }
    condition.withLock {
      guard !closed else {
        droppedCount += UInt64(items.count)
        return
      }
      var room = max(0, capacity - (self.items.count - head))
      if room >= items.count {
        self.items.append(contentsOf: items)
      } else {
        for item in items {
          if room > 0 {
            self.items.append(item)
            room -= 1
          } else if droppable(item) {
            droppedCount += 1
          } else {
            self.items.append(item)
          }
        }
      }
      condition.signal()
    }
  }

  /// Takes everything queued, waiting up to `timeout` for the first item.
  /// Returns nil once the queue is closed and drained.
  public func popAll(timeout: TimeInterval) -> [Element]? {
    condition.withLock {
      if items.count == head && !closed {
        _ = condition.wait(until: Date().addingTimeInterval(timeout))
      }
      if items.count == head { return closed ? nil : [] }
      let batch = Array(items[head...])
      items.removeAll(keepingCapacity: true)
      head = 0
      return batch
    }
  }

  /// Wakes the consumer; pushes fail from now on.
  public func close() {
    condition.withLock {
      closed = true
      condition.broadcast()
    }
  }
}
