/// The address of a Go symbol and how it was found.
public struct GoSymbol: Sendable, Hashable {
  public enum Source: String, Sendable, Hashable {
    /// The ELF symbol table (not stripped).
    case symtab
    /// A function's entry in `.gopclntab`.
    case pclntab
    /// A stripped binary's data, matched against the variable's known contents.
    case dataPattern
    /// A stripped binary's code: the instructions of a runtime function that use the variable.
    case codePattern
  }

  public var name: String
  public var address: UInt64
  public var size: UInt64
  public var source: Source
}
