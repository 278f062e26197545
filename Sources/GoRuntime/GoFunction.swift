/// A Go function from the pclntab: its name and the addresses `entry..<end`.
public struct GoFunction: Sendable, Hashable, Codable {
  public var name: String
  public var entry: UInt64
  public var end: UInt64
}

/// Where a PC is in the source: the innermost position, so inlined calls show the inlined body's
/// file and line while `function` is the function whose code contains the PC.
public struct GoSourceLocation: Sendable, Hashable, Codable {
  public var function: GoFunction
  public var file: String
  public var line: Int
}
