import BlockingModel
import ControlAPI
import Foundation

/// Fans blocking events out to `events` API clients and keeps the most recent ones.
///
/// Each subscriber has its own bounded queue: a slow client loses its own
/// events (counted), never anyone else's and never the log's.
public final class EventHub: Sendable {
  /// A client's filter: which events it wants.
  public struct Filter: Sendable {
    public var pid: Int32?
    public var kind: String?
    public var minDurationNanoseconds: UInt64

    public init(pid: Int32? = nil, kind: String? = nil, minDurationNanoseconds: UInt64 = 0) {
      self.pid = pid
      self.kind = kind
      self.minDurationNanoseconds = minDurationNanoseconds
    }

    func accepts(pid: Int32, kind: String, durationNs: UInt64) -> Bool {
      (self.pid == nil || pid == self.pid) && (self.kind == nil || kind == self.kind)
        && durationNs >= minDurationNanoseconds
    }
  }

  /// Events published together, as the hub keeps them: each event's record (plain bytes) and
  /// the index of its stack in `stacks`, and each event's JSON line when they were logged. An
  /// event is made into JSON only if someone reads it.
  struct Batch {
    /// One event: fixed size, nothing reference-counted.
    struct Entry {
      let info: BlockInfo
      let stackIndex: UInt32
      let wallClockOffset: Int64

      func accepted(by filter: Filter) -> Bool {
        filter.accepts(
          pid: info.pid, kind: info.kind.rawValue, durationNs: info.durationNanoseconds)
      }
    }

    private(set) var entries: [Entry] = []
    /// The stacks of the entries, each once.
    private(set) var stacks: [SharedStack] = []
    /// Each entry's line when the events were logged; empty otherwise.
    private(set) var lines: [String] = []

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    /// Adds the event of `info` with `stack`; `line` is its JSON line when already encoded
    /// (give it for every event of a batch or for none).
    mutating func append(
      _ info: BlockInfo, stack: SharedStack, wallClockOffset: Int64, line: String? = nil
    ) {
      entries.append(
        Entry(info: info, stackIndex: index(of: stack), wallClockOffset: wallClockOffset))
      if let line { lines.append(line) }
    }

    /// The JSON line of entry `index`.
    func line(_ index: Int) -> String {
      if !lines.isEmpty { return lines[index] }
      let entry = entries[index]
      let stack = stacks[Int(entry.stackIndex)]
      return EventFormatter().event(
        for: entry.info.episode(stack: stack.addresses), stack: stack.rendering,
        wallClockOffset: entry.wallClockOffset
      ).jsonLine
    }

    /// Empties the batch, keeping its storage.
    mutating func removeAll() {
      entries.removeAll(keepingCapacity: true)
      stacks.removeAll(keepingCapacity: true)
      lines.removeAll(keepingCapacity: true)
    }

    /// The index of `stack` in `stacks`, added if new. Events of a batch share few stacks,
    /// mostly one after another: the last is checked first, then the others.
    private mutating func index(of stack: SharedStack) -> UInt32 {
      if let last = stacks.indices.last, stacks[last] === stack { return UInt32(last) }
      if let found = stacks.firstIndex(where: { $0 === stack }) { return UInt32(found) }
      stacks.append(stack)
      return UInt32(stacks.count - 1)
    }
  }

  /// One client's stream.
  public final class Subscription: Sendable {
    let filter: Filter
    let queue: BoundedQueue<String>

    init(filter: Filter, capacity: Int) {
      self.filter = filter
      queue = BoundedQueue(capacity: capacity)
    }

    /// Waits up to `timeout` for lines (JSON, no newline); nil once the hub closed it.
    public func next(timeout: TimeInterval) -> [String]? { queue.popAll(timeout: timeout) }
  }

  private struct State {
    var subscribers: [ObjectIdentifier: Subscription] = [:]
    /// The recent events as published, batch by batch, oldest first: at least the last
    /// `recentCapacity` (whole batches are kept, so a batch moves in without a copy).
    var recentBatches: [Batch] = []
    var recentCount = 0
    var lostSubscribers: UInt64 = 0
  }

  private let state = LockedValue(State())
  private let recentCapacity: Int
  private let subscriberCapacity: Int

  public init(recentCapacity: Int = 1024, subscriberCapacity: Int = 8192) {
    self.recentCapacity = recentCapacity
    self.subscriberCapacity = subscriberCapacity
  }

  /// Events dropped because a subscriber's queue was full (including departed subscribers).
  public var lostSubscribers: UInt64 {
    state.withLock { state in
      state.lostSubscribers + state.subscribers.values.reduce(0) { $0 + $1.queue.dropped }
    }
  }

  /// Delivers events in order, under one lock. Takes the batch (no copy) and leaves `batch`
  /// empty, with the storage of a batch that left the recent ones when there is one, to be
  /// filled again.
  func publish(_ batch: inout Batch) {
    guard !batch.isEmpty else { return }
    state.withLock { state in
      for subscriber in state.subscribers.values {
        for index in batch.entries.indices
        where batch.entries[index].accepted(by: subscriber.filter) {
          subscriber.queue.push(batch.line(index))
        }
      }
      var published = Batch()
      swap(&published, &batch)
      state.recentCount += published.count
      state.recentBatches.append(published)
      while let oldest = state.recentBatches.first,
        state.recentCount - oldest.count >= recentCapacity
      {
        state.recentCount -= oldest.count
        state.recentBatches.removeFirst()
        if batch.entries.capacity == 0 {
          batch = oldest
          batch.removeAll()
        }
      }
    }
  }

  /// The buffered recent events that pass `filter`, oldest first, at most `limit`.
  public func recent(_ filter: Filter, limit: Int) -> [String] {
    // The batches (copied under the lock: their storage is shared, not copied) keep the
    // stacks alive while lines are made.
    let (batches, count) = state.withLock { ($0.recentBatches, $0.recentCount) }
    var skip = max(0, count - recentCapacity)
    var matching: [(batch: Int, entry: Int)] = []
    for (batchIndex, batch) in batches.enumerated() {
      for index in batch.entries.indices {
        if skip > 0 {
          skip -= 1
          continue
        }
        if batch.entries[index].accepted(by: filter) { matching.append((batchIndex, index)) }
      }
    }
    return matching.suffix(limit).map { batches[$0.batch].line($0.entry) }
  }

  /// Starts a stream of events passing `filter`.
  public func subscribe(_ filter: Filter) -> Subscription {
    let subscription = Subscription(filter: filter, capacity: subscriberCapacity)
    state.withLock { $0.subscribers[ObjectIdentifier(subscription)] = subscription }
    return subscription
  }

  /// Ends a stream.
  public func unsubscribe(_ subscription: Subscription) {
    subscription.queue.close()
    state.withLock { state in
      if state.subscribers.removeValue(forKey: ObjectIdentifier(subscription)) != nil {
        state.lostSubscribers += subscription.queue.dropped
      }
    }
  }

  /// Ends every stream (shutdown).
  public func closeAll() {
    let all = state.withLock { $0.subscribers.values }
    for subscription in all { unsubscribe(subscription) }
  }
}
