/// A minimal protocol buffers encoder: varints, length-delimited fields and packed repeated
/// varints, which is all `profile.proto` needs.
struct ProtobufWriter {
  private(set) var bytes: [UInt8] = []

  mutating func varint(_ value: UInt64) {
    var value = value
    while value >= 0x80 {
      bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
      value >>= 7
    }
    bytes.append(UInt8(value))
  }

  private mutating func key(_ field: Int, wireType: UInt64) {
    varint(UInt64(field) << 3 | wireType)
  }

  /// A varint field; zero values are left out, as proto3 does.
  mutating func field(_ field: Int, _ value: UInt64) {
    guard value != 0 else { return }
    key(field, wireType: 0)
    varint(value)
  }

  /// A signed field encoded as `int64` (two's complement varint).
  mutating func field(_ field: Int, _ value: Int64) {
    self.field(field, UInt64(bitPattern: value))
  }

  mutating func field(_ field: Int, bytes value: [UInt8]) {
    key(field, wireType: 2)
    varint(UInt64(value.count))
    bytes.append(contentsOf: value)
  }

  mutating func field(_ field: Int, string value: String) {
    self.field(field, bytes: Array(value.utf8))
  }

  mutating func field(_ field: Int, message: (inout ProtobufWriter) -> Void) {
    var nested = ProtobufWriter()
    message(&nested)
    self.field(field, bytes: nested.bytes)
  }

  /// A packed repeated varint field.
  mutating func field(_ field: Int, packed values: [UInt64]) {
    guard !values.isEmpty else { return }
    var nested = ProtobufWriter()
    for value in values { nested.varint(value) }
    self.field(field, bytes: nested.bytes)
  }
}
