import Yams

/// A YAML node with the field path it came from, so that every error names it.
struct PolicyNode {
  let node: Node
  let field: String

  /// The documents of `yaml` in order, nil for empty ones; syntax errors carry line and column.
  static func documents(yaml: String, source: String) throws(PolicyError) -> [PolicyNode?] {
    do {
      // No tag resolution: fields are read as text, and resolving every scalar by regex
      // dominated parsing (10k rules: ~0.5 s).
      let parser = try Parser(yaml: yaml, resolver: .basic)
      var documents: [PolicyNode?] = []
      while let root = try parser.nextRoot() {
        let document = PolicyNode(node: root, field: "")
        documents.append(document.isNull ? nil : document)
      }
      return documents
    } catch let error as YamlError {
      throw syntaxError(error, source: source)
    } catch {
      throw PolicyError(source: source, reason: "malformed YAML: \(error)")
    }
  }

  /// An error about this node, quoting its text when it is a scalar and `showingValue` holds.
  func error(_ reason: String, showingValue: Bool = true) -> PolicyError {
    PolicyError(field: field, value: showingValue ? text : nil, reason: reason)
  }

  /// A plain `~`, `null` or empty value.
  var isNull: Bool {
    guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
    return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
  }

  /// A mapping's entries by key, rejecting keys outside `known` and repeats; null reads as empty.
  func mapping(keys known: [String]) throws(PolicyError) -> PolicyFields {
    if isNull { return PolicyFields(field: field, entries: [:]) }
    guard case .mapping(let mapping) = node else { throw error("must be a mapping\(kindSuffix)") }
    var entries: [String: PolicyNode] = [:]
    for (key, value) in mapping {
      guard case .scalar(let name) = key else { throw error("has a key that is not a name") }
      let entry = PolicyNode(node: value, field: child(name.string))
      guard known.contains(name.string) else {
        throw PolicyError(
          field: entry.field,
          reason: "is not a known key (expected one of: \(known.joined(separator: ", ")))")
      }
      guard entries[name.string] == nil else {
        throw entry.error("is set more than once", showingValue: false)
      }
      entries[name.string] = entry
    }
    return PolicyFields(field: field, entries: entries)
  }

  /// The items of a sequence, each named `field[index]`; null reads as empty.
  func sequence() throws(PolicyError) -> [PolicyNode] {
    if isNull { return [] }
    guard case .sequence(let items) = node else { throw error("must be a list\(kindSuffix)") }
    return items.enumerated().map { PolicyNode(node: $1, field: "\(field)[\($0)]") }
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
    return current.scalar?.string
  }

  /// The path of the field `key` under this one.
  func child(_ key: String) -> String { field.isEmpty ? key : "\(field).\(key)" }

  /// The text of a scalar node.
  var text: String? {
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

/// A mapping's entries, read by key; a missing required key is an error naming its path.
struct PolicyFields {
  let field: String
  let entries: [String: PolicyNode]

  /// The entry under `key`, if present and not null.
  subscript(key: String) -> PolicyNode? {
    entries[key].flatMap { $0.isNull ? nil : $0 }
  }

  /// The entry under `key`; `hint` follows "is required" when it is missing.
  func required(_ key: String, hint: String = "") throws(PolicyError) -> PolicyNode {
    guard let entry = self[key] else {
      let path = field.isEmpty ? key : "\(field).\(key)"
      throw PolicyError(field: path, reason: "is required" + (hint.isEmpty ? "" : " (\(hint))"))
    }
    return entry
  }
}
