import Glibc

/// One part of a `multipart/form-data` body (RFC 7578), as `curl -F name=@file` sends it.
public struct FormPart: Sendable, Equatable {
  /// The form field's name.
  public var name: String
  /// The file name the sender gave, if any.
  public var filename: String?
  /// The part's content, a slice of the whole body (no copy).
  public var content: ArraySlice<UInt8>

  public init(name: String, filename: String? = nil, content: ArraySlice<UInt8>) {
    self.name = name
    self.filename = filename
    self.content = content
  }
}

/// Reads and writes `multipart/form-data` bodies.
public enum MultipartForm {
  /// Why a body is not the form its `Content-Type` announced.
  public struct Malformed: Error, CustomStringConvertible {
    public let description: String
  }

  /// The boundary of a `multipart/form-data; boundary=...` content type; nil for any other type.
  public static func boundary(contentType: String?) -> String? {
    guard let contentType else { return nil }
    let fields = fieldsOf(contentType)
    guard let media = fields.first, media.lowercased() == "multipart/form-data" else { return nil }
    for field in fields.dropFirst() {
      guard let (name, value) = parameter(field), name == "boundary" else { continue }
      return value
    }
    return nil
  }

  /// A content type announcing `boundary`.
  public static func contentType(boundary: String) -> String {
    "multipart/form-data; boundary=\(boundary)"
  }

  /// The parts of `body`, in order. Text before the first boundary and after the last is ignored.
  public static func parts(of body: [UInt8], boundary: String) throws(Malformed) -> [FormPart] {
    guard !boundary.isEmpty, boundary.utf8.count <= 70 else {
      throw Malformed(description: "boundary must be 1 to 70 characters")
    }
    // Every delimiter but a body-leading one follows a line break.
    let delimiter = Array("\r\n--\(boundary)".utf8)
    let leading = delimiter.dropFirst(2)
    var offset: Int
    if body.starts(with: leading) {
      offset = leading.count
    } else if let first = find(delimiter, in: body, from: 0) {
      offset = first + delimiter.count
    } else {
      throw Malformed(description: "no boundary \"\(boundary)\" in the body")
    }
    var parts: [FormPart] = []
    while true {
      if body[offset...].starts(with: "--".utf8) { return parts }
      // Transport padding, then the line break that ends the delimiter line.
      while offset < body.count && (body[offset] == 32 || body[offset] == 9) { offset += 1 }
      guard body[offset...].starts(with: "\r\n".utf8) else {
        throw Malformed(description: "part \(parts.count + 1): no line break after the boundary")
      }
      offset += 2
      let (name, filename, contentStart) = try headers(
        of: body, from: offset, part: parts.count + 1)
      guard let end = find(delimiter, in: body, from: contentStart) else {
        throw Malformed(description: "part \(parts.count + 1) (\(name)) does not end")
      }
      parts.append(FormPart(name: name, filename: filename, content: body[contentStart..<end]))
      offset = end + delimiter.count
    }
  }

  /// What goes around the parts `named` in a body delimited by `boundary`: one more element than
  /// there are parts, part `i` going between elements `i` and `i + 1`. The contents are not
  /// needed, so files can be sent as they are.
  public static func framing(
    _ named: [(name: String, filename: String?)], boundary: String
  ) -> [[UInt8]] {
    var framing: [[UInt8]] = []
    var separator = ""
    for part in named {
      var head =
        "\(separator)--\(boundary)\r\nContent-Disposition: form-data; name=\(quoted(part.name))"
      if let filename = part.filename { head += "; filename=\(quoted(filename))" }
      framing.append(Array((head + "\r\n\r\n").utf8))
      separator = "\r\n"
    }
    framing.append(Array("\(separator)--\(boundary)--\r\n".utf8))
    return framing
  }

  /// A new random boundary: 128 random bits, so that it occurs in no content (as curl's).
  public static func randomBoundary() -> String {
    var generator = SystemRandomNumberGenerator()
    return "vigil-"
      + (0..<2).map { _ in
        let text = String(generator.next() as UInt64, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
      }.joined()
  }

  // MARK: Parsing

  /// The part's headers from `start`: its field name, file name and where its content begins.
  private static func headers(of body: [UInt8], from start: Int, part: Int) throws(Malformed)
    -> (name: String, filename: String?, contentStart: Int)
  {
    var name: String?
    var filename: String?
    var offset = start
    while true {
      guard let lineEnd = find(Array("\r\n".utf8), in: body, from: offset) else {
        throw Malformed(description: "part \(part): headers do not end")
      }
      defer { offset = lineEnd + 2 }
      if lineEnd == offset { break }
      guard let (field, value) = HTTPSyntax.headerField(Array(body[offset..<lineEnd])) else {
        throw Malformed(description: "part \(part): malformed header line")
      }
      guard field == "content-disposition" else { continue }
      let items = fieldsOf(value)
      guard items.first?.lowercased() == "form-data" else {
        throw Malformed(description: "part \(part): Content-Disposition is not form-data")
      }
      for item in items.dropFirst() {
        guard let (key, text) = parameter(item) else { continue }
        if key == "name" { name = text }
        if key == "filename" { filename = text }
      }
    }
    guard let name else {
      throw Malformed(description: "part \(part): no Content-Disposition with a name")
    }
    return (name, filename, offset)
  }

  /// The `;`-separated fields of a header value, trimmed; a `;` inside quotes separates nothing.
  private static func fieldsOf(_ value: String) -> [String] {
    var fields: [String] = []
    var field = ""
    var (quoted, escaped) = (false, false)
    for character in value {
      if character == ";" && !quoted {
        fields.append(trimmed(field[...]))
        field = ""
        continue
      }
      if quoted && !escaped && character == "\\" {
        escaped = true
      } else {
        if character == "\"" && !escaped { quoted.toggle() }
        escaped = false
      }
      field.append(character)
    }
    return fields + [trimmed(field[...])]
  }

  /// `key=value` or `key="quoted value"`, the key lowercased.
  private static func parameter(_ field: String) -> (String, String)? {
    guard let equals = field.firstIndex(of: "=") else { return nil }
    let key = trimmed(field[..<equals]).lowercased()
    let raw = trimmed(field[field.index(after: equals)...])
    guard raw.hasPrefix("\""), raw.count >= 2, raw.hasSuffix("\"") else { return (key, raw) }
    var value = ""
    var escaped = false
    for character in raw.dropFirst().dropLast() {
      if !escaped && character == "\\" {
        escaped = true
        continue
      }
      escaped = false
      value.append(character)
    }
    return (key, value)
  }

  private static func quoted(_ text: String) -> String {
    var result = "\""
    for character in text {
      if character == "\"" || character == "\\" { result.append("\\") }
      // A line break would end the header line: it cannot be carried.
      result.append(character == "\r" || character == "\n" ? " " : character)
    }
    return result + "\""
  }

  /// The first index of `needle` (not empty) in `haystack` at or after `start`: `memchr` finds
  /// candidates for its first byte, `memcmp` checks them.
  private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
    haystack.withUnsafeBytes { hay -> Int? in
      guard let base = hay.baseAddress else { return nil }
      var offset = start
      return needle.withUnsafeBytes { pin -> Int? in
        while offset + pin.count <= hay.count {
          guard
            let candidate = memchr(
              base + offset, Int32(pin[0]), hay.count - offset - pin.count + 1)
          else { return nil }
          let at = base.distance(to: UnsafeRawPointer(candidate))
          if memcmp(base + at, pin.baseAddress!, pin.count) == 0 { return at }
          offset = at + 1
        }
        return nil
      }
    }
  }

  /// `text` without leading and trailing spaces and tabs.
  private static func trimmed(_ text: Substring) -> String {
    String(
      text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
  }
}
