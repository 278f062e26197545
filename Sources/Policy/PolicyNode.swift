import Yams

/// A YAML node with the field path it came from, so that every error names it.
struct PolicyNode {
  let node: YAMLNode
  private let path: FieldPath

  /// The documents of `yaml` in order, nil for empty ones; syntax errors carry line and column.
  static func documents(yaml: String, source: String) throws(PolicyError) -> [PolicyNode?] {
    let roots: [YAMLNode]
    do {
      roots = try YAMLNode.documents(yaml: yaml)
    } catch let error as YamlError {
      throw syntaxError(error, source: source)
    } catch {
      throw PolicyError(source: source, reason: "malformed YAML: \(error)")
    }
    return roots.map { $0.isNull ? nil : PolicyNode(node: $0, path: .root) }
  }

  fileprivate init(node: YAMLNode, path: FieldPath) {
    self.node = node
    self.path = path
  }

  /// The dotted path of this node, such as `spec.ingress[0].from`; empty for a document.
  var field: String { path.description }

  /// An error about this node, quoting its text when it is a scalar and `showingValue` holds.
  func error(_ reason: String, showingValue: Bool = true) -> PolicyError {
    PolicyError(field: field, value: showingValue ? text : nil, reason: reason)
  }

  /// A plain `~`, `null` or empty value.
  var isNull: Bool { node.isNull }

  /// A mapping's entries, rejecting keys outside `known` and repeats; null reads as empty.
  func mapping(keys known: [String]) throws(PolicyError) -> PolicyFields {
    if isNull { return PolicyFields(path: path, pairs: []) }
    guard case .mapping(let pairs) = node.content else {
      throw error("must be a mapping\(kindSuffix)")
    }
    for (index, pair) in pairs.enumerated() {
      guard let name = pair.key.text else { throw error("has a key that is not a name") }
      guard known.contains(name) else {
        throw PolicyError(
          field: FieldPath.key(path, name).description,
          reason: "is not a known key (expected one of: \(known.joined(separator: ", ")))")
      }
      guard !pairs[..<index].contains(where: { $0.key.text == name }) else {
        throw PolicyNode(node: pair.value, path: .key(path, name))
          .error("is set more than once", showingValue: false)
      }
    }
    return PolicyFields(path: path, pairs: pairs)
  }

  /// The items of a sequence, each named `field[index]`; null reads as empty.
  func sequence() throws(PolicyError) -> [PolicyNode] {
    if isNull { return [] }
    guard case .sequence(let items) = node.content else {
      throw error("must be a list\(kindSuffix)")
    }
    return items.enumerated().map { PolicyNode(node: $1, path: .index(path, $0)) }
  }

  /// The text of a non-null scalar.
  func string() throws(PolicyError) -> String {
    guard !isNull else { throw error("needs a value", showingValue: false) }
    guard let text else { throw error("must be a single value\(kindSuffix)") }
    return text
  }

  /// The text of a scalar converted by `convert`; `reason` follows the value when it fails.
  func parsed<T>(_ convert: (String) -> T?, else reason: String) throws(PolicyError) -> T {
    let text = try string()
    guard let value = convert(text) else { throw error(reason) }
    return value
  }

  /// The text at `path` under this node when every step is a mapping and the end a scalar,
  /// for naming a document before it is validated.
  func peek(_ path: String...) -> String? {
    var current = node
    for key in path {
      guard let next = current[key] else { return nil }
      current = next
    }
    return current.text
  }

  /// The text of a scalar node.
  var text: String? { node.text }

  private var kindSuffix: String {
    switch node.content {
    case .scalar: ""
    case .mapping: ", not a mapping"
    case .sequence: ", not a list"
    }
  }

  private static func syntaxError(_ error: YamlError, source: String) -> PolicyError {
    switch error {
    case .scanner(let context, let problem, let mark, _),
      .parser(let context, let problem, let mark, _),
      .composer(let context, let problem, let mark, _):
      let detail = context.map { "\(problem) (\($0.text))" } ?? problem
      return PolicyError(
        source: source, reason: "malformed YAML: \(detail)", line: mark.line, column: mark.column)
    default:
      return PolicyError(source: source, reason: "malformed YAML: \(error)")
    }
  }
}

/// Where a node sits in its document; spelled out only for an error.
private indirect enum FieldPath: CustomStringConvertible {
  case root
  case key(FieldPath, String)
  case index(FieldPath, Int)

  var description: String {
    switch self {
    case .root: ""
    case .key(.root, let key): key
    case .key(let parent, let key): "\(parent).\(key)"
    case .index(let parent, let index): "\(parent)[\(index)]"
    }
  }
}

/// A mapping's entries, read by key; a missing required key is an error naming its path.
struct PolicyFields {
  fileprivate let path: FieldPath
  fileprivate let pairs: [YAMLNode.Pair]

  /// The entry under `key` when present, even if null.
  func entry(_ key: String) -> PolicyNode? {
    pairs.first { $0.key.text == key }.map { PolicyNode(node: $0.value, path: .key(path, key)) }
  }

  /// The entry under `key`, if present and not null.
  subscript(key: String) -> PolicyNode? {
    entry(key).flatMap { $0.isNull ? nil : $0 }
  }

  /// The entry under `key`; `hint` follows "is required" when it is missing.
  func required(_ key: String, hint: String = "") throws(PolicyError) -> PolicyNode {
    guard let entry = self[key] else {
      throw PolicyError(
        field: FieldPath.key(path, key).description,
        reason: "is required" + (hint.isEmpty ? "" : " (\(hint))"))
    }
    return entry
  }
}
