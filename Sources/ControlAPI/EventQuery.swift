/// The kinds of blocking event.
public enum EventKind: String, Codable, Sendable, CaseIterable {
  /// The thread was switched out and waited to run again.
  case offcpu
  /// The thread waited in a futex call.
  case futex
}

/// The query of `GET /v1/events`.
public struct EventQuery: Sendable, Equatable {
  /// Keep the response open and stream new events until the client disconnects.
  public var follow: Bool
  /// Only events of this process.
  public var pid: Int32?
  /// Only events of this kind.
  public var kind: EventKind?
  /// Only events that blocked at least this long.
  public var minDurationNs: UInt64?
  /// At most this many events.
  public var limit: Int?

  /// A query; every filter defaults to off.
  public init(
    follow: Bool = false, pid: Int32? = nil, kind: EventKind? = nil, minDurationNs: UInt64? = nil,
    limit: Int? = nil
  ) {
    self.follow = follow
    self.pid = pid
    self.kind = kind
    self.minDurationNs = minDurationNs
    self.limit = limit
  }

  /// Parses a request's query; a 400 ``ErrorResponse`` naming the parameter on a bad or unknown one.
  public init(query: [String: String]) throws(ErrorResponse) {
    self.init()
    for (name, value) in query {
      switch name {
      case "follow":
        guard let flag = ["true": true, "1": true, "false": false, "0": false][value] else {
          throw Self.invalid(name, value, "expected true or false")
        }
        follow = flag
      case "pid":
        guard let number = Int32(value), number > 0 else {
          throw Self.invalid(name, value, "expected a positive process id")
        }
        pid = number
      case "kind":
        guard let parsed = EventKind(rawValue: value) else {
          throw Self.invalid(name, value, "expected offcpu or futex")
        }
        kind = parsed
      case "minDurationNs":
        guard let number = UInt64(value) else {
          throw Self.invalid(name, value, "expected a number of nanoseconds")
        }
        minDurationNs = number
      case "limit":
        guard let number = Int(value), number > 0 else {
          throw Self.invalid(name, value, "expected a positive count")
        }
        limit = number
      default:
        throw ErrorResponse(
          "unknown query parameter '\(name)' (known: follow, pid, kind, minDurationNs, limit)",
          field: name)
      }
    }
  }

  /// The request path with this query, e.g. `/v1/events?follow=true&kind=futex`.
  public var path: String {
    var items: [String] = []
    if follow { items.append("follow=true") }
    if let pid { items.append("pid=\(pid)") }
    if let kind { items.append("kind=\(kind.rawValue)") }
    if let minDurationNs { items.append("minDurationNs=\(minDurationNs)") }
    if let limit { items.append("limit=\(limit)") }
    return items.isEmpty ? APIPath.events : APIPath.events + "?" + items.joined(separator: "&")
  }

  /// Whether `event` passes the pid, kind and duration filters.
  public func matches(_ event: BlockingEventJSON) -> Bool {
    if let pid, event.pid != pid { return false }
    if let kind, event.kind != kind.rawValue { return false }
    if let minDurationNs, event.durationNs < minDurationNs { return false }
    return true
  }

  private static func invalid(_ name: String, _ value: String, _ expected: String) -> ErrorResponse
  {
    ErrorResponse("invalid \(name) '\(value)': \(expected)", field: name)
  }
}
