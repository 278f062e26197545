/// RFC 3339 timestamps in UTC, e.g. `2026-11-27T05:09:01.123456789Z`.
public enum RFC3339 {
  /// Formats seconds since the Unix epoch plus nanoseconds, with `fractionDigits` (0...9) digits.
  public static func format(seconds: Int64, nanoseconds: UInt32 = 0, fractionDigits: Int = 9)
    -> String
  {
    let days = seconds.floorDivided(by: 86_400)
    let secondOfDay = Int(seconds - days * 86_400)
    let (year, month, day) = civilDate(daysSinceEpoch: days)
    // Written digit by digit: this runs once per event.
    var bytes = [UInt8](repeating: 0, count: 30)
    var length = 0
    func put(_ value: Int64, _ width: Int) {
      var value = value
      for index in stride(from: length + width - 1, through: length, by: -1) {
        bytes[index] = UInt8(ascii: "0") + UInt8(value % 10)
        value /= 10
      }
      length += width
    }
    func put(_ character: Unicode.Scalar) {
      bytes[length] = UInt8(ascii: character)
      length += 1
    }
    guard (0...9999).contains(year) else {
      var text =
        "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T"
        + "\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
      let digits = min(max(fractionDigits, 0), 9)
      if digits > 0 { text += "." + pad(Int64(nanoseconds), 9).prefix(digits) }
      return text + "Z"
    }
    put(Int64(year), 4)
    put("-")
    put(Int64(month), 2)
    put("-")
    put(Int64(day), 2)
    put("T")
    put(Int64(secondOfDay / 3600), 2)
    put(":")
    put(Int64(secondOfDay / 60 % 60), 2)
    put(":")
    put(Int64(secondOfDay % 60), 2)
    let digits = min(max(fractionDigits, 0), 9)
    if digits > 0 {
      put(".")
      var fraction = Int64(nanoseconds)
      for _ in digits..<9 { fraction /= 10 }
      put(fraction, digits)
    }
    put("Z")
    return String(decoding: bytes[..<length], as: UTF8.self)
  }

  /// Seconds since the Unix epoch and nanoseconds of `text`, or nil if it is not RFC 3339.
  public static func parse(_ text: String) -> (seconds: Int64, nanoseconds: UInt32)? {
    let bytes = Array(text.utf8)
    func number(_ start: Int, _ count: Int) -> Int64? {
      guard start + count <= bytes.count else { return nil }
      var value: Int64 = 0
      for byte in bytes[start..<start + count] {
        guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
        value = value * 10 + Int64(byte - UInt8(ascii: "0"))
      }
      return value
    }
    func byte(_ index: Int, in set: String) -> Bool {
      index < bytes.count && set.utf8.contains(bytes[index])
    }
    guard let year = number(0, 4), byte(4, in: "-"), let month = number(5, 2), byte(7, in: "-"),
      let day = number(8, 2), byte(10, in: "Tt "), let hour = number(11, 2), byte(13, in: ":"),
      let minute = number(14, 2), byte(16, in: ":"), let second = number(17, 2),
      (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
    else { return nil }
    var index = 19
    var nanoseconds: UInt32 = 0
    if byte(index, in: ".") {
      index += 1
      var digits = 0
      while index < bytes.count, let digit = number(index, 1) {
        if digits < 9 { nanoseconds = nanoseconds * 10 + UInt32(digit) }
        digits += 1
        index += 1
      }
      guard digits > 0 else { return nil }
      for _ in digits..<max(digits, 9) { nanoseconds *= 10 }
    }
    var offset: Int64 = 0
    if byte(index, in: "Zz"), index + 1 == bytes.count {
      offset = 0
    } else if byte(index, in: "+-"), index + 6 == bytes.count,
      let offsetHours = number(index + 1, 2),
      byte(index + 3, in: ":"), let offsetMinutes = number(index + 4, 2)
    {
      offset =
        (offsetHours * 3600 + offsetMinutes * 60) * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
    } else {
      return nil
    }
    let days = daysSinceEpoch(year: year, month: month, day: day)
    return (days * 86_400 + hour * 3600 + minute * 60 + second - offset, nanoseconds)
  }

  /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
  private static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
    let shiftedYear = month <= 2 ? year - 1 : year
    let era = shiftedYear.floorDivided(by: 400)
    let yearOfEra = shiftedYear - era * 400
    let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
  }

  /// The proleptic Gregorian date of a day since 1970-01-01 (H. Hinnant's `civil_from_days`).
  private static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
    let shifted = daysSinceEpoch + 719_468
    let era = shifted.floorDivided(by: 146_097)
    let dayOfEra = shifted - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthIndex = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
    let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
  }

  private static func pad<T: BinaryInteger>(_ value: T, _ width: Int) -> String {
    let digits = String(value)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
  }
}

extension Int64 {
  fileprivate func floorDivided(by divisor: Int64) -> Int64 {
    let quotient = self / divisor
    return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
  }
}
