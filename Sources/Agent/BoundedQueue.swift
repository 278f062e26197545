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

  /// Appends `items` in order with one wake-up; what does not fit (or everything, when
  /// closed) is dropped and counted.
  public func push(contentsOf items: [Element]) {
    guard !items.isEmpty else { return }
    condition.withLock {
      let room = closed ? 0 : max(0, capacity - (self.items.count - head))
      self.items.append(contentsOf: items.prefix(room))
      droppedCount += UInt64(items.count - min(room, items.count))
      if room > 0 { condition.signal() }
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
