/// A configuration problem, naming the file, the field and the offending value.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
  /// Where the configuration came from: a file name, `flags`, or `embedded default`.
  public var source: String
  /// Dotted path of the field, such as `blocking.offcpuThreshold` or `targets[2].pid`; empty for
  /// the whole document.
  public var field: String
  /// The offending value as written, when there is one.
  public var value: String?
  /// What is wrong, phrased to follow the value.
  public var reason: String
  /// Line of a YAML syntax error, counted from 1.
  public var line: Int?
  /// Column of a YAML syntax error, counted from 1.
  public var column: Int?

  /// Creates an error; `line` and `column` locate YAML syntax errors.
  public init(
    source: String, field: String, value: String? = nil, reason: String, line: Int? = nil,
    column: Int? = nil
  ) {
    self.source = source
    self.field = field
    self.value = value
    self.reason = reason
    self.line = line
    self.column = column
  }

  /// For example `vigild.yaml: blocking.offcpuThreshold: "10 parsecs" is not a duration (use 10ms,
  /// 1s, 500us)`.
  public var description: String {
    var text = source
    if let line { text += ":\(line)" + (column.map { ":\($0)" } ?? "") }
    if !field.isEmpty { text += ": \(field)" }
    if let value { return text + ": \"\(value)\" \(reason)" }
    return text + ": \(reason)"
  }

  /// This error reported from `source`, with its field nested under `parent`.
  func relocated(source: String, under parent: String) -> ConfigError {
    var error = self
    error.source = source
    error.field = field.isEmpty ? parent : "\(parent).\(field)"
    return error
  }
}
