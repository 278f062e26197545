/// Finds the bytes a JSON string cannot hold as they are — control characters, `"` and `\` —
/// eight bytes at a time, so long texts (policy files) are escaped and unescaped in runs.
enum JSONStringScan {
  /// The offset of the first byte from `start` on that is below 0x20, `"` or `\`;
  /// `bytes.count` when there is none.
  static func firstSpecial(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
    var index = start
    let raw = UnsafeRawBufferPointer(bytes)
    while index + 8 <= bytes.count {
      let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
      if hasSpecial(word) { break }
      index += 8
    }
    while index < bytes.count && !isSpecial(bytes[index]) { index += 1 }
    return index
  }

  /// Whether `byte` must be escaped in a JSON string.
  static func isSpecial(_ byte: UInt8) -> Bool {
    byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
  }

  /// Whether any byte of `word` is special (exact: no false positives or negatives).
  private static func hasSpecial(_ word: UInt64) -> Bool {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    func hasZero(_ value: UInt64) -> Bool { (value &- ones) & ~value & highs != 0 }
    let below0x20 = (word &- 0x20 &* ones) & ~word & highs != 0
    return below0x20 || hasZero(word ^ (0x22 &* ones)) || hasZero(word ^ (0x5C &* ones))
  }
}
