/// Parsers for the human-readable quantities of the configuration file and command-line flags.
public enum Quantities {
  /// Nanoseconds in a duration such as `10ms`, `1.5s`, `500us` (or `500µs`) or `100ns`; a bare `0`
  /// is zero. Nil for anything else, including values that overflow or are not a whole number of
  /// nanoseconds.
  public static func nanoseconds(_ text: String) -> UInt64? {
    if text == "0" { return 0 }
    return scaled(
      text,
      units: [("ns", 1), ("us", 1_000), ("µs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000)])
  }

  /// Bytes in a size such as `8MiB`, `256KiB`, `1GiB`, `512B` or a plain byte count such as `4096`.
  /// Nil for anything else, including values that overflow or are not a whole number of bytes.
  public static func bytes(_ text: String) -> UInt64? {
    if let count = digits(Substring(text)) { return count }
    return scaled(text, units: [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("B", 1)])
  }

  /// Permission bits written in octal, such as `0660`, `660` or `0o660`; nil unless within `0o777`.
  public static func fileMode(_ text: String) -> UInt32? {
    let octal = text.hasPrefix("0o") ? text.dropFirst(2) : Substring(text)
    guard !octal.isEmpty, octal.count <= 4, octal.allSatisfy({ ("0"..."7").contains($0) }),
      let mode = UInt32(octal, radix: 8), mode <= 0o777
    else { return nil }
    return mode
  }

  /// A decimal number, fraction allowed, followed by the first matching unit, times that unit.
  private static func scaled(_ text: String, units: [(suffix: String, scale: UInt64)]) -> UInt64? {
    guard let unit = units.first(where: { text.hasSuffix($0.suffix) }) else { return nil }
    let number = text.dropLast(unit.suffix.count).trimmingSuffix(while: { $0 == " " })
    let parts = number.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    guard let whole = digits(parts[0]) else { return nil }
    let (wholeScaled, overflow) = whole.multipliedReportingOverflow(by: unit.scale)
    guard !overflow else { return nil }
    guard parts.count == 2 else { return wholeScaled }
    guard parts[1].count <= 9, let fraction = digits(parts[1]) else { return nil }
    var denominator: UInt64 = 1
    for _ in parts[1] { denominator *= 10 }
    let numerator = fraction * unit.scale
    guard numerator % denominator == 0 else { return nil }
    let (sum, sumOverflow) = wholeScaled.addingReportingOverflow(numerator / denominator)
    return sumOverflow ? nil : sum
  }

  /// The value of a non-empty run of ASCII digits.
  private static func digits(_ text: Substring) -> UInt64? {
    guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
    return UInt64(text)
  }
}

extension Substring {
  fileprivate func trimmingSuffix(while predicate: (Character) -> Bool) -> Substring {
    var end = endIndex
    while end > startIndex, predicate(self[index(before: end)]) { end = index(before: end) }
    return self[startIndex..<end]
  }
}
