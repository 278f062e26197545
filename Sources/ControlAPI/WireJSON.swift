import FoundationEssentials

/// The JSON coding used on the wire and in the event log: camelCase keys in sorted, stable order.
public enum WireJSON {
  /// A compact encoder with sorted keys.
  public static func makeEncoder() -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return encoder
  }

  /// Encodes `value` as compact JSON bytes.
  public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
    Array(try makeEncoder().encode(value))
  }

  /// Encodes `value` as one NDJSON line, newline included.
  public static func encodeLine<T: Encodable>(_ value: T) throws -> [UInt8] {
    try encode(value) + [UInt8(ascii: "\n")]
  }

  /// Decodes a `T` from JSON bytes.
  public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
    try JSONDecoder().decode(type, from: Data(bytes))
  }
}
