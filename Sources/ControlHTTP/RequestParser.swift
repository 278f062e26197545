/// Reads and validates an HTTP/1.x request head and body from a connection.
enum RequestParser {
  /// The request line and headers.
  struct Head: Equatable {
    var method: String
    var path: String
    var query: [String: String]
    var version: String
    var headers: [String: String]
  }

  /// A request the server refuses, with the status and message to answer.
  struct Rejection: Error, Equatable {
    var status: Int
    var message: String
  }

  static let maxHeadBytes = 16 * 1024
  /// The default largest request body a server accepts.
  static let defaultMaxBodyBytes = 1024 * 1024

  /// The next request head, or nil if the client closed before sending anything.
  static func readHead(from reader: inout ByteReader) throws -> Head? {
    var budget = maxHeadBytes
    func nextLine() throws -> [UInt8]? {
      do {
        guard let line = try reader.readLine(maxLength: budget) else { return nil }
        budget -= line.count + 2
        return line
      } catch ByteReader.Failure.lineTooLong {
        throw Rejection(status: 431, message: "request head larger than \(maxHeadBytes) bytes")
      }
    }
    guard var requestLine = try nextLine() else { return nil }
    if requestLine.isEmpty {
      guard let next = try nextLine() else { return nil }
      requestLine = next
    }
    var head = try parseRequestLine(requestLine)
    while let line = try nextLine(), !line.isEmpty {
      guard let (name, value) = HTTPSyntax.headerField(line) else {
        throw Rejection(status: 400, message: "malformed header line")
      }
      if let existing = head.headers[name] {
        guard name != "content-length" || existing == value else {
          throw Rejection(status: 400, message: "conflicting Content-Length headers")
        }
        head.headers[name] = name == "content-length" ? value : existing + ", " + value
      } else {
        head.headers[name] = value
      }
    }
    return head
  }

  /// The body length the head announces, checked against `maxBodyBytes`.
  static func bodyLength(of head: Head, maxBodyBytes: Int = defaultMaxBodyBytes) throws -> Int {
    if head.headers["transfer-encoding"] != nil {
      throw Rejection(status: 501, message: "Transfer-Encoding request bodies are not supported")
    }
    guard let text = head.headers["content-length"] else { return 0 }
    guard !text.isEmpty, text.utf8.allSatisfy({ (48...57).contains($0) }) else {
      throw Rejection(status: 400, message: "invalid Content-Length '\(text)'")
    }
    guard text.count <= 10, let length = Int(text), length <= maxBodyBytes else {
      throw Rejection(status: 413, message: "request body larger than \(maxBodyBytes) bytes")
    }
    return length
  }

  static func parseRequestLine(_ line: [UInt8]) throws -> Head {
    let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
    guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(HTTPSyntax.isTokenByte) else {
      throw Rejection(status: 400, message: "malformed request line")
    }
    let version = String(decoding: parts[2], as: UTF8.self)
    guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
      throw Rejection(
        status: version.hasPrefix("HTTP/") ? 505 : 400, message: "unsupported version '\(version)'")
    }
    let target = parts[1]
    guard target.first == UInt8(ascii: "/") else {
      throw Rejection(status: 400, message: "request target must be a path")
    }
    let pathEnd = target.firstIndex(of: UInt8(ascii: "?")) ?? target.endIndex
    guard let path = percentDecode(target[..<pathEnd], plusIsSpace: false) else {
      throw Rejection(status: 400, message: "malformed percent-encoding in path")
    }
    var query: [String: String] = [:]
    if pathEnd < target.endIndex {
      for item in target[(pathEnd + 1)...].split(separator: UInt8(ascii: "&")) {
        let equals = item.firstIndex(of: UInt8(ascii: "=")) ?? item.endIndex
        guard let name = percentDecode(item[..<equals], plusIsSpace: true),
          let value = percentDecode(item[min(equals + 1, item.endIndex)...], plusIsSpace: true)
        else { throw Rejection(status: 400, message: "malformed percent-encoding in query") }
        query[name] = value
      }
    }
    return Head(
      method: String(decoding: parts[0], as: UTF8.self), path: path, query: query, version: version,
      headers: [:])
  }

  /// `%XX`-decoded UTF-8 text, or nil if an escape or the UTF-8 is malformed.
  static func percentDecode(_ bytes: ArraySlice<UInt8>, plusIsSpace: Bool) -> String? {
    var decoded: [UInt8] = []
    var index = bytes.startIndex
    while index < bytes.endIndex {
      switch bytes[index] {
      case UInt8(ascii: "%"):
        guard index + 2 < bytes.endIndex, let high = hexValue(bytes[index + 1]),
          let low = hexValue(bytes[index + 2])
        else { return nil }
        decoded.append(high << 4 | low)
        index += 3
      case UInt8(ascii: "+") where plusIsSpace:
        decoded.append(UInt8(ascii: " "))
        index += 1
      case let byte:
        decoded.append(byte)
        index += 1
      }
    }
    return String(validating: decoded, as: UTF8.self)
  }

  private static func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 48...57: byte - 48
    case 65...70: byte - 55
    case 97...102: byte - 87
    default: nil
    }
  }
}
