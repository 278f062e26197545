import Yams

/// A YAML node with the field path and source it came from, so that every error names both.
struct ConfigNode {
  let node: Node
  let field: String
  let source: String

  /// Composes `yaml`; nil for an empty document. Syntax errors carry Yams's line and column.
  static func root(yaml: String, source: String) throws(ConfigError) -> ConfigNode? {
    do {
      return try Yams.compose(yaml: yaml).map { ConfigNode(node: $0, field: "", source: source) }
    } catch let error as YamlError {
      throw syntaxError(error, source: source)
    } catch {
      throw ConfigError(source: source, field: "", reason: "malformed YAML: \(error)")
    }
  }

  /// An error about this node, quoting its text when it is a scalar and `quoting` holds.
  func error(_ reason: String, quoting: Bool = true) -> ConfigError {
    ConfigError(source: source, field: field, value: quoting ? scalarText : nil, reason: reason)
  }

  /// A plain `~`, `null` or empty value.
  var isNull: Bool {
    guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
    return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
  }

  /// A mapping's entries by key, rejecting keys outside `known` and repeats; null reads as empty.
  func mapping(keys known: [String]) throws(ConfigError) -> [String: ConfigNode] {
    if isNull { return [:] }
    guard case .mapping(let mapping) = node else { throw error("must be a mapping\(kindSuffix)") }
    var entries: [String: ConfigNode] = [:]
    for (key, value) in mapping {
      guard case .scalar(let name) = key else { throw error("has a key that is not a name") }
      let entry = ConfigNode(node: value, field: child(name.string), source: source)
      guard known.contains(name.string) else {
        throw ConfigError(
          source: source, field: entry.field,
          reason: "is not a known key (expected one of: \(known.joined(separator: ", ")))")
      }
      guard entries[name.string] == nil else {
        throw entry.error("is set more than once", quoting: false)
      }
      entries[name.string] = entry
    }
    return entries
  }

  /// The items of a sequence, each named `field[index]`; null reads as empty.
  func sequence() throws(ConfigError) -> [ConfigNode] {
    if isNull { return [] }
    guard case .sequence(let items) = node else { throw error("must be a list\(kindSuffix)") }
    return items.enumerated().map { ConfigNode(node: $1, field: "\(field)[\($0)]", source: source) }
  }

  /// The text of a non-null scalar.
  func string() throws(ConfigError) -> String {
    guard !isNull else { throw error("needs a value", quoting: false) }
    guard let scalarText else { throw error("must be a single value\(kindSuffix)") }
    return scalarText
  }

  /// The text of a scalar converted by `convert`; `reason` follows the value when conversion fails.
  func parsed<T>(_ convert: (String) -> T?, else reason: String) throws(ConfigError) -> T {
    let text = try string()
    guard let value = convert(text) else { throw error(reason) }
    return value
  }

  /// A decimal integer.
  func integer() throws(ConfigError) -> Int {
    try parsed({ Int($0) }, else: "is not an integer")
  }

  private var scalarText: String? {
    guard case .scalar(let scalar) = node else { return nil }
    return scalar.string
  }

  private var kindSuffix: String {
    switch node {
    case .scalar: ""
    case .mapping: ", not a mapping"
    case .sequence: ", not a list"
    }
  }

  private func child(_ key: String) -> String { field.isEmpty ? key : "\(field).\(key)" }

  private static func syntaxError(_ error: YamlError, source: String) -> ConfigError {
    switch error {
    case .scanner(let context, let problem, let mark, _),
      .parser(let context, let problem, let mark, _),
      .composer(let context, let problem, let mark, _):
      let detail = context.map { "\(problem) (\($0.text))" } ?? problem
      return ConfigError(
        source: source, field: "", reason: "malformed YAML: \(detail)", line: mark.line,
        column: mark.column)
    default:
      return ConfigError(source: source, field: "", reason: "malformed YAML: \(error)")
    }
  }
}
