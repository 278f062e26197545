/// The body of every 4xx/5xx response: a human message and, where one is at fault, the field.
public struct ErrorResponse: Codable, Sendable, Equatable, Error, CustomStringConvertible {
  /// What went wrong, naming the bad field or value.
  public var error: String
  /// The request field at fault, if any.
  public var field: String?

  /// An error with a message and, optionally, the field at fault.
  public init(_ error: String, field: String? = nil) {
    self.error = error
    self.field = field
  }

  /// The message.
  public var description: String { error }
}
