/// Why a Go binary could not be read. Hostile or corrupt input always ends here, never in a trap.
public enum GoRuntimeError: Error, Equatable, CustomStringConvertible {
  case io(path: String, operation: String, errno: Int32)
  case notELF(path: String)
  case unsupported(path: String, reason: String)
  case malformed(path: String, reason: String)
  /// The file is an ELF binary without Go build information or pclntab.
  case notGo(path: String)
  /// A symbol the caller asked for, and why it could not be found.
  case symbolNotFound(name: String, reason: String)
  /// Neither DWARF nor the generated table gives struct offsets for this binary.
  case offsetsUnavailable(path: String, reason: String)

  public var description: String {
    switch self {
    case .io(let path, let operation, let errno): "\(path): \(operation) failed (errno \(errno))"
    case .notELF(let path): "\(path): not an ELF file"
    case .unsupported(let path, let reason): "\(path): unsupported: \(reason)"
    case .malformed(let path, let reason): "\(path): malformed: \(reason)"
    case .notGo(let path): "\(path): not a Go binary"
    case .symbolNotFound(let name, let reason): "\(name) not found: \(reason)"
    case .offsetsUnavailable(let path, let reason): "\(path): no struct offsets: \(reason)"
    }
  }
}
