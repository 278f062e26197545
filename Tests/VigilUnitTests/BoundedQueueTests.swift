import Foundation
import Testing

@testable import Agent

/// The bounded FIFO between the ring buffer reader and the processor.
@Suite struct BoundedQueueTests {
  @Test func pushThenPopAllIsFIFO() {
    let queue = BoundedQueue<Int>(capacity: 8)
    for value in 1...5 { #expect(queue.push(value)) }
    #expect(queue.popAll(timeout: 0) == [1, 2, 3, 4, 5])
    #expect(queue.dropped == 0)
  }

  @Test func popAllTakesEverythingQueued() {
    let queue = BoundedQueue<String>(capacity: 4)
    queue.push("a")
    queue.push("b")
    #expect(queue.popAll(timeout: 1) == ["a", "b"])
    queue.push("c")
    #expect(queue.popAll(timeout: 1) == ["c"])
    #expect(queue.popAll(timeout: 0) == [])
  }

  @Test func pushingManyKeepsWhatFitsAndCountsTheRest() {
    let queue = BoundedQueue<Int>(capacity: 5)
    var items: [Int] = []
    queue.push(taking: &items)
    items = [1, 2]
    queue.push(taking: &items)
    #expect(items.isEmpty)
    items = [3, 4, 5, 6, 7]
    queue.push(taking: &items)
    #expect(items.isEmpty)
    #expect(queue.dropped == 2)
    var batch = [99]
    #expect(queue.popAll(into: &batch, timeout: 0))
    #expect(batch == [1, 2, 3, 4, 5])
    #expect(queue.popAll(into: &batch, timeout: 0))
    #expect(batch == [])
    queue.close()
    items = [8]
    queue.push(taking: &items)
    #expect(queue.dropped == 3)
    #expect(!queue.popAll(into: &batch, timeout: 0))
  }

  /// Items that must not be lost (here the negative ones) are queued even when full, in order.
  @Test func itemsThatMustNotBeLostGoPastCapacity() {
    let queue = BoundedQueue<Int>(capacity: 3)
    var items = [1, 2, -1, 3, 4, -2, 5]
    queue.push(taking: &items) { $0 > 0 }
    #expect(queue.popAll(timeout: 0) == [1, 2, -1, -2])
    #expect(queue.dropped == 3)
  }

  @Test func fullQueueDropsAndCounts() {
    let queue = BoundedQueue<Int>(capacity: 3)
    #expect(queue.capacity == 3)
    #expect(queue.push(1))
    #expect(queue.push(2))
    #expect(queue.push(3))
    #expect(!queue.push(4))
    #expect(!queue.push(5))
    #expect(queue.dropped == 2)
    // The first items are kept, the late ones dropped.
    #expect(queue.popAll(timeout: 0) == [1, 2, 3])
    // Draining makes room again.
    #expect(queue.push(6))
    #expect(queue.popAll(timeout: 0) == [6])
    #expect(queue.dropped == 2)
  }

  @Test func zeroCapacityDropsEverything() {
    let queue = BoundedQueue<Int>(capacity: 0)
    #expect(!queue.push(1))
    #expect(queue.dropped == 1)
    #expect(queue.popAll(timeout: 0) == [])
  }

  @Test func popAllOnEmptyQueueWaitsForTheTimeout() {
    let queue = BoundedQueue<Int>(capacity: 1)
    let started = Date()
    #expect(queue.popAll(timeout: 0.2) == [])
    let waited = Date().timeIntervalSince(started)
    #expect(waited >= 0.15)
    #expect(waited < 5)
  }

  @Test func popAllWakesForAPush() {
    let queue = BoundedQueue<Int>(capacity: 4)
    let started = Date()
    let pusher = Thread {
      Thread.sleep(forTimeInterval: 0.05)
      queue.push(42)
    }
    pusher.start()
    #expect(queue.popAll(timeout: 10) == [42])
    #expect(Date().timeIntervalSince(started) < 5)
  }

  @Test func closeDrainsThenEnds() {
    let queue = BoundedQueue<Int>(capacity: 4)
    queue.push(1)
    queue.push(2)
    queue.close()
    #expect(queue.popAll(timeout: 0) == [1, 2])
    #expect(queue.popAll(timeout: 0) == nil)
    #expect(queue.popAll(timeout: 1) == nil)
  }

  @Test func pushAfterCloseFailsAndCounts() {
    let queue = BoundedQueue<Int>(capacity: 4)
    queue.close()
    #expect(!queue.push(1))
    #expect(queue.dropped == 1)
    #expect(queue.popAll(timeout: 0) == nil)
  }

  @Test func closeWakesAWaitingConsumer() {
    let queue = BoundedQueue<Int>(capacity: 4)
    let result = LockedValue<[Int]?>([0])
    let done = DispatchSemaphore(value: 0)
    let consumer = Thread {
      let batch = queue.popAll(timeout: 30)
      result.withLock { $0 = batch }
      done.signal()
    }
    let started = Date()
    consumer.start()
    Thread.sleep(forTimeInterval: 0.05)
    queue.close()
    #expect(done.wait(timeout: .now() + 10) == .success)
    #expect(Date().timeIntervalSince(started) < 10)
    #expect(result.withLock { $0 } == nil)
  }

  /// One producer thread, one consumer thread: with room for everything, every item arrives once,
  /// in order.
  @Test func producerAndConsumerLoseNothingUnderCapacity() {
    let count = 200_000
    let queue = BoundedQueue<Int>(capacity: count)
    let received = LockedValue<[Int]>([])
    let consumed = DispatchSemaphore(value: 0)
    let consumer = Thread {
      var all: [Int] = []
      all.reserveCapacity(count)
      while let batch = queue.popAll(timeout: 0.1) { all += batch }
      received.withLock { $0 = all }
      consumed.signal()
    }
    let producer = Thread {
      for value in 0..<count { queue.push(value) }
      queue.close()
    }
    consumer.start()
    producer.start()
    #expect(consumed.wait(timeout: .now() + 60) == .success)
    let all = received.withLock { $0 }
    #expect(all.count == count)
    #expect(all == Array(0..<count))
    #expect(queue.dropped == 0)
  }

  /// With a small queue some items may be dropped, but each is either delivered (in order) or
  /// counted.
  @Test func producerAndConsumerAccountForEveryItem() {
    let count = 100_000
    let queue = BoundedQueue<Int>(capacity: 64)
    let received = LockedValue<[Int]>([])
    let accepted = LockedValue(0)
    let consumed = DispatchSemaphore(value: 0)
    let consumer = Thread {
      var all: [Int] = []
      while let batch = queue.popAll(timeout: 0.1) { all += batch }
      received.withLock { $0 = all }
      consumed.signal()
    }
    let producer = Thread {
      var pushed = 0
      for value in 0..<count where queue.push(value) { pushed += 1 }
      accepted.withLock { $0 = pushed }
      queue.close()
    }
    consumer.start()
    producer.start()
    #expect(consumed.wait(timeout: .now() + 60) == .success)
    let all = received.withLock { $0 }
    #expect(all.count == accepted.withLock { $0 })
    #expect(UInt64(all.count) + queue.dropped == UInt64(count))
    #expect(zip(all, all.dropFirst()).allSatisfy { $0 < $1 })
  }
}
