import Foundation

/// One symbolized stack frame.
public struct Frame: Sendable, Equatable {
  /// The runtime address that was symbolized.
  public var address: UInt64
  /// The symbol containing the address, raw (not demangled); nil when unknown.
  public var function: String?
  /// Offset from the start of `function`; without a function, the address within `module` (ELF
  /// virtual address if the file was read, file offset otherwise), or the raw address.
  public var offset: UInt64
  /// Path of the mapped file (as in /proc/PID/maps), or nil when the address is in no mapping.
  public var module: String?

  public init(address: UInt64, function: String?, offset: UInt64, module: String?) {
    self.address = address
    self.function = function
    self.offset = offset
    self.module = module
  }
}

extension Frame: CustomStringConvertible {
  /// `func+0x12 (module)`, `module+0x1139` or `0x7f12…` depending on what is known.
  public var description: String {
    let offset = "0x" + String(self.offset, radix: 16)
    switch (function, module) {
    case (let function?, let module?): return "\(function)+\(offset) (\(module))"
    case (let function?, nil): return "\(function)+\(offset)"
    case (nil, let module?): return "\(module)+\(offset)"
    case (nil, nil): return "0x" + String(address, radix: 16)
    }
  }
}

/// Why a file could not be read as a symbol source.
public enum SymbolizationError: Error, Equatable, CustomStringConvertible {
  /// A system call failed.
  case io(path: String, operation: String, errno: Int32)
  /// The file does not start with the ELF magic.
  case notELF(path: String)
  /// A valid ELF this parser does not handle (32-bit, big-endian).
  case unsupported(path: String, reason: String)
  /// A truncated, corrupt or hostile ELF.
  case malformed(path: String, reason: String)
  /// The path now names a different file than the one mapped.
  case inodeMismatch(path: String, expected: UInt64, found: UInt64)

  public var description: String {
    switch self {
    case .io(let path, let operation, let code):
      return "\(path): \(operation) failed: \(String(cString: strerror(code)))"
    case .notELF(let path): return "\(path): not an ELF file"
    case .unsupported(let path, let reason): return "\(path): unsupported ELF: \(reason)"
    case .malformed(let path, let reason): return "\(path): malformed ELF: \(reason)"
    case .inodeMismatch(let path, let expected, let found):
      return "\(path): inode \(found), expected \(expected)"
    }
  }
}
