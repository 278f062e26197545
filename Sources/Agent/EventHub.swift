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

  /// An event as the hub keeps it: the record it is made from when first read (or its line,
  /// when it was logged and so already encoded). Small and flat, cheap to copy.
  struct Entry {
    let info: BlockInfo
    let stack: SharedStack
    let wallClockOffset: Int64
    /// The event's JSON line, when already encoded.
    let encoded: String?

    /// The event of `info` with `stack`; `encoded` is its line when already encoded, else
    /// the line is made (and the stack symbolized, if it is not yet) only if someone reads it.
    init(_ info: BlockInfo, stack: SharedStack, wallClockOffset: Int64, encoded: String? = nil) {
      self.info = info
      self.stack = stack
      self.wallClockOffset = wallClockOffset
      self.encoded = encoded
    }

    func accepted(by filter: Filter) -> Bool {
      filter.accepts(pid: info.pid, kind: info.kind.rawValue, durationNs: info.durationNanoseconds)
    }

    var line: String {
      if let encoded { return encoded }
      return EventFormatter().event(
        for: info.episode(stack: stack.addresses), stack: stack.rendering,
        wallClockOffset: wallClockOffset
      ).jsonLine
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
    var recentBatches: [[Entry]] = []
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

  /// Delivers events in order, under one lock. Takes the entries' storage (no copy) and
  /// leaves `entries` empty, with the storage of a batch that left the recent ones when
  /// there is one, to be filled again.
  func publish(_ entries: inout [Entry]) {
    guard !entries.isEmpty else { return }
    state.withLock { state in
      for subscriber in state.subscribers.values {
        for entry in entries where entry.accepted(by: subscriber.filter) {
          subscriber.queue.push(entry.line)
        }
      }
      var batch: [Entry] = []
      swap(&batch, &entries)
      state.recentCount += batch.count
      state.recentBatches.append(batch)
      while let oldest = state.recentBatches.first,
        state.recentCount - oldest.count >= recentCapacity
      {
        state.recentCount -= oldest.count
        state.recentBatches.removeFirst()
        if entries.capacity == 0 {
          entries = oldest
          entries.removeAll(keepingCapacity: true)
        }
      }
    }
  }

  /// The buffered recent events that pass `filter`, oldest first, at most `limit`.
  public func recent(_ filter: Filter, limit: Int) -> [String] {
    let ordered = state.withLock { state in
      Array(state.recentBatches.joined().suffix(recentCapacity))
    }
    return ordered.filter { $0.accepted(by: filter) }.suffix(limit).map(\.line)
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
