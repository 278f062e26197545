/// JSON for policy texts, which run to megabytes: read byte by byte, several times faster than
/// Foundation's decoder.
public enum PolicyJSON {
  /// Reads a policy request: `{"sources": [{"source": ..., "yaml": ...}, ...]}` directly, and
  /// anything else (other keys, missing ones, bad JSON) with `WireJSON.decode`, which also
  /// gives its errors.
  public static func decodeRequest(_ json: [UInt8]) throws -> PolicyRequest {
    let fast = json.withUnsafeBufferPointer { bytes -> PolicyRequest? in
      var reader = Reader(bytes: bytes)
      return try? reader.request()
    }
    return try fast ?? WireJSON.decode(PolicyRequest.self, from: json)
  }

  /// A reader of the one shape; any surprise throws `Unexpected`.
  private struct Reader {
    struct Unexpected: Error {}

    let bytes: UnsafeBufferPointer<UInt8>
    var offset = 0

    mutating func request() throws(Unexpected) -> PolicyRequest {
      var sources: [PolicySource]?
      var more = try open(UInt8(ascii: "{"), closing: UInt8(ascii: "}"))
      while more {
        guard try key() == "sources", sources == nil else { throw Unexpected() }
        var items: [PolicySource] = []
        var moreItems = try open(UInt8(ascii: "["), closing: UInt8(ascii: "]"))
        while moreItems {
          items.append(try source())
          moreItems = try separator(closing: UInt8(ascii: "]"))
        }
        sources = items
        more = try separator(closing: UInt8(ascii: "}"))
      }
      try skipSpace()
      guard offset == bytes.count, let sources else { throw Unexpected() }
      return PolicyRequest(sources: sources)
    }

    private mutating func source() throws(Unexpected) -> PolicySource {
      var source: String?
      var yaml: String?
      var more = try open(UInt8(ascii: "{"), closing: UInt8(ascii: "}"))
      while more {
        switch try key() {
        case "source" where source == nil: source = try string()
        case "yaml" where yaml == nil: yaml = try string()
        default: throw Unexpected()
        }
        more = try separator(closing: UInt8(ascii: "}"))
      }
      guard let source, let yaml else { throw Unexpected() }
      return PolicySource(source: source, yaml: yaml)
    }

    /// Reads `opening`; false when `closing` follows at once (an empty collection, read).
    private mutating func open(_ opening: UInt8, closing: UInt8) throws(Unexpected) -> Bool {
      try expect(opening)
      guard try peek() == closing else { return true }
      offset += 1
      return false
    }

    /// A key and its `:`.
    private mutating func key() throws(Unexpected) -> String {
      let key = try string()
      try expect(UInt8(ascii: ":"))
      return key
    }

    /// True after a `,`, false after `closing`.
    private mutating func separator(closing: UInt8) throws(Unexpected) -> Bool {
      let next = try peek()
      offset += 1
      guard next == UInt8(ascii: ",") || next == closing else { throw Unexpected() }
      return next == UInt8(ascii: ",")
    }

    private mutating func string() throws(Unexpected) -> String {
      try expect(UInt8(ascii: "\""))
      var unescaped: [UInt8] = []
      var runStart = offset
      while true {
        offset = JSONStringScan.firstSpecial(in: bytes, from: offset)
        guard offset < bytes.count else { break }
        let byte = bytes[offset]
        guard byte >= 0x20 else { throw Unexpected() }
        if byte == UInt8(ascii: "\"") {
          let run = UnsafeBufferPointer(rebasing: bytes[runStart..<offset])
          offset += 1
          if unescaped.isEmpty {
            guard let text = String(validating: run, as: UTF8.self) else { throw Unexpected() }
            return text
          }
          unescaped.append(contentsOf: run)
          guard let text = String(validating: unescaped, as: UTF8.self) else {
            throw Unexpected()
          }
          return text
        }
        if unescaped.isEmpty { unescaped.reserveCapacity(bytes.count - runStart) }
        unescaped.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<offset]))
        guard offset + 1 < bytes.count else { throw Unexpected() }
        let code = bytes[offset + 1]
        offset += 2
        switch code {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): unescaped.append(code)
        case UInt8(ascii: "b"): unescaped.append(0x08)
        case UInt8(ascii: "f"): unescaped.append(0x0C)
        case UInt8(ascii: "n"): unescaped.append(0x0A)
        case UInt8(ascii: "r"): unescaped.append(0x0D)
        case UInt8(ascii: "t"): unescaped.append(0x09)
        case UInt8(ascii: "u"):
          var value = try hex4()
          if (0xD800..<0xDC00).contains(value) {
            guard offset + 1 < bytes.count, bytes[offset] == UInt8(ascii: "\\"),
              bytes[offset + 1] == UInt8(ascii: "u")
            else { throw Unexpected() }
            offset += 2
            let low = try hex4()
            guard (0xDC00..<0xE000).contains(low) else { throw Unexpected() }
            value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
          }
          guard let scalar = Unicode.Scalar(value) else { throw Unexpected() }
          unescaped += Array(String(Character(scalar)).utf8)
        default: throw Unexpected()
        }
        runStart = offset
      }
      throw Unexpected()
    }

    private mutating func hex4() throws(Unexpected) -> UInt32 {
      guard offset + 4 <= bytes.count else { throw Unexpected() }
      var value: UInt32 = 0
      for byte in bytes[offset..<offset + 4] {
        let digit: UInt8
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
        default: throw Unexpected()
        }
        value = value << 4 | UInt32(digit)
      }
      offset += 4
      return value
    }

    /// The next byte after white space, not consumed.
    private mutating func peek() throws(Unexpected) -> UInt8 {
      try skipSpace()
      guard offset < bytes.count else { throw Unexpected() }
      return bytes[offset]
    }

    private mutating func expect(_ byte: UInt8) throws(Unexpected) {
      guard try peek() == byte else { throw Unexpected() }
      offset += 1
    }

    private mutating func skipSpace() throws(Unexpected) {
      while offset < bytes.count {
        switch bytes[offset] {
        case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"):
          offset += 1
        default: return
        }
      }
    }
  }
}
