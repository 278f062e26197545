import Foundation

/// A bounded FIFO between threads. `push` never blocks: when full it drops the
/// item and counts it, so a slow consumer cannot stall the ring buffer reader.
public final class BoundedQueue<Element: Sendable>: @unchecked Sendable {
  // Unchecked: every field is guarded by `condition`.
  private let condition = NSCondition()
  private var items: [Element] = []
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
      guard !closed, items.count < capacity else {
        droppedCount += 1
        return false
      }
      items.append(item)
      condition.signal()
      return true
    }
  }

  /// Takes `items` (leaving it empty) and appends them in order with one wake-up. When full,
  /// the items `droppable` accepts are dropped (handed to `dropped`) and counted; the others
  /// are queued anyway (they are few and must not be lost). Once closed, everything is
  /// dropped. Into an empty queue the storage of `items` moves as it is, no copy.
  public func push(
    taking items: inout [Element], droppable: (Element) -> Bool = { _ in true },
    dropped: (Element) -> Void = { _ in }
  ) {
    guard !items.isEmpty else { return }
    defer { items.removeAll(keepingCapacity: true) }
    condition.withLock {
      guard !closed else {
        droppedCount += UInt64(items.count)
        items.forEach(dropped)
        return
      }
      var room = max(0, capacity - self.items.count)
      if room >= items.count {
        if self.items.isEmpty {
          swap(&self.items, &items)
        } else {
          self.items.append(contentsOf: items)
        }
      } else {
        for item in items {
          if room > 0 {
            self.items.append(item)
            room -= 1
          } else if droppable(item) {
            droppedCount += 1
            dropped(item)
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
    var batch: [Element] = []
    return popAll(into: &batch, timeout: timeout) ? batch : nil
  }

  /// Takes everything queued into `batch` (emptied first), waiting up to `timeout` for the
  /// first item. The storages are swapped: no copy, and no allocation once both have grown.
  /// Returns false once the queue is closed and drained.
  public func popAll(into batch: inout [Element], timeout: TimeInterval) -> Bool {
    batch.removeAll(keepingCapacity: true)
    return condition.withLock {
      if items.isEmpty && !closed {
        _ = condition.wait(until: Date().addingTimeInterval(timeout))
      }
      if items.isEmpty { return !closed }
      swap(&items, &batch)
      return true
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
