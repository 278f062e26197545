/// Little-endian reads from a byte array that return nil instead of trapping out of bounds.
extension [UInt8] {
  func le<T: FixedWidthInteger & UnsignedInteger>(_ offset: Int, as: T.Type = T.self) -> T? {
    guard offset >= 0, offset <= count - MemoryLayout<T>.size else { return nil }
    return withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
  }

  /// Whether the NUL-terminated string at `offset` is `string`, compared without decoding.
  func hasCString(_ string: [UInt8], at offset: Int) -> Bool {
    guard offset >= 0, offset < count - string.count, self[offset + string.count] == 0 else {
      return false
    }
    return self[offset..<offset + string.count].elementsEqual(string)
  }

  /// The NUL-terminated string at `offset`, at most `limit` bytes long.
  func cString(at offset: Int, limit: Int = 4096) -> String? {
    guard offset >= 0, offset < count else { return nil }
    let end = Swift.min(count, offset + limit)
    guard let nul = self[offset..<end].firstIndex(of: 0) else { return nil }
    return String(decoding: self[offset..<nul], as: UTF8.self)
  }
}

/// A bounds-checked forward reader over bytes, for varint-heavy formats (DWARF, build info).
struct ByteCursor {
  let bytes: [UInt8]
  var offset: Int
  /// Reads stop here, which may be before the end of `bytes` (a unit inside a section).
  var end: Int

  init(_ bytes: [UInt8], offset: Int = 0, end: Int? = nil) {
    (self.bytes, self.offset, self.end) = (
      bytes, offset, Swift.min(end ?? bytes.count, bytes.count)
    )
  }

  var isAtEnd: Bool { offset >= end }

  mutating func u8() throws(CursorError) -> UInt8 {
    guard offset >= 0, offset < end else { throw CursorError() }
    defer { offset += 1 }
    return bytes[offset]
  }

  mutating func le<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) throws(CursorError) -> T {
    guard offset <= end - MemoryLayout<T>.size, let value: T = bytes.le(offset) else {
      throw CursorError()
    }
    offset += MemoryLayout<T>.size
    return value
  }

  /// An unsigned integer of `size` bytes (1, 2, 4 or 8).
  mutating func unsigned(size: Int) throws(CursorError) -> UInt64 {
    switch size {
    case 1: UInt64(try u8())
    case 2: UInt64(try le(UInt16.self))
    case 4: UInt64(try le(UInt32.self))
    case 8: try le(UInt64.self)
    default: throw CursorError()
    }
  }

  mutating func skip(_ count: UInt64) throws(CursorError) {
    guard count <= UInt64(Swift.max(end - offset, 0)) else { throw CursorError() }
    offset += Int(count)
  }

  mutating func bytes(_ count: UInt64) throws(CursorError) -> ArraySlice<UInt8> {
    let start = offset
    try skip(count)
    return bytes[start..<offset]
  }

  /// Unsigned LEB128 (Go's uvarint); more than 64 significant bits is an error.
  mutating func uleb() throws(CursorError) -> UInt64 {
    var (result, shift): (UInt64, UInt64) = (0, 0)
    while true {
      let byte = try u8()
      guard shift < 64, shift < 63 || byte & 0x7e == 0 else { throw CursorError() }
      result |= UInt64(byte & 0x7f) << shift
      if byte & 0x80 == 0 { return result }
      shift += 7
    }
  }

  /// Signed LEB128.
  mutating func sleb() throws(CursorError) -> Int64 {
    var (result, shift): (Int64, Int64) = (0, 0)
    var byte: UInt8
    repeat {
      byte = try u8()
      guard shift < 64 else { throw CursorError() }
      result |= Int64(byte & 0x7f) << shift
      shift += 7
    } while byte & 0x80 != 0
    if shift < 64, byte & 0x40 != 0 { result |= -1 << shift }
    return result
  }

  mutating func cString() throws(CursorError) -> String {
    guard offset >= 0, offset < end, let nul = bytes[offset..<end].firstIndex(of: 0) else {
      throw CursorError()
    }
    defer { offset = nul + 1 }
    return String(decoding: bytes[offset..<nul], as: UTF8.self)
  }
}

/// A read past the end of a cursor's bytes, or an over-long varint.
struct CursorError: Error {}
