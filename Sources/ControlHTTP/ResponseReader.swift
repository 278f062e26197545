/// Reads an HTTP/1.x response: the head first, then the body piece by piece, de-chunked.
struct ResponseReader {
  /// A response that does not follow HTTP/1.1.
  struct Malformed: Error, Equatable {
    var reason: String
  }

  private enum Framing {
    case chunked
    case length(remaining: Int)
    case untilClose
    case done
  }

  private static let maxLineBytes = 16 * 1024
  private static let maxChunkBytes = 16 * 1024 * 1024

  /// The status code of the final (non-1xx) response.
  let status: Int
  private var reader: ByteReader
  private var framing: Framing

  /// Reads the head, skipping interim 1xx responses.
  init(_ reader: ByteReader) throws {
    self.reader = reader
    var status = 100
    var headers: [String: String] = [:]
    while (100..<200).contains(status) {
      guard let statusLine = try self.reader.readLine(maxLength: Self.maxLineBytes) else {
        throw Malformed(reason: "connection closed before a response")
      }
      status = try Self.parseStatusLine(statusLine)
      headers = [:]
      while let line = try self.reader.readLine(maxLength: Self.maxLineBytes), !line.isEmpty {
        guard let (name, value) = HTTPSyntax.headerField(line) else {
          throw Malformed(reason: "malformed header line")
        }
        headers[name] = value
      }
    }
    self.status = status
    if status == 204 || status == 304 {
      framing = .done
    } else if headers["transfer-encoding"]?.lowercased().hasSuffix("chunked") == true {
      framing = .chunked
    } else if let text = headers["content-length"] {
      guard let length = Int(text), length >= 0 else {
        throw Malformed(reason: "invalid Content-Length '\(text)'")
      }
      framing = .length(remaining: length)
    } else {
      framing = .untilClose
    }
  }

  /// The next piece of the body, or nil at its end.
  mutating func nextPiece() throws -> [UInt8]? {
    switch framing {
    case .done:
      return nil
    case .untilClose:
      let piece = try reader.readSome()
      if piece.isEmpty { framing = .done }
      return piece.isEmpty ? nil : piece
    case .length(let remaining):
      guard remaining > 0 else {
        framing = .done
        return nil
      }
      let piece = try reader.readSome(maxCount: remaining)
      guard !piece.isEmpty else { throw ByteReader.Failure.endOfStream }
      framing = .length(remaining: remaining - piece.count)
      return piece
    case .chunked:
      return try nextChunk()
    }
  }

  private mutating func nextChunk() throws -> [UInt8]? {
    guard let sizeLine = try reader.readLine(maxLength: Self.maxLineBytes) else {
      throw ByteReader.Failure.endOfStream
    }
    let sizeText = String(decoding: sizeLine.prefix { $0 != UInt8(ascii: ";") }, as: UTF8.self)
    guard let size = Int(sizeText.trimmingSpaces, radix: 16), size >= 0, size <= Self.maxChunkBytes
    else {
      throw Malformed(reason: "invalid chunk size '\(sizeText)'")
    }
    guard size > 0 else {
      while let trailer = try reader.readLine(maxLength: Self.maxLineBytes), !trailer.isEmpty {}
      framing = .done
      return nil
    }
    let data = try reader.read(count: size)
    guard try reader.readLine(maxLength: 0) != nil else { throw ByteReader.Failure.endOfStream }
    return data
  }

  private static func parseStatusLine(_ line: [UInt8]) throws -> Int {
    let parts = line.split(
      separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: false)
    guard parts.count >= 2, parts[0].starts(with: Array("HTTP/1.".utf8)), parts[1].count == 3,
      let status = Int(String(decoding: parts[1], as: UTF8.self))
    else { throw Malformed(reason: "malformed status line") }
    return status
  }
}

extension String {
  fileprivate var trimmingSpaces: String {
    String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
  }
}
