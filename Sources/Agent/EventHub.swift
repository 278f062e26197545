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

    func accepts(_ event: BlockingEventJSON) -> Bool {
      (pid == nil || event.pid == pid) && (kind == nil || event.kind == kind)
        && event.durationNs >= minDurationNanoseconds
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
    var recent: [(BlockingEventJSON, String?)] = []
    var recentStart = 0
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

  /// Delivers one event. `line` is its JSON line when already encoded; otherwise it is encoded
  /// only if a subscriber wants the event, or later if a client asks for recent events.
  public func publish(_ event: BlockingEventJSON, line: String? = nil) {
    state.withLock { state in
      if state.recent.count < recentCapacity {
        state.recent.append((event, line))
      } else {
        state.recent[state.recentStart] = (event, line)
        state.recentStart = (state.recentStart + 1) % recentCapacity
      }
      var encoded = line
      for subscriber in state.subscribers.values where subscriber.filter.accepts(event) {
        if encoded == nil { encoded = event.jsonLine }
        subscriber.queue.push(encoded!)
      }
    }
  }

  /// The buffered recent events that pass `filter`, oldest first, at most `limit`.
  public func recent(_ filter: Filter, limit: Int) -> [String] {
    let ordered = state.withLock { state in
      Array(state.recent[state.recentStart...] + state.recent[..<state.recentStart])
    }
    return ordered.filter { filter.accepts($0.0) }.suffix(limit).map { $0.1 ?? $0.0.jsonLine }
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
