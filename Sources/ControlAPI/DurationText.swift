/// Durations written for people: `250ms`, `1.5s`, `500us`, `100ns`.
public enum DurationText {
  private static let units: [String: UInt64] = [
    "ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
  ]
  private static let displayUnits: [(suffix: String, nanoseconds: UInt64)] = [
    ("µs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
  ]

  /// Nanoseconds in `text`: a decimal number followed by `ns`, `us` (or `µs`), `ms` or `s`.
  public static func parse(_ text: String) throws(DurationParseError) -> UInt64 {
    let trimmed = trimmingWhitespace(text.lowercased()[...])
    let number = trimmed.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
    let suffix = trimmingWhitespace(trimmed.dropFirst(number.count))
    guard let unit = units[suffix] else {
      let reason = suffix.isEmpty ? "missing unit (ns, us, ms or s)" : "unknown unit '\(suffix)'"
      throw DurationParseError(text: text, reason: number.isEmpty ? "expected a number" : reason)
    }
    let parts = number.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count <= 2, parts.contains(where: { !$0.isEmpty }) else {
      throw DurationParseError(text: text, reason: "expected a number")
    }
    var fraction = parts.count == 2 ? String(parts[1]) : ""
    while fraction.hasSuffix("0") { fraction.removeLast() }
    guard fraction.count <= 9, unit % powerOfTen(fraction.count) == 0 else {
      throw DurationParseError(text: text, reason: "finer than a nanosecond")
    }
    let fractionNs = (UInt64(fraction) ?? 0) * (unit / powerOfTen(fraction.count))
    guard let whole = UInt64(parts[0].isEmpty ? "0" : parts[0]) else {
      throw DurationParseError(text: text, reason: "too large")
    }
    let (wholeNs, overflow) = whole.multipliedReportingOverflow(by: unit)
    let (total, carry) = wholeNs.addingReportingOverflow(fractionNs)
    guard !overflow, !carry else { throw DurationParseError(text: text, reason: "too large") }
    return total
  }

  /// `nanoseconds` with one decimal in the largest fitting unit: `850ns`, `12.5µs`, `201.3ms`, `2.0s`.
  public static func format(nanoseconds: UInt64) -> String {
    guard nanoseconds >= 1_000 else { return "\(nanoseconds)ns" }
    func tenths(_ unit: UInt64) -> UInt64 { (nanoseconds + unit / 20) / (unit / 10) }
    var index = 0
    while index < displayUnits.count - 1, tenths(displayUnits[index].nanoseconds) >= 10_000 {
      index += 1
    }
    let (suffix, unit) = displayUnits[index]
    return "\(tenths(unit) / 10).\(tenths(unit) % 10)\(suffix)"
  }

  private static func trimmingWhitespace(_ text: Substring) -> String {
    String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
  }

  private static func powerOfTen(_ exponent: Int) -> UInt64 {
    (0..<exponent).reduce(1) { product, _ in product * 10 }
  }
}

/// A duration that ``DurationText/parse(_:)`` rejected.
public struct DurationParseError: Error, Equatable, CustomStringConvertible {
  /// The text as given.
  public var text: String
  /// Why it was rejected.
  public var reason: String

  /// The text and the reason, for printing.
  public var description: String { "invalid duration '\(text)': \(reason)" }
}
