import Glibc
import Synchronization

/// Writes the body of a streamed response; each write goes out at once as one chunk.
public final class ChunkWriter: Sendable {
  /// `POLLRDHUP` from `<poll.h>`, which Glibc's Swift module hides behind `_GNU_SOURCE`.
  private static let pollReadHangUp: Int16 = 0x2000

  private let fd: Int32
  private let chunked: Bool
  private let isOpen = Mutex(true)

  /// Writes to `fd`, which the connection owns, framing with chunked encoding if `chunked`.
  init(socket fd: Int32, chunked: Bool) {
    self.fd = fd
    self.chunked = chunked
  }

  /// Sends `bytes`; false once the client has gone or the server is stopping, after which the
  /// producer should return.
  public func write(_ bytes: [UInt8]) -> Bool {
    isOpen.withLock { isOpen in
      guard isOpen, !bytes.isEmpty else { return isOpen }
      let crlf: [UInt8] = [13, 10]
      let framed =
        chunked ? Array(String(bytes.count, radix: 16).utf8) + crlf + bytes + crlf : bytes
      do {
        try UnixSocket.send(fd, framed)
      } catch {
        isOpen = false
      }
      return isOpen
    }
  }

  /// Sends the UTF-8 of `text`, as ``write(_:)`` does for bytes.
  public func write(_ text: String) -> Bool {
    write(Array(text.utf8))
  }

  /// Whether the client is still there, checked without writing: a producer that waits for data
  /// should look now and then, so it notices a client that left while nothing was sent.
  public var isConnected: Bool {
    isOpen.withLock { isOpen in
      var entry = pollfd(fd: fd, events: Self.pollReadHangUp, revents: 0)
      return isOpen && poll(&entry, 1, 0) <= 0
    }
  }

  /// Ends the body and refuses further writes.
  func finish() {
    isOpen.withLock { isOpen in
      if isOpen, chunked { try? UnixSocket.send(fd, Array("0\r\n\r\n".utf8)) }
      isOpen = false
    }
  }
}
