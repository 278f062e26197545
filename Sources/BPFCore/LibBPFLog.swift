internal import CLibBPF
import Foundation
import Logging
import Synchronization

/// Routes libbpf's messages to a `Logger`, and lets a load capture the messages
/// it caused (the verifier log among them) for its error.
public enum LibBPFLog {
  private struct State {
    var logger: Logger?
    var capture: [String]?
  }
  private static let state = Mutex(State())
  private static let loadLock = NSLock()

  /// Sends libbpf's warnings to `logger` at `.warning`, its info and debug lines at `.debug`.
  public static func route(to logger: Logger) {
    state.withLock { $0.logger = logger }
    vigil_libbpf_set_sink(sink)
  }

  /// Runs `body` (a load) while collecting libbpf's messages; one load at a time.
  static func capturing<T>(_ body: () throws -> T) -> (Result<T, any Error>, String) {
    loadLock.lock()
    defer { loadLock.unlock() }
    state.withLock { $0.capture = [] }
    vigil_libbpf_set_sink(sink)
    let result = Result { try body() }
    let lines = state.withLock { state in
      defer { state.capture = nil }
      return state.capture ?? []
    }
    return (result, lines.joined())
  }

  private static let sink: vigil_libbpf_sink = { level, message in
    guard let message else { return }
    let text = String(cString: message)
    let logger = state.withLock { state -> Logger? in
      if state.capture != nil && level <= Int32(LIBBPF_INFO.rawValue) {
        state.capture?.append(text)
      }
      return state.logger
    }
    guard let logger else { return }
    let line = text.hasSuffix("\n") ? String(text.dropLast()) : text
    if level == Int32(LIBBPF_WARN.rawValue) {
      logger.warning("\(line)", metadata: ["source": "libbpf"])
    } else {
      logger.debug("\(line)", metadata: ["source": "libbpf"])
    }
  }
}
